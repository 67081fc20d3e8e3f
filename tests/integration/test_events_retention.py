"""Events retention (``services.events.retention``, run by the watchdog): a task's events older than the cut-off
go, on both events backends, and what the API keeps beside them stays consistent: charts show exactly what is
left (the task's scalar buckets are set aside), log lines keep their positions, and a task with nothing new is
not visited again. The pass runs here in the test process on the API's own stores, with the clock moved on."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pymongo
import pytest

from support.event_reports import add_batch
from support.names import unique
from support.objects import create_project
from trackside.shared.events import open_store
from trackside.shared.events.retention import EventRetention, RetentionSettings
from trackside.shared.storage.elastic import connect as elastic_connect

DAY_MS = 86_400_000
MAX_AGE_DAYS = 30


@pytest.fixture
def retention(events_api, request, mongo_server, backend):
    """A retention pass over the API's stores whose clock is 31 days ahead: the cut-off is tomorrow."""
    if events_api.backend == "elastic":
        port = request.getfixturevalue("elastic_server").port
        store = open_store("elastic", client=elastic_connect({"hosts": [{"host": "127.0.0.1", "port": port}],
                                                              "plain_json": True}))
    else:
        client = pymongo.MongoClient("127.0.0.1", mongo_server.port, directConnection=True, tz_aware=True)
        store = open_store("mongo", db=client["backend"])
    later = datetime.now(timezone.utc) + timedelta(days=MAX_AGE_DAYS + 1)
    # Scoped to the test's project: other tests' tasks share the database.
    return lambda project, **settings: EventRetention(backend, store, RetentionSettings(MAX_AGE_DAYS, **settings),
                                                      now=lambda: later, scope={"project": project})


def _report(client, task: str, now_ms: int) -> None:
    """Iterations 0-99 reported now (older than the cut-off), 100-149 two days ahead (kept); log lines likewise."""
    def at(i: int) -> int:
        return now_ms + i if i < 100 else now_ms + 2 * DAY_MS + i
    add_batch(client, [{"type": "training_stats_scalar", "task": task, "metric": "loss", "variant": "train",
                        "iter": i, "value": float(i % 7), "timestamp": at(i)} for i in range(150)]
              + [{"type": "log", "task": task, "msg": f"line {i}", "timestamp": at(i * 10)} for i in range(15)])


def test_old_events_go_and_the_rest_reads_consistently(events_api, retention):
    client = events_api
    project = create_project(client, unique("retention"))
    task = client.ok("tasks.create", name="old", type="training", project=project)["id"]
    other = client.ok("tasks.create", name="recent", type="training", project=project)["id"]
    now_ms = int(time.time() * 1000)
    _report(client, task, now_ms)
    add_batch(client, [{"type": "training_stats_scalar", "task": other, "metric": "m", "variant": "v", "iter": 1,
                        "value": 1.0, "timestamp": now_ms + 2 * DAY_MS}])
    before = client.ok("events.scalar_metrics_iter_downsampled", task=task, points=400)["metrics"]["loss"]["train"]
    assert before["total"] == 150

    report = retention(project).run_pass()
    assert report.finished and report.events_removed == 110  # 100 scalars and 10 log lines

    chart = client.ok("events.scalar_metrics_iter_downsampled", task=task, points=400)["metrics"]["loss"]["train"]
    assert chart["x"] == list(range(100, 150)) and chart["total"] == 50 and chart["exact"] is True
    assert chart["y"] == [float(i % 7) for i in range(100, 150)]
    zoom = client.ok("events.scalar_metrics_iter_downsampled", task=task, x_min=0, x_max=120, points=400)
    assert zoom["metrics"]["loss"]["train"]["x"] == list(range(100, 121))
    log = client.ok("events.get_task_log_lines", task=task, from_end=True, limit=100)
    # Positions stay: the 10 dropped lines leave a gap at the start, the total is what was ever reported.
    assert log["total"] == 15 and [line["line"] for line in log["lines"]] == list(range(10, 15))
    assert [line["msg"] for line in log["lines"]] == [f"line {i}" for i in range(10, 15)]
    assert client.ok("events.scalar_metrics_iter_downsampled", task=other)["metrics"]["m"]["v"]["total"] == 1

    # New reports after the pass: charted with the rest (from the events, the buckets being set aside).
    add_batch(client, [{"type": "training_stats_scalar", "task": task, "metric": "loss", "variant": "train",
                        "iter": 150, "value": 3.0, "timestamp": now_ms + 3 * DAY_MS}])
    chart = client.ok("events.scalar_metrics_iter_downsampled", task=task, points=400)["metrics"]["loss"]["train"]
    assert chart["x"] == list(range(100, 151)) and chart["total"] == 51


def test_a_sweep_pauses_within_its_budget_and_skips_idle_tasks(events_api, retention):
    client = events_api
    project = create_project(client, unique("retention-budget"))
    tasks = [client.ok("tasks.create", name=f"t{i}", type="training", project=project)["id"] for i in range(2)]
    now_ms = int(time.time() * 1000)
    for task in tasks:
        _report(client, task, now_ms)
    job = retention(project, pass_budget_sec=1e-6, batch=40)
    passes = [job.run_pass()]
    while not passes[-1].finished:
        assert job.interval_sec() < 5  # an unfinished sweep goes on soon
        passes.append(job.run_pass())
    assert len(passes) > 2 and job.interval_sec() == 3600
    for task in tasks:
        assert client.ok("events.get_task_log_lines", task=task, offset=0, limit=100)["lines"][0]["line"] == 10
        chart = client.ok("events.scalar_metrics_iter_downsampled", task=task)["metrics"]["loss"]["train"]
        assert chart["total"] == 50
    again = job.run_pass()
    assert again.finished and again.events_removed == 0
    assert again.tasks_skipped >= len(tasks)  # nothing reported since: not visited
