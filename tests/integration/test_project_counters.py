"""Project statistics kept incrementally (trackside.shared.project_counters): after any mix of writes, from one
client or from several processes racing on the same tasks, the counters equal a recomputation from the tasks,
and projects.get_all_ex answers exactly what a scan of the tasks answers. Damaged counters heal; deleting a
project's tasks works by index equality in batches."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from trackside.shared.project_counters import (
    COUNTERS, STAMPS, ProjectCounters, backfill, check_all, count_inserted, counter_id, normalized,
)

WORKLOAD = Path(__file__).resolve().parents[1] / "support" / "counter_workload.py"
# The web app's projects page filter, answered from the counters.
HIDDEN_KINDS = {"system_tags": ["-pipeline", "-dataset", "-Annotation", "-report"]}
# A tag no task carries: the same answer, but only the scan of the tasks can give it.
SCAN = "-zz_not_counted"


def stats(api, ids: list[str], stats_filter: dict | None = None, **params) -> dict:
    body = {"id": ids, "include_stats": True, "check_own_contents": True, "search_hidden": True, **params}
    if stats_filter is not None:
        body["include_stats_filter"] = stats_filter
    return {p["id"]: (p["stats"], p["sub_projects"], p["own_tasks"])
            for p in api.ok("projects.get_all_ex", **body)["projects"]}


def assert_exact(api, backend, ids: list[str]) -> None:
    """The counters equal a recomputation, and every answer from them equals the scan's."""
    company = backend["projects"].find_one({"_id": ids[0]})["company"]
    counters = ProjectCounters(backend)
    for pid in ids:
        cid = counter_id(company, pid)
        assert normalized(counters.read([cid])[cid]) == normalized(counters.recompute(company, pid)), pid
    for state in ("active", "archived"):
        for children in (True, False):
            params = {"stats_for_state": state, "stats_with_children": children}
            assert stats(api, ids, **params) == stats(api, ids, {"system_tags": [SCAN]}, **params)
            hidden = {"system_tags": [*HIDDEN_KINDS["system_tags"], SCAN]}
            assert stats(api, ids, HIDDEN_KINDS, **params) == stats(api, ids, hidden, **params)
            for only in ({"system_tags": ["pipeline", "dataset"]}, {"type": ["-controller"]},
                         {"system_tags": ["pipeline"], "type": ["controller"]},
                         {"system_tags": ["reports"], "type": ["report"]}):
                assert stats(api, ids, only, **params) == stats(
                    api, ids, {**only, "system_tags": [*only.get("system_tags", []), SCAN]}, **params)


@pytest.fixture
def projects(api):
    top_name = f"counters {uuid.uuid4().hex[:8]}"
    top = api.ok("projects.create", name=top_name, description="")["id"]
    ids = [api.ok("projects.create", name=f"{top_name}/{n}", description="")["id"] for n in ("a", "a/sub", "b")]
    return [top, *ids]


