"""The SDK side of the web app's end-to-end journey (tests/webapp/test_sdk_journey.py).

Usage:
  python sdk_webapp_journey.py report <project> <marker> <name> [<name> ...]
      one task per name, one after the other: prints the marker line, reports the "journey loss" scalars, a
      scatter plot and a 48x24 debug image; last line {"tasks": [{"id", "name", "project"}]}
  python sdk_webapp_journey.py sleep <project> <name>
      a task that stays running: prints {"sleeping": "<task id>"} and sleeps until it is stopped or killed

CLEARML_API_HOST, CLEARML_WEB_HOST, CLEARML_FILES_HOST and the keys come from the environment. Task.init prints
the results-page link ("ClearML results page: <web host>/projects/<p>/tasks/<t>/output/log").
"""
import faulthandler
import json
import sys
import time

ITERATIONS = 60
IMAGE_SIZE = (24, 48)  # rows, columns: the image is 48 px wide


def image():
    import numpy as np

    rows, cols = IMAGE_SIZE
    ramp = (np.arange(rows * cols, dtype=np.uint32).reshape(rows, cols) * 5 % 256).astype(np.uint8)
    return np.stack([ramp, np.full((rows, cols), 120, dtype=np.uint8), ramp[::-1]], axis=-1)


def report(project: str, marker: str, name: str, index: int) -> dict:
    from clearml import Task

    task = Task.init(project_name=project, task_name=name, reuse_last_task_id=False,
                     auto_connect_frameworks=False, auto_resource_monitoring=False)
    task.connect({"learning_rate": 0.01 * (index + 1), "epochs": ITERATIONS})
    print(f"{marker} from {name}")
    logger = task.get_logger()
    for iteration in range(ITERATIONS):
        # A falling curve with a spike: smoothing visibly changes it, log scale spreads it.
        value = 10.0 / (iteration + 1) + (index + 1) * 0.1 + (5.0 if iteration == 30 else 0.0)
        logger.report_scalar("journey loss", "train", value, iteration)
    logger.report_scatter2d("journey scatter", "points", iteration=0, mode="lines+markers",
                            scatter=[[x, (x - 5) ** 2 + index] for x in range(11)],
                            xaxis="x", yaxis="y")
    logger.report_image("journey samples", "input", iteration=2, image=image())
    task.flush(wait_for_uploads=True)
    found = {"id": task.id, "name": name, "project": task.project}
    task.close()
    return found


def sleep(project: str, name: str) -> None:
    from clearml import Task

    task = Task.init(project_name=project, task_name=name, reuse_last_task_id=False,
                     auto_connect_frameworks=False, auto_resource_monitoring=False)
    print(json.dumps({"sleeping": task.id}), flush=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(1)


if __name__ == "__main__":
    command, project, *rest = sys.argv[1:]
    if command == "report":
        faulthandler.dump_traceback_later(240, exit=True)
        marker, *names = rest
        print(json.dumps({"tasks": [report(project, marker, name, i) for i, name in enumerate(names)]}))
    elif command == "sleep":
        sleep(project, rest[0])
    else:
        raise SystemExit(f"unknown command {command}")
