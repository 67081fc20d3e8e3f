"""Scalars, log lines and plots reported at a steady pace, for the fault tests (tests/stress/test_faults_*.py):
the server's workers are killed while this runs, so every kind of report is sent many times over.

Usage: python sdk_fault_reporter.py <project> <name> <iterations> <pause>   -> prints {"task_id"}

``pause``: seconds between flushes (one add_batch each). The HTTP retries the SDK makes (urllib3's) are logged
to stderr, for the test to count.

What it reports is a function of the iteration only, so the test knows exactly what must be stored:
SERIES scalars and one log line ("line <i>") per iteration, a plot every PLOT_EVERY iterations.
"""
import json
import logging
import sys
import time

SERIES = ("train", "validation", "test")
PLOT_EVERY = 25
FLUSH_EVERY = 10  # iterations: one add_batch request every few tenths of a second


def main(project: str, name: str, iterations: int, pause: float) -> dict:
    from clearml import Task


    # No stream capture: the console's own lines would make the log's length depend on timing.
    task = Task.init(project_name=project, task_name=name, reuse_last_task_id=False, auto_connect_frameworks=False,
                     auto_resource_monitoring=False, auto_connect_streams=False)
    # urllib3 logs each retry the SDK's HTTP session makes ("Retrying (Retry(total=...)) after connection
    # broken by ..."); the SDK filters out a request's first five (clearml.backend_api.utils), so the filter
    # goes, after Task.init has set it up.
    retries = logging.getLogger("urllib3.connectionpool")
    for retry_filter in list(retries.filters):
        retries.removeFilter(retry_filter)
    retries.addHandler(logging.StreamHandler(sys.stderr))
    retries.setLevel(logging.WARNING)
    logger = task.get_logger()
    for iteration in range(iterations):
        for index, series in enumerate(SERIES):
            logger.report_scalar("loss", series, round(index + 1.0 / (iteration + 1), 6), iteration)
        logger.report_text(f"line {iteration}", print_console=False)
        if iteration % PLOT_EVERY == 0:
            logger.report_scatter2d("scatter", "points", scatter=[[x, x * iteration] for x in range(5)],
                                    iteration=iteration)
        if iteration % FLUSH_EVERY == FLUSH_EVERY - 1:
            logger.flush()
            time.sleep(pause)
    task.flush(wait_for_uploads=True)
    task_id = task.id
    task.close()
    return {"task_id": task_id}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))))