def test_mixed_workload_keeps_counters_exact(api, backend, projects):
    top, a, sub, b = projects
    tasks = [api.ok("tasks.create", name=f"t{n}", type="training", project=p)["id"]
             for n, p in enumerate([a, a, a, sub, sub, b, b, top] * 2)]
    t = tasks
    api.ok("tasks.enqueue", task=t[0], queue_name="counters")
    api.ok("tasks.started", task=t[1])
    api.ok("tasks.stopped", task=t[1])
    api.ok("tasks.started", task=t[2])
    api.ok("tasks.completed", task=t[2])
    api.ok("tasks.publish", task=t[2], force=True)
    api.ok("tasks.started", task=t[3])
    api.ok("tasks.failed", task=t[3])
    api.ok("tasks.reset", task=t[3], force=True)
    api.ok("tasks.started", task=t[4])
    api.ok("tasks.stop", task=t[4])
    api.ok("tasks.archive", tasks=[t[5], t[6]])
    api.ok("tasks.unarchive_many", ids=[t[6]])
    api.ok("tasks.move", ids=[t[7], t[8]], project=b)
    api.ok("tasks.update", task=t[9], system_tags=["pipeline"])
    api.ok("tasks.update", task=t[10], project=a)
    api.ok("tasks.edit", task=t[11], system_tags=["dataset"])
    api.ok("tasks.delete", task=t[12], force=True)
    api.ok("tasks.delete_many", ids=[t[13]], force=True)
    controller = api.ok("tasks.create", name="pipeline run", type="controller", project=sub,
                        system_tags=["pipeline"])["id"]
    api.ok("tasks.started", task=controller)
    api.ok("tasks.edit", task=t[11], type="controller", force=True)
    report = api.ok("reports.create", name="a report", project=a)["id"]
    api.ok("reports.publish", task=report)
    clone = api.ok("tasks.clone", task=t[2], new_task_project=sub)["id"]
    api.ok("tasks.started", task=clone)
    api.ok("tasks.dequeue", task=t[0])
    api.ok("tasks.enqueue_many", ids=[t[14], t[15]], queue_name="counters")
    api.ok("tasks.stop_many", ids=[t[14]], force=True)
    api.ok("tasks.reset_many", ids=[t[15]], force=True)
    api.ok("tasks.make_public", ids=[t[1]])
    assert_exact(api, backend, projects)

    found = stats(api, [top], stats_for_state="active")[top][0]["active"]
    assert found["total_tasks"] == sum(found["status_count"].values()) > 0
    assert found["completed_tasks_24h"] == 2 and found["last_task_run"]  # t[1] stopped, t[2] published

    # A merge moves every task of "a" into "b"; deleting "b" takes its tasks, "top" keeps its own.
    api.ok("projects.merge", project=a, destination_project=b)
    assert_exact(api, backend, [top, sub, b])
    result = api.ok("projects.delete", project=b, force=True, delete_contents=True)
    assert result["deleted_tasks"] > 0
    assert backend[STAMPS].count_documents({"p": counter_id(
        backend["projects"].find_one({"_id": top})["company"], b)}) == 0
    assert_exact(api, backend, [top, sub])


def test_counters_heal_and_backfill(api, backend, projects):
    top, a, _, b = projects
    tasks = [api.ok("tasks.create", name=f"h{n}", type="training", project=p)["id"] for n, p in enumerate([a, a, b])]
    api.ok("tasks.started", task=tasks[0])
    api.ok("tasks.completed", task=tasks[0])
    company = backend["projects"].find_one({"_id": a})["company"]
    counters = ProjectCounters(backend)
    expected = stats(api, [top, a, b])

    # A missing counter is rebuilt from the stamps on the next read.
    backend[COUNTERS].delete_one({"_id": counter_id(company, a)})
    assert stats(api, [top, a, b]) == expected
    # A counter a crash left wrong, and a stamp that lags its task: the check finds it, heal repairs it.
    backend[COUNTERS].update_one({"_id": counter_id(company, a)}, {"$inc": {"b.active||.n.created": 5}})
    backend["tasks"].update_one({"_id": tasks[1]}, {"$set": {"status": "stopped"}})
    assert counters.heal(company, a) is True and counters.heal(company, a) is False
    assert_exact(api, backend, [top, a, b])
    # A database written before the counters: the migration's backfill creates every stamp and counter.
    backend[STAMPS].delete_many({"_id": {"$in": tasks}})
    backend[COUNTERS].delete_many({"_id": {"$in": [counter_id(company, p) for p in projects]}})
    assert backfill(backend) >= len(tasks)
    assert_exact(api, backend, [top, a, b])


def test_concurrent_processes_keep_counters_exact(api, api_server, backend, projects):
    """3 processes x 3 threads race status changes, archives, moves and clones on the same 6 tasks."""
    tasks = [api.ok("tasks.create", name=f"c{n}", type="training", project=projects[1 + n % 3])["id"]
             for n in range(6)]
    workers = [
        subprocess.Popen([sys.executable, str(WORKLOAD), api_server.url, api_server.key, api_server.secret,
                          str(n), "3", "12", ",".join(projects[1:]), ",".join(tasks)], stdout=subprocess.PIPE,
                         text=True)
        for n in range(3)
    ]
    outputs = [json.loads(w.communicate(timeout=300)[0].strip().splitlines()[-1]) for w in workers]
    assert sum(out["calls"] for out in outputs) == 3 * 3 * 12
    assert [e for out in outputs for e in out["errors"]] == []
    assert_exact(api, backend, projects)


