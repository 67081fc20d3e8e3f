"""Events ingestion under load: many tasks report at once from several real client processes, on both events
backends; nothing may be refused and nothing lost.

Each client process (``events_reporter_proc.py``) drives its share of the tasks, two concurrent senders per
task (so batches of one task race for log line positions), with no retries. Afterwards, per task: the exact
number of events of every scalar series, the exact number of log lines, and their positions (``seq``) exactly
0..n-1 with the task's counter at n.

The quick version runs in ``make test``; ``make stress-events`` (TRACKSIDE_STRESS=full) runs 100 tasks from 4
processes and prints the rate reached.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from trackside.shared.events import LOG, SCALAR, EventFilter, open_store
from trackside.shared.storage.elastic import connect as elastic_connect

FULL = os.environ.get("TRACKSIDE_STRESS") == "full"
SIZE = (dict(tasks=100, processes=4, streams=2, batches=4, scalars=80, logs=20) if FULL
        else dict(tasks=12, processes=2, streams=2, batches=2, scalars=20, logs=5))
VARIANTS = 4
REPORTER = str(Path(__file__).with_name("events_reporter_proc.py"))


def reported_store(backend: str, mongo_server, elastic_server):
    """The events store the API process of ``backend`` writes to (the API's own database / indices)."""
    if backend == "elastic":
        client = elastic_connect({"hosts": [{"host": "127.0.0.1", "port": elastic_server.port}], "plain_json": True})
        return open_store("elastic", client=client)
    client = pymongo.MongoClient("127.0.0.1", mongo_server.port, directConnection=True, tz_aware=True)
    return open_store("mongo", db=client["backend"])


@pytest.mark.parametrize("events_backend", ["mongo", "elastic"])
def test_concurrent_reporting_tasks_lose_nothing(events_backend, request, mongo_server, backend):
    server = request.getfixturevalue("api_server" if events_backend == "mongo" else "api_server_elastic")
    elastic_server = request.getfixturevalue("elastic_server") if events_backend == "elastic" else None
    api = ApiClient(server.url, server.key, server.secret).login()
    project = create_project(api, unique("events-stress"))
    tasks = [api.ok("tasks.create", name=f"reporter-{i}", type="training", project=project)["id"]
             for i in range(SIZE["tasks"])]
    shares = [tasks[i::SIZE["processes"]] for i in range(SIZE["processes"])]
    argv = [f"--api={server.url}", f"--key={server.key}", f"--secret={server.secret}",
            *(f"--{name}={SIZE[name]}" for name in ("streams", "batches", "scalars", "logs")), f"--variants={VARIANTS}"]

    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, REPORTER, *argv, f"--tasks={','.join(share)}"], stdout=subprocess.PIPE,
                              text=True) for share in shares]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    seconds = time.monotonic() - started
    sent = sum(r["sent"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    print(f"\n{events_backend}: {len(tasks)} tasks x {SIZE['streams']} senders from {len(procs)} processes: "
          f"{sent:,} events in {seconds:.1f} s = {sent / seconds:,.0f} events/s; {len(errors)} client errors")
    assert not errors, errors[:5]

    store = reported_store(events_backend, mongo_server, elastic_server)
    company = backend["tasks"].find_one({"_id": tasks[0]}, {"company": 1})["company"]
    per_series = SIZE["batches"] * SIZE["scalars"] // VARIANTS
    lines = SIZE["streams"] * SIZE["batches"] * SIZE["logs"]
    # Two reads for all the tasks (not two per task): the check stays short on a loaded machine.
    counts: dict = {}
    for (task, metric, variant), info in store.series(EventFilter(company, tasks, types=[SCALAR])).items():
        counts.setdefault(task, {})[(metric, variant)] = info.count
    lines_by_task: dict = {}
    after = None
    while True:
        page = store.search(EventFilter(company, tasks, types=[LOG]), [("task", 1), ("seq", 1)], 5000, after=after,
                            fields=["task", "seq", "msg"])
        for event in page.events:
            lines_by_task.setdefault(event["task"], []).append(event)
        if len(page.events) < 5000:
            break
        after = page.next_after
    counters = {doc["task"]: doc.get("n") for doc in backend["event_log_counters"].find({"company": company})}
    expected = {(f"m{s}", f"v{v}"): per_series for s in range(SIZE["streams"]) for v in range(VARIANTS)}
    wrong = []
    for task in tasks:
        if counts.get(task) != expected:
            wrong.append(f"{task}: scalar series {counts.get(task)}")
        found = lines_by_task.get(task, [])
        positions = [event.get("seq") for event in found]
        if positions != list(range(lines)):
            wrong.append(f"{task}: {len(positions)} log lines of {lines}, positions not 0..n-1: {positions[:20]}")
        if len({event["msg"] for event in found}) != lines:
            wrong.append(f"{task}: log messages not unique")
        if counters.get(task) != lines:
            wrong.append(f"{task}: log counter {counters.get(task)} != {lines}")
    assert not wrong, wrong[:5]
