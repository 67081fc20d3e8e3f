"""queues.*: every endpoint of the reference's queues service, on the real API and Mongo-wire server.

(test_queues_basic.py covers create/get/get_all/get_default and the SDK's name look-up.)
"""
from __future__ import annotations

import time
import uuid

import pytest

from support.names import unique
from support.objects import create_queue, get_task
from trackside.shared.storage.mongo import connect

MISSING = "f" * 32


def new_task(api, **fields) -> str:
    return api.ok("tasks.create", **{"name": unique("task"), "type": "training", **fields})["id"]


def queued(api, queue: str, count: int) -> list[str]:
    tasks = [new_task(api) for _ in range(count)]
    for task in tasks:
        api.ok("tasks.enqueue", task=task, queue=queue)
    return tasks


def entries(api, queue: str) -> list[str]:
    return [e["task"] for e in api.ok("queues.get_by_id", queue=queue)["queue"]["entries"]]


@pytest.fixture
def queue(api) -> str:
    return create_queue(api, unique("queue"))


@pytest.fixture(scope="module")
def backend_db(mongo_server):
    return connect(f"mongodb://127.0.0.1:{mongo_server.port}/backend")


# -- reading -------------------------------------------------------------------------------------------------
def test_max_task_entries_peek_and_count(api, queue):
    tasks = queued(api, queue, 3)
    assert api.ok("queues.get_num_entries", queue=queue) == {"num": 3}
    assert api.ok("queues.peek_task", queue=queue) == {"task": tasks[0]}
    assert entries(api, queue) == tasks
    limited = api.ok("queues.get_by_id", queue=queue, max_task_entries=2)["queue"]
    assert [e["task"] for e in limited["entries"]] == tasks[:2]
    listed = api.ok("queues.get_all", id=[queue], max_task_entries=2)["queues"][0]
    assert [e["task"] for e in listed["entries"]] == tasks[:2]
    empty = create_queue(api, unique("empty"))
    assert api.ok("queues.get_num_entries", queue=empty) == {"num": 0}
    assert api.ok("queues.peek_task", queue=empty) == {"task": None}
    api.error("queues.get_num_entries", (400, 701), queue=MISSING)
    api.error("queues.peek_task", (400, 701), queue=MISSING)
    api.error("queues.get_by_id", (400, 12), queue=queue, max_task_entries="two")


def test_get_all_ex_joins_task_names_and_listening_workers(api, queue):
    tasks = queued(api, queue, 2)
    worker = unique("worker")
    api.ok("workers.register", worker=worker, queues=[queue])
    try:
        found = api.ok("queues.get_all_ex", id=[queue])["queues"][0]
        names = {t: get_task(api, t)["name"] for t in tasks}
        assert [e["task"] for e in found["entries"]] == [{"id": t, "name": names[t]} for t in tasks]
        assert [w["name"] for w in found["workers"]] == [worker]
        limited = api.ok("queues.get_all_ex", id=[queue], max_task_entries=1)["queues"][0]
        assert [e["task"]["id"] for e in limited["entries"]] == tasks[:1]
    finally:
        api.ok("workers.unregister", worker=worker)


def test_hidden_queues_need_search_hidden_an_id_or_a_name(api):
    name = unique("hidden")
    hidden = create_queue(api, name, system_tags=["k8s-glue"])
    shown = create_queue(api, unique("shown"))
    shown_name = api.ok("queues.get_by_id", queue=shown)["queue"]["name"]
    # A pattern search (not a name filter, which finds hidden queues too): pages hold at most 500 queues.
    both = {"_any_": {"pattern": f"^({name}|{shown_name})$", "fields": ["name"]}}
    listed = {q["id"] for q in api.ok("queues.get_all_ex", only_fields=["id"], **both)["queues"]}
    assert listed == {shown}
    assert {q["id"] for q in api.ok("queues.get_all", search_hidden=True, **both)["queues"]} == {shown, hidden}
    assert [q["id"] for q in api.ok("queues.get_all", name=f"^{name}$")["queues"]] == [hidden]
    assert [q["id"] for q in api.ok("queues.get_all_ex", id=[hidden])["queues"]] == [hidden]