def test_project_delete_takes_only_its_tasks(api, backend, projects):
    top, a, sub, b = projects
    company = backend["projects"].find_one({"_id": a})["company"]
    now = datetime.now(timezone.utc)
    docs = [{"_id": f"{a}-d{n}", "company": company, "project": [a, sub, b][n % 3], "name": f"d{n}",
             "type": "training", "status": "created", "system_tags": [], "created": now, "last_update": now}
            for n in range(60)]
    backend["tasks"].insert_many(docs)
    count_inserted(backend, docs)
    kept = backend["tasks"].count_documents({"company": company, "project": b})
    result = api.ok("projects.delete", project=a, force=True, delete_contents=True)
    assert result["deleted"] == 2 and result["deleted_tasks"] == 40
    assert backend["tasks"].count_documents({"project": {"$in": [a, sub]}}) == 0
    assert backend["tasks"].count_documents({"company": company, "project": b}) == kept == 20
    assert_exact(api, backend, [top, b])
    # Without contents: the tasks stay, in no project, and leave the counters.
    result = api.ok("projects.delete", project=b, force=True)
    assert result["disassociated_tasks"] == 20 and backend[STAMPS].count_documents({"p": counter_id(company, b)}) == 0
    assert_exact(api, backend, [top])


def test_check_all_finds_and_fixes_a_wrong_counter(backend):
    """trackside-admin check-counters, on a database of its own (the suite's shared one holds seeded tasks)."""
    db = backend.client[f"counters_check_{uuid.uuid4().hex[:8]}"]
    try:
        db["projects"].insert_one({"_id": "p1", "company": "c", "name": "p1"})
        db["tasks"].insert_many([{"_id": f"t{n}", "company": "c", "project": "p1", "status": "created",
                                  "system_tags": []} for n in range(3)])
        backfill(db)
        assert check_all(db, fix=False) == []
        db[COUNTERS].update_one({"_id": "c:p1"}, {"$inc": {"b.active||.n.created": -1}})
        assert check_all(db, fix=False) == ["c:p1"]
        assert check_all(db, fix=True) == ["c:p1"] and check_all(db, fix=False) == []
    finally:
        backend.client.drop_database(db.name)


def test_completed_in_24_hours_counts_the_boundary_hour_exactly(api, backend, projects):
    """The hours after the one 24 hours ago come from the counters, that hour from the tasks completed in it."""
    top, a, _, _ = projects
    company = backend["projects"].find_one({"_id": a})["company"]
    now = datetime.now(timezone.utc)
    ids = []
    for n, minutes in enumerate((-30, -10, -1, 1, 10, 30, 60 * 23)):  # minutes after "24 hours ago"
        started = now - timedelta(hours=25)
        ids.append(backend["tasks"].insert_one({
            "_id": f"{a}-b{n}", "company": company, "project": a, "name": f"b{n}", "type": "training",
            "status": "completed", "system_tags": [], "created": started, "last_update": now, "started": started,
            "completed": now - timedelta(hours=24) + timedelta(minutes=minutes)}).inserted_id)
    ProjectCounters(backend).reconcile_many(ids)  # what every write path does after its write
    counted = stats(api, [a], stats_for_state="active")[a][0]["active"]
    assert counted == stats(api, [a], {"system_tags": [SCAN]}, stats_for_state="active")[a][0]["active"]
    assert counted["completed_tasks_24h"] == 4  # +1, +10, +30 minutes and 23 hours after


def test_tasks_written_past_the_api_are_counted_in_bulk(api, backend, projects):
    """Seeders and benchmarks insert_many tasks, then count_inserted: one stamp insert and one $inc per project."""
    top, a, _, b = projects
    company = backend["projects"].find_one({"_id": a})["company"]
    now = datetime.now(timezone.utc)
    docs = [{"_id": f"{a}-bulk{n}", "company": company, "project": [a, b][n % 2], "name": f"bulk{n}",
             "type": "training", "status": ["created", "completed", "published"][n % 3],
             "system_tags": ["archived"] if n % 5 == 0 else [], "created": now, "last_update": now,
             "started": now - timedelta(hours=2), "completed": now - timedelta(hours=1)} for n in range(30)]
    api.ok("tasks.create", name="through the api", type="training", project=a)
    stats(api, [a, b])  # the counters are built: the bulk count adds to them
    backend["tasks"].insert_many(docs)
    count_inserted(backend, docs)
    assert_exact(api, backend, [top, a, b])
