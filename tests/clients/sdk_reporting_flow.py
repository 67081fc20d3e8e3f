"""Every SDK reporting flow of the events-and-artifacts stage, then a read-back in a fresh process.

Usage:
  python sdk_reporting_flow.py report <project>   -> prints {"task_id", "model_id", "dataset_id", ...}
  python sdk_reporting_flow.py read <task_id> <model_id> <dataset_id>   -> prints what the SDK reads back

CLEARML_API_HOST, CLEARML_FILES_HOST and the keys come from the environment.
"""
import faulthandler
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ITERATIONS = 1000
SERIES = ("train", "validation", "test")


def scalar_value(series_index: int, iteration: int) -> float:
    return round(1.0 / (iteration + 1) + series_index, 6)


def image_array():
    import numpy as np

    ramp = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    return np.stack([ramp, ramp.T, np.full((8, 8), 200, dtype=np.uint8)], axis=-1)


def report(project: str) -> dict:
    from clearml import Dataset, OutputModel, Task

    task = Task.init(project_name=project, task_name="reporting", output_uri=True, reuse_last_task_id=False,
                     auto_connect_frameworks=False, auto_resource_monitoring=False)
    logger = task.get_logger()
    for iteration in range(ITERATIONS):
        for index, series in enumerate(SERIES):
            logger.report_scalar("loss", series, scalar_value(index, iteration), iteration)
    logger.report_scalar("accuracy", "top1", 0.5, 0)
    logger.report_scalar("accuracy", "top1", 0.75, 1)
    logger.report_text("a line of text from report_text")
    print("a line printed to the console")
    logger.report_histogram("histogram", "counts", values=[3, 1, 4, 1, 5], iteration=0, xlabels=list("abcde"))
    logger.report_table("table", "rows", iteration=0, table_plot=[["name", "score"], ["a", 1], ["b", 2]])
    logger.report_plotly("plotly", "line", iteration=0,
                         figure={"data": [{"type": "scatter", "x": [1, 2, 3], "y": [4, 5, 6]}], "layout": {}})
    logger.report_image("image", "array", iteration=7, image=image_array())

    work = Path(tempfile.mkdtemp())
    task.upload_artifact("dict_art", artifact_object={"alpha": 1, "beta": [1, 2, 3]})
    blob = work / "blob.bin"
    blob.write_bytes(hashlib.sha256(b"trackside").digest() * 1000)
    task.upload_artifact("file_art", artifact_object=blob)

    weights = work / "weights.bin"
    weights.write_bytes(b"weights " * 4096)
    weights_sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()  # the SDK deletes it after the upload
    output_model = OutputModel(task=task, name="reporting model", framework="custom")
    output_model.update_weights(weights_filename=str(weights))

    data = work / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("file a\n")
    (data / "sub" / "b.txt").write_text("file b\n")
    dataset = Dataset.create(dataset_name="reporting-ds", dataset_project=project)
    dataset.add_files(str(data))
    dataset.upload()
    dataset.finalize()

    task.flush(wait_for_uploads=True)
    task_id = task.id
    task.close()
    return {
        "task_id": task_id,
        "model_id": output_model.id,
        "dataset_id": dataset.id,
        "blob_sha256": hashlib.sha256(blob.read_bytes()).hexdigest(),
        "weights_sha256": weights_sha256,
    }


def read(task_id: str, model_id: str, dataset_id: str) -> dict:
    from clearml import Dataset, InputModel, Task

    task = Task.get_task(task_id=task_id)
    scalars = task.get_reported_scalars()
    plots = task.get_reported_plots(max_iterations=10)
    samples = task.get_debug_samples("image", "array")
    file_art = task.artifacts["file_art"].get_local_copy()
    model_copy = InputModel(model_id=model_id).get_local_copy()
    dataset_copy = Path(Dataset.get(dataset_id=dataset_id).get_local_copy())
    return {
        "scalars": scalars,
        "last_scalars": task.get_last_scalar_metrics(),
        "console": task.get_reported_console_output(number_of_reports=100),
        "plots": [{"metric": p["metric"], "variant": p["variant"], "iter": p.get("iter"),
                   "plot": json.loads(p["plot_str"])} for p in plots],
        "debug_samples": [{"iter": s.get("iter"), "url": s.get("url")} for s in samples],
        "dict_art": task.artifacts["dict_art"].get(),
        "file_art_sha256": hashlib.sha256(Path(file_art).read_bytes()).hexdigest(),
        "model_sha256": hashlib.sha256(Path(model_copy).read_bytes()).hexdigest(),
        "model_uri": task.models["output"][-1].url if task.models["output"] else None,
        "dataset_files": sorted(str(p.relative_to(dataset_copy)) for p in dataset_copy.rglob("*") if p.is_file()),
        "dataset_b": (dataset_copy / "sub" / "b.txt").read_text(),
    }


if __name__ == "__main__":
    faulthandler.dump_traceback_later(240, exit=True)  # a hang shows where, before the test's timeout
    command, *args = sys.argv[1:]
    result = report(*args) if command == "report" else read(*args)
    print(json.dumps(result, default=str))