# -- create, update, delete -------------------------------------------------------------------------------------
def test_update_sets_the_given_fields(api, queue):
    new_name = unique("renamed")
    reply = api.ok("queues.update", queue=queue, name=new_name, tags=["test"], display_name="Shown")
    assert reply["updated"] == 1
    assert reply["fields"] == {"name": new_name, "tags": ["test"], "display_name": "Shown"}
    stored = api.ok("queues.get_by_id", queue=queue)["queue"]
    assert (stored["name"], stored["tags"], stored["display_name"]) == (new_name, ["test"], "Shown")
    assert api.ok("queues.update", queue=queue) == {"updated": 0, "fields": {}}
    taken = create_queue(api, unique("taken"))
    api.error("queues.update", (400, 801), queue=taken, name=new_name)
    api.error("queues.update", (400, 701), queue=MISSING, name=unique("x"))
    api.error("queues.update", (400, 12), queue=queue, tags="gpu")
    api.error("queues.update", (400, 12), queue=queue, name="")
    assert "queue" in api.error("queues.update", (400, 11), name="x").meta["result_msg"]


def test_create_with_metadata_and_edit_it(api):
    queue = create_queue(api, unique("meta"), metadata=[{"key": "a.b", "type": "str", "value": "1"}])
    assert api.ok("queues.get_by_id", queue=queue)["queue"]["metadata"] == {
        "a.b": {"key": "a.b", "type": "str", "value": "1"}}
    assert api.ok("queues.add_or_update_metadata", queue=queue,
                  metadata=[{"key": "c", "value": "2"}, {"key": "a.b", "value": "3"}]) == {"updated": 1}
    metadata = api.ok("queues.get_by_id", queue=queue)["queue"]["metadata"]
    assert {k: v["value"] for k, v in metadata.items()} == {"a.b": "3", "c": "2"}
    api.ok("queues.add_or_update_metadata", queue=queue, metadata=[{"key": "d", "value": "4"}], replace_metadata=True)
    assert list(api.ok("queues.get_by_id", queue=queue)["queue"]["metadata"]) == ["d"]
    assert api.ok("queues.delete_metadata", queue=queue, keys=["d", "absent"]) == {"updated": 1}
    assert api.ok("queues.get_by_id", queue=queue)["queue"]["metadata"] == {}
    api.error("queues.add_or_update_metadata", (400, 701), queue=MISSING, metadata=[{"key": "k"}])
    api.error("queues.add_or_update_metadata", (400, 12), queue=queue, metadata=[])
    api.error("queues.add_or_update_metadata", (400, 11), queue=queue, metadata=[{"value": "no key"}])
    api.error("queues.delete_metadata", (400, 701), queue=MISSING, keys=["k"])
    api.error("queues.delete_metadata", (400, 11), queue=queue)


def test_delete_refuses_a_non_empty_queue_unless_forced(api):
    queue = create_queue(api, unique("doomed"))
    [task] = queued(api, queue, 1)
    reply = api.error("queues.delete", (400, 702), queue=queue)
    assert "force" in reply.meta["result_msg"]
    assert entries(api, queue) == [task]
    assert api.ok("queues.delete", queue=queue, force=True) == {"deleted": 1}
    api.error("queues.get_by_id", (400, 701), queue=queue)
    task_doc = get_task(api, task)
    assert task_doc["status"] == "created" and not task_doc["execution"].get("queue")
    empty = create_queue(api, unique("empty"))
    assert api.ok("queues.delete", queue=empty) == {"deleted": 1}
    api.error("queues.delete", (400, 701), queue=empty)
    api.error("queues.delete", (400, 12), queue=MISSING, force={"x": 1})


# -- entries -------------------------------------------------------------------------------------------------
def test_add_and_remove_tasks(api, queue):
    """The reference's add/remove/clear scenario: remove_task keeps the status unless asked."""
    other = create_queue(api, unique("other"))
    first, second = queued(api, queue, 2)
    assert api.ok("queues.remove_task", queue=queue, task=first) == {"removed": 1}
    task = get_task(api, first)
    assert task["status"] == "queued" and task["execution"]["queue"] == queue
    assert api.ok("queues.remove_task", queue=queue, task=second, update_task_status=True) == {"removed": 1}
    assert get_task(api, second)["status"] == "created"
    assert entries(api, queue) == []
    api.error("queues.remove_task", (400, 703), queue=queue, task=first)

    assert api.ok("queues.add_task", queue=other, task=first) == {"added": 1}
    task = get_task(api, first)
    assert task["status"] == "queued" and task["execution"]["queue"] == other
    assert entries(api, other) == [first]
    api.error("queues.add_task", (400, 706), queue=other, task=first)
    assert api.ok("queues.add_task", queue=queue, task=second, update_execution_queue=False) == {"added": 1}
    assert get_task(api, second)["execution"].get("queue") is None
    api.error("queues.add_task", (400, 701), queue=MISSING, task=first)
    api.error("queues.add_task", (400, 101), queue=queue, task=MISSING)

    assert api.ok("queues.clear_queue", queue=other) == {"removed_tasks": [first]}
    assert get_task(api, first)["status"] == "created" and entries(api, other) == []
    assert api.ok("queues.clear_queue", queue=other) == {"removed_tasks": []}
    api.error("queues.clear_queue", (400, 701), queue=MISSING)


