"""Tasks for the web app's browser tests, reported by the real SDK: console lines, hyperparameters, scalars,
a plotly plot, a debug image, a configuration object; the first task also an artifact and an output model.

Usage:
  python webapp_task_flow.py report <project> <name>:<learning_rate> [<name>:<learning_rate> ...]
      -> prints {"tasks": [{"id", "name", "project"}]}, one task per argument, reported one after the other

CLEARML_API_HOST, CLEARML_FILES_HOST and the keys come from the environment. The SDK prints each task's
results-page link ("ClearML results page: .../projects/<p>/tasks/<t>/output/log") on Task.init.
"""
import faulthandler
import json
import sys
import tempfile
from pathlib import Path

ITERATIONS = 200
CONSOLE_LINE = "webapp console line: hello from the SDK"


def image_array(seed: int):
    import numpy as np

    ramp = (np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) * (seed + 3) % 256).astype(np.uint8)
    return np.stack([ramp, ramp.T, np.full((32, 32), 90, dtype=np.uint8)], axis=-1)


def report_one(project: str, name: str, learning_rate: float, index: int) -> dict:
    from clearml import Task

    task = Task.init(project_name=project, task_name=name, reuse_last_task_id=False,
                     auto_connect_frameworks=False, auto_resource_monitoring=False)
    task.connect({"learning_rate": learning_rate, "batch_size": 32, "optimizer": "adam"})
    task.connect_configuration({"layers": [64, 32], "dropout": 0.1 * (index + 1)}, name="model config")
    logger = task.get_logger()
    print(f"{CONSOLE_LINE} ({name})")
    for iteration in range(ITERATIONS):
        logger.report_scalar("loss", "train", 1.0 / (iteration + 1) + learning_rate, iteration)
        if iteration % 10 == 0:
            logger.report_scalar("loss", "validation", 1.2 / (iteration + 1) + learning_rate, iteration)
    logger.report_scalar("accuracy", "top1", 0.5 + index / 10, ITERATIONS - 1)
    logger.report_single_value("best_accuracy", 0.9 - index / 100)
    logger.report_plotly("confusion", "matrix", iteration=0, figure={
        "data": [{"type": "heatmap", "z": [[5, 1], [2, 7 + index]], "x": ["cat", "dog"], "y": ["cat", "dog"]}],
        "layout": {"title": {"text": "confusion matrix"}}})
    logger.report_image("samples", "input", iteration=3, image=image_array(index))
    if index == 0:
        from clearml import OutputModel

        task.upload_artifact("summary", artifact_object={"epochs": ITERATIONS, "learning_rate": learning_rate})
        weights = Path(tempfile.mkdtemp()) / "weights.bin"
        weights.write_bytes(b"weights " * 512)
        OutputModel(task=task, name="webapp model", framework="custom").update_weights(weights_filename=str(weights))
    task.flush(wait_for_uploads=True)
    found = {"id": task.id, "name": name, "project": task.project}
    task.close()
    return found


if __name__ == "__main__":
    faulthandler.dump_traceback_later(240, exit=True)
    command, project, *specs = sys.argv[1:]
    assert command == "report"
    tasks = []
    for index, spec in enumerate(specs):
        name, rate = spec.rsplit(":", 1)
        tasks.append(report_one(project, name, float(rate), index))
    print(json.dumps({"tasks": tasks}))
