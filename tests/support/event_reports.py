"""Shared by the test_events_read* modules: one task with every kind of event, reported once per backend through
events.add_batch, then read back by the tests (which only read, so they can share it)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from support.client import ApiClient
from support.names import unique
from support.objects import create_project

JSON_LINES = {"Content-Type": "application/json-lines"}
T0 = int(time.time() * 1000) - 3_600_000
SINGLE = -2**31
LOG_LINES = 30
# Log lines 10 and 11 share one timestamp: paging by timestamp must not lose either.
SHARED_STAMP = (10, 11)


def add_batch(client: ApiClient, events: list[dict]) -> dict:
    reply = client.send("events.add_batch", body="\n".join(json.dumps(e) for e in events), headers=JSON_LINES,
                        version="2.23")
    assert reply.code == (200, 0), reply.meta
    assert reply.data["errors"] == 0, reply.data
    return reply.data


def scalar(task: str, metric: str, variant: str, iteration: int, value: float, **extra) -> dict:
    return {"type": "training_stats_scalar", "task": task, "metric": metric, "variant": variant,
            "iter": iteration, "value": value, "timestamp": T0 + max(iteration, 0) * 1000, **extra}


def plot(task: str, metric: str, variant: str, iteration: int) -> dict:
    return {"type": "plot", "task": task, "metric": metric, "variant": variant, "iter": iteration,
            "plot_str": json.dumps({"data": [], "iteration": iteration}), "timestamp": T0 + iteration * 1000}


def image(task: str, metric: str, variant: str, iteration: int, name: str) -> dict:
    return {"type": "training_debug_image", "task": task, "metric": metric, "variant": variant, "iter": iteration,
            "key": name, "url": f"http://files.example/{task}/{name}", "timestamp": T0 + iteration * 1000}


def log_stamp(n: int) -> int:
    return T0 + (n - 1 if n == SHARED_STAMP[1] else n) * 10


def log_line(task: str, n: int) -> dict:
    return {"type": "log", "task": task, "msg": f"line {n}", "level": "info", "worker": "vm",
            "timestamp": log_stamp(n)}


@dataclass
class Reported:
    client: ApiClient
    backend: str
    project: str
    task: str
    other: str  # a second task, for comparisons
    model: str
    names: dict = field(default_factory=dict)


def report(client: ApiClient, backend: str) -> Reported:
    project = create_project(client, unique("events-read"))
    task = client.ok("tasks.create", name=unique("reader"), type="training", project=project)["id"]
    other = client.ok("tasks.create", name=unique("other"), type="training", project=project)["id"]
    model = client.ok("models.create", name=unique("model"), uri="file:///m.bin", project=project)["id"]
    events = [
        *(scalar(task, "loss", "train", i, float(i)) for i in range(100)),
        *(scalar(task, "loss", "val", i, float(i) / 2) for i in range(0, 100, 10)),
        *(scalar(task, "acc", "top1", i, 0.5 + i / 100, x_axis_label="epochs") for i in range(10)),
        scalar(task, "Summary", "score", SINGLE, 0.9),
        scalar(task, "Summary", "runtime", SINGLE, 12.5),
        plot(task, "conf", "matrix", 0), plot(task, "conf", "matrix", 5), plot(task, "conf", "matrix", 9),
        plot(task, "conf", "norm", 9), plot(task, "roc", "curve", 5),
        # The SDK keeps 3 files per series here: iteration 3 overwrote iteration 0's file, and so on.
        *(image(task, "img", "sample", i, f"sample_{i % 3}.png") for i in range(6)),
        image(task, "img", "other", 5, "other.png"),
        {"type": "training_stats_vector", "task": task, "metric": "hist", "variant": "v", "iter": 1,
         "values": [1, 2, 3]},
        {"type": "training_stats_vector", "task": task, "metric": "hist", "variant": "v", "iter": 0, "values": [4]},
        *(log_line(task, n) for n in range(LOG_LINES)),
        *(scalar(other, "loss", "train", i, 10.0 + i) for i in range(5)),
        scalar(other, "Summary", "score", SINGLE, 0.7),
        plot(other, "conf", "matrix", 3),
    ]
    add_batch(client, events)
    add_batch(client, [{**scalar(model, "mloss", "m", i, 1.0 * i), "model_event": True} for i in range(3)])
    names = {t: client.ok("tasks.get_by_id", task=t)["task"]["name"] for t in (task, other)}
    return Reported(client, backend, project, task, other, model, names)
