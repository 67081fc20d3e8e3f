"""numpy-trainer: the example custom application's task (see ../README.md).

Fits a tiny numpy model (linear or polynomial regression by gradient descent) to a noisy sine and reports
what the app's dashboard shows: the "Loss" and "Learning rate" scalars, the "Fit" scatter plot, the
"Residuals" debug image, log lines, and the ``Status`` hyperparameters that the dashboard's html names.

Inputs come from the instance task, where the launch wizard wrote them: hyperparameter sections General,
Model, Data and Training (``task.connect``) and the ``lr_schedule`` configuration (JSON). Run by hand it uses
the defaults below. Resuming: when the task's user properties hold ``resume`` (true/1/yes), or a previous
run of this task was cut off while "running", training continues after the iteration and from the weights
that the previous run stored in ``Status``.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
from clearml import Task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # trainer.py sits beside this file
import trainer  # noqa: E402

task = Task.init(project_name="Apps/numpy-trainer", task_name="numpy-trainer")  # under the agent: the instance
logger = task.get_logger()

# Defaults for a run by hand; under the agent task.connect replaces them with the wizard's values.
general = {"run_name": "numpy run", "compare_project": "", "notes": ""}
model = {"kind": "polynomial", "degree": 3}
data = {"samples": 200, "noise": 0.1, "seed": 1}
training = {"iterations": 200, "learning_rate": 0.4, "sleep_seconds": 0.1, "early_stop": False,
            "report_every": 10}
task.connect(general, name="General")
task.connect(model, name="Model")
task.connect(data, name="Data")
task.connect(training, name="Training")


def read_schedule() -> list:
    """The wizard's list of learning-rate steps, stored as JSON in the ``lr_schedule`` configuration."""
    text = task.get_configuration_object("lr_schedule")
    try:
        schedule = json.loads(text) if text else []
    except ValueError:
        print(f"lr_schedule is not JSON, ignored: {text!r}")
        return []
    return schedule if isinstance(schedule, list) else []


def set_status(**values) -> None:
    """Write ``Status/<name>`` hyperparameters: the dashboard's html shows them. ``update_parameters`` keeps
    the others (``set_parameters`` would replace every section, the wizard's values included)."""
    task.update_parameters({f"Status/{name}": str(value) for name, value in values.items()})


def truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def wants_resume() -> bool:
    """The ``resume`` user property is set (user properties live in the "properties" section), or an earlier
    run of this same task stopped while "running" (a resumable instance whose container was restarted)."""
    if truthy(task.get_parameter("properties/resume")):
        return True
    return task.get_parameter("Status/state") == "running" and int(task.get_parameter("Status/iteration") or 0) > 0


def compare_with_project(project_name: str) -> str:
    """A line for the dashboard: the best validation loss among the chosen project's completed tasks."""
    if not project_name:
        return "no project chosen"
    try:
        tasks = Task.get_tasks(project_name=project_name, task_filter={"status": ["completed"]})
    except Exception as exc:  # a baseline is nice to have; the run goes on without it
        print(f"could not read project {project_name!r}: {exc}")
        return f"project {project_name!r} could not be read"
    best = [t.get_last_scalar_metrics().get("Loss", {}).get("validation", {}).get("min") for t in tasks[:20]]
    best = [b for b in best if b is not None]
    if not best:
        return f"no completed task in {project_name!r} reports Loss/validation"
    return f"best validation loss {min(best):.4f} in {project_name!r} ({len(best)} completed tasks)"


def report_fit(weights, x_val, y_val, iteration: int) -> None:
    grid = np.linspace(-1.0, 1.0, 60)
    curve = trainer.features(grid, model["kind"], model["degree"]) @ weights
    logger.report_scatter2d("Fit", "data", scatter=np.stack([x_val, y_val], axis=1), iteration=iteration,
                            xaxis="x", yaxis="y", mode="markers")
    logger.report_scatter2d("Fit", "model", scatter=np.stack([grid, curve], axis=1), iteration=iteration,
                            xaxis="x", yaxis="y", mode="lines")
    residuals = trainer.features(x_val, model["kind"], model["degree"]) @ weights - y_val
    path = os.path.join(tempfile.gettempdir(), f"numpy-trainer-{task.id}-residuals.png")
    with open(path, "wb") as fh:
        fh.write(trainer.png_bytes(trainer.residual_image(residuals)))
    logger.report_image("Residuals", "residuals", iteration=iteration, local_path=path)


def main() -> None:
    kind, degree = model["kind"], int(model["degree"])
    iterations, every = int(training["iterations"]), max(1, int(training["report_every"]))
    schedule = read_schedule()
    x_train, y_train, x_val, y_val = trainer.make_data(int(data["samples"]), float(data["noise"]), int(data["seed"]))
    weights, start = trainer.initial_weights(kind, degree), 0
    if wants_resume():
        start = int(task.get_parameter("Status/iteration") or 0)
        stored = task.get_parameter("Status/weights")
        if stored:
            weights = np.array(json.loads(stored), dtype=float)
        print(f"resuming after iteration {start}")
    baseline = compare_with_project(general["compare_project"])
    print(f"baseline: {baseline}")
    print(f"run {general['run_name']!r}: {kind} model (degree {degree}), {iterations} iterations, "
          f"{len(x_train)} training samples; notes: {general['notes'] or '-'}")
    set_status(state="running", iteration=start, baseline=baseline)
    best, loss_val = float("inf"), float("nan")
    for iteration in range(start + 1, iterations + 1):
        lr = trainer.learning_rate(iteration, float(training["learning_rate"]), schedule)
        weights = trainer.sgd_step(weights, x_train, y_train, kind, degree, lr)
        loss_train = trainer.mse(weights, x_train, y_train, kind, degree)
        loss_val = trainer.mse(weights, x_val, y_val, kind, degree)
        logger.report_scalar("Loss", "train", value=loss_train, iteration=iteration)
        logger.report_scalar("Loss", "validation", value=loss_val, iteration=iteration)
        logger.report_scalar("Learning rate", "lr", value=lr, iteration=iteration)
        if not np.isfinite(loss_train):
            set_status(state="diverged: lower the learning rate", iteration=iteration)
            raise SystemExit(f"training diverged at iteration {iteration} (learning rate {lr})")
        if iteration % every == 0 or iteration == iterations:
            print(f"iteration {iteration}/{iterations}: train {loss_train:.5f} validation {loss_val:.5f} lr {lr:g}")
            report_fit(weights, x_val, y_val, iteration)
            set_status(iteration=iteration, loss=f"{loss_val:.5f}", weights=json.dumps(weights.tolist()))
        if training["early_stop"] and best - loss_val < 1e-7 and iteration > start + every:
            print(f"early stop at iteration {iteration}: validation loss no longer improves")
            set_status(iteration=iteration, loss=f"{loss_val:.5f}", weights=json.dumps(weights.tolist()))
            break
        best = min(best, loss_val)
        time.sleep(float(training["sleep_seconds"]))  # so that a dashboard can follow the run live
    set_status(state="completed", loss=f"{loss_val:.5f}")
    print("done")


if __name__ == "__main__":
    main()