def test_moves(api, queue):
    """The reference's move scenario: positions clamp at both ends."""
    tasks = queued(api, queue, 4)
    first = tasks[0]

    def move(endpoint, **extra):
        return api.ok(endpoint, queue=queue, task=first, **extra)["position"]

    assert move("queues.move_task_to_front") == 0 and entries(api, queue) == tasks
    assert move("queues.move_task_backward", count=2) == 2
    assert entries(api, queue) == [tasks[1], tasks[2], first, tasks[3]]
    assert move("queues.move_task_backward", count=100) == 3 and entries(api, queue) == tasks[1:] + [first]
    assert move("queues.move_task_forward", count=2) == 1
    assert entries(api, queue) == [tasks[1], first, tasks[2], tasks[3]]
    assert move("queues.move_task_forward", count=100) == 0 and entries(api, queue) == tasks
    assert move("queues.move_task_forward") == 0
    assert move("queues.move_task_to_back") == 3 and entries(api, queue) == tasks[1:] + [first]
    assert move("queues.move_task_to_front") == 0 and entries(api, queue) == tasks
    api.error("queues.move_task_forward", (400, 703), queue=queue, task=MISSING)
    api.error("queues.move_task_to_back", (400, 703), queue=MISSING, task=first)
    api.error("queues.move_task_backward", (400, 12), queue=queue, task=first, count="two")


def test_get_next_task_pops_in_order(api, queue):
    tasks = queued(api, queue, 3)
    api.ok("queues.move_task_to_front", queue=queue, task=tasks[2])
    order = [tasks[2], tasks[0], tasks[1]]
    first = api.ok("queues.get_next_task", queue=queue, get_task_info=True)
    assert first["entry"]["task"] == order[0] and first["entry"]["added"]
    me = api.ok("users.get_current_user")["user"]
    assert first["task_info"] == {"company": me["company"]["id"], "user": me["id"]}
    # ``task`` pops only when it is the head (2.21).
    assert api.ok("queues.get_next_task", queue=queue, task=order[2]) == {}
    assert api.ok("queues.get_next_task", queue=queue, task=order[1])["entry"]["task"] == order[1]
    reply = api.send("queues.get_next_task", {"queue": queue}, version="2.14")
    assert reply.data["entry"]["task"] == order[2] and "task_info" not in reply.data
    assert api.ok("queues.get_next_task", queue=queue) == {}
    api.error("queues.get_next_task", (400, 701), queue=MISSING)
    api.error("queues.get_next_task", (400, 701), queue="default")


def test_get_next_task_skips_stale_entries_and_requeues_a_stopped_task(api, queue):
    running, stopped, fine = new_task(api), new_task(api), new_task(api)
    for task in (running, stopped, fine):
        api.ok("queues.add_task", queue=queue, task=task)
    api.ok("tasks.started", task=running, force=True)
    api.ok("tasks.stopped", task=stopped, force=True)
    # The running task's entry is stale and dropped; the stopped one is handed out as queued (the reference's
    # fix for an agent reporting "stopped" after the task was queued again).
    assert api.ok("queues.get_next_task", queue=queue)["entry"]["task"] == stopped
    assert get_task(api, stopped)["status"] == "queued"
    assert api.ok("queues.get_next_task", queue=queue)["entry"]["task"] == fine
    assert entries(api, queue) == []


def test_stock_agent_start_clears_the_claim(api, queue, backend_db):
    [task] = queued(api, queue, 1)
    api.ok("queues.get_next_task", queue=queue)
    assert backend_db["queue_leases"].find_one({"task": task})["worker"] is None
    api.ok("tasks.started", task=task, force=True, status_message="pulled by agent")
    assert backend_db["queue_leases"].find_one({"task": task}) is None


# -- metrics -------------------------------------------------------------------------------------------------
def test_queue_metrics_follow_changes(api):
    queue = create_queue(api, unique("metrics"))
    first = queued(api, queue, 1)[0]
    time.sleep(1.5)
    second = queued(api, queue, 1)[0]
    api.ok("queues.get_next_task", queue=queue)
    api.ok("queues.remove_task", queue=queue, task=second)
    now = time.time()
    reply = api.ok("queues.get_queue_metrics", queue_ids=[queue], from_date=now - 3600, to_date=now, interval=5)
    [series] = reply["queues"]
    assert series["queue"] == queue
    assert 1 <= len(series["dates"]) <= 2
    assert len(series["avg_waiting_times"]) == len(series["queue_lengths"]) == len(series["dates"])
    assert series["dates"][0] / 1000 > now - 20 and series["dates"][0] % 5000 == 0
    # Each bucket keeps its longest wait: the two-entry moment, one entry having waited over a second.
    assert max(series["queue_lengths"]) == 2 and max(series["avg_waiting_times"]) > 0.5
    del first

    total = api.ok("queues.get_queue_metrics", from_date=now - 60, to_date=now + 1, interval=3600)["queues"]
    assert [q["queue"] for q in total] == ["total"] and len(total[0]["dates"]) >= 1
    fresh = create_queue(api, unique("quiet"))
    reply = api.ok("queues.get_queue_metrics", queue_ids=[fresh, MISSING], from_date=now - 60, to_date=now + 60,
                   interval=10)
    assert reply["queues"] == [{"queue": fresh, "dates": [], "avg_waiting_times": [], "queue_lengths": []}]
    refreshed = api.ok("queues.get_queue_metrics", queue_ids=[fresh], from_date=now - 60, to_date=time.time() + 60,
                       interval=10, refresh=True)["queues"][0]
    assert refreshed["queue_lengths"] == [0]
    assert api.ok("queues.get_queue_metrics", queue_ids=[MISSING], from_date=1, to_date=2, interval=1) == {
        "queues": []}


def test_queue_metrics_bad_input(api, queue):
    api.error("queues.get_queue_metrics", (400, 16), queue_ids=[queue], from_date=10, to_date=5, interval=1)
    api.error("queues.get_queue_metrics", (400, 12), from_date=1, to_date=5, interval=0)
    api.error("queues.get_queue_metrics", (400, 12), from_date="x", to_date=5, interval=1)
    assert "interval" in api.error("queues.get_queue_metrics", (400, 11), from_date=1, to_date=5).meta["result_msg"]


# -- input checks across the family ------------------------------------------------------------------------------
QUEUE_ENDPOINTS = [
    "queues.get_by_id", "queues.update", "queues.delete", "queues.clear_queue", "queues.peek_task",
    "queues.get_num_entries", "queues.get_next_task",
]
QUEUE_TASK_ENDPOINTS = [
    "queues.add_task", "queues.remove_task", "queues.move_task_forward", "queues.move_task_backward",
    "queues.move_task_to_front", "queues.move_task_to_back",
]


@pytest.mark.parametrize("name", QUEUE_ENDPOINTS + QUEUE_TASK_ENDPOINTS)
def test_queue_endpoints_reject_missing_mistyped_and_unknown_queues(api, name):
    task = {"task": new_task(api)} if name in QUEUE_TASK_ENDPOINTS else {}
    assert "queue" in api.error(name, (400, 11), **task).meta["result_msg"]
    assert "queue" in api.error(name, (400, 12), queue=["a"], **task).meta["result_msg"]
    unknown = uuid.uuid4().hex
    expected = (400, 703) if name in QUEUE_TASK_ENDPOINTS[1:] else (400, 701)
    api.error(name, expected, queue=unknown, **task)


@pytest.mark.parametrize("name", QUEUE_TASK_ENDPOINTS)
def test_queue_task_endpoints_need_the_task(api, queue, name):
    assert "task" in api.error(name, (400, 11), queue=queue).meta["result_msg"]
    assert "task" in api.error(name, (400, 12), queue=queue, task=5).meta["result_msg"]


@pytest.mark.parametrize("name", QUEUE_ENDPOINTS + QUEUE_TASK_ENDPOINTS + [
    "queues.get_all_ex", "queues.get_queue_metrics", "queues.add_or_update_metadata", "queues.delete_metadata"])
def test_queue_endpoints_need_a_token(anon, name):
    reply = anon.send(name, {"queue": "x", "task": "y"})
    assert reply.code == (401, 20) and reply.data == {}
