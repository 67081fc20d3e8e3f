"""events.add_batch / events.add: ingestion against the real API process and Mongo-wire server.

The SDK sends json-lines batches as GET under /v2.23/, the agent as unversioned POSTs; both are exercised.
Stored events are checked directly in the ``events`` collection of the ``backend`` database.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project, get_task
from support.suite import start_api, stop_in_background

JSON_LINES = {"Content-Type": "application/json-lines"}
NOW_MS = int(time.time() * 1000)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def send_batch(api, events: list, *, method: str = "GET", version: str | None = "2.23", headers: dict | None = None):
    body = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events)
    return api.send("events.add_batch", body=body, headers={**JSON_LINES, **(headers or {})}, method=method,
                    version=version)


def add_batch(api, events: list, **kw) -> dict:
    reply = send_batch(api, events, **kw)
    assert reply.status == 200 and reply.code == (200, 0), reply.meta
    return reply.data


def scalar(task: str, iteration: int, value: float, metric: str = "loss", variant: str = "train", **extra) -> dict:
    return {"timestamp": NOW_MS + iteration, "type": "training_stats_scalar", "task": task, "iter": iteration,
            "metric": metric, "variant": variant, "value": value, "allow_locked": False, "model_event": False,
            "method": "get", **extra}


def log_line(task: str, msg: str, level: str = "info", **extra) -> dict:
    return {"timestamp": NOW_MS, "type": "log", "task": task, "level": level, "worker": "vm", "msg": msg,
            "method": "get", **extra}


@pytest.fixture(scope="module")
def events(backend):
    return backend["events"]


@pytest.fixture
def project(api) -> str:
    return create_project(api, unique("events"))


@pytest.fixture
def task(api, project) -> str:
    return api.ok("tasks.create", name=unique("task"), type="training", project=project)["id"]


# -- the two client styles ----------------------------------------------------------------------------------
def test_sdk_style_get_batch_stores_every_type(api, task, events):
    image_key = f"proj/flow.{task}/metrics/img/v/img_v_00000002.jpeg"
    batch = [
        scalar(task, 2, 0.5),
        {"timestamp": NOW_MS, "type": "training_stats_vector", "task": task, "iter": 2, "metric": "vec",
         "variant": "v", "values": [1, 2.5], "method": "get"},
        {"timestamp": NOW_MS, "type": "plot", "task": task, "iter": 2, "metric": "hist", "variant": "v",
         "plot_str": '{"data": [], "layout": {}}', "method": "get"},
        {"timestamp": NOW_MS, "type": "training_debug_image", "task": task, "iter": 2, "metric": "img",
         "variant": "v", "key": image_key, "url": f"http://files/{image_key}", "method": "get"},
        log_line(task, "line one\nline two"),
    ]
    reply = send_batch(api, batch, headers={"X-ClearML-Worker": "host-a"})
    assert reply.status == 200 and reply.meta["endpoint"]["requested_version"] == "2.23"
    assert reply.data == {"added": 5, "errors": 0, "errors_info": {}}

    stored = {doc["type"]: doc for doc in events.find({"task": task})}
    assert set(stored) == {"training_stats_scalar", "training_stats_vector", "plot", "training_debug_image", "log"}
    for doc in stored.values():
        assert doc["company"] and doc["model_event"] is False
        assert isinstance(doc["timestamp"], int) and doc["time"].tzinfo is not None
        assert "method" not in doc and "allow_locked" not in doc
    sc = stored["training_stats_scalar"]
    assert (sc["iter"], sc["metric"], sc["variant"], sc["value"]) == (2, "loss", "train", 0.5)
    assert sc["timestamp"] == NOW_MS + 2
    assert sc["time"] == datetime.fromtimestamp((NOW_MS + 2) // 1000, timezone.utc).replace(
        microsecond=(NOW_MS + 2) % 1000 * 1000)
    assert sc["worker"] == "host-a"  # from the header, as the event names none
    assert stored["training_stats_vector"]["values"] == [1.0, 2.5]
    assert stored["plot"]["plot_str"] == '{"data": [], "layout": {}}'
    assert stored["training_debug_image"]["key"] == image_key
    assert stored["training_debug_image"]["url"] == f"http://files/{image_key}"
    lg = stored["log"]
    assert (lg["msg"], lg["level"], lg["worker"]) == ("line one\nline two", "info", "vm")
    assert "iter" not in lg and lg["metric"] == "" and lg["variant"] == ""


def test_agent_style_unversioned_post(api, task, events):
    lines = [
        {"type": "log", "level": "INFO", "task": task, "worker": "vm:0", "msg": f"task {task} pulled",
         "timestamp": NOW_MS},
        {"type": "log", "level": "DEBUG", "task": task, "worker": "vm:0", "msg": "stdout", "timestamp": NOW_MS + 1},
        {"type": "log", "level": "ERROR", "task": task, "worker": "vm:0", "msg": "User aborted",
         "timestamp": NOW_MS + 2},
    ]
    reply = send_batch(api, lines, method="POST", version=None)
    assert reply.status == 200 and reply.data["added"] == 3 and reply.data["errors"] == 0
    docs = list(events.find({"task": task}).sort("timestamp", 1))
    assert [(d["level"], d["worker"]) for d in docs] == [("INFO", "vm:0"), ("DEBUG", "vm:0"), ("ERROR", "vm:0")]


def test_event_without_timestamp_gets_the_server_time(api, task, events):
    before = int(time.time() * 1000)
    add_batch(api, [{"type": "log", "task": task, "msg": "no time"}])
    doc = events.find_one({"task": task})
    assert before - 1000 <= doc["timestamp"] <= int(time.time() * 1000) + 1000


# -- bad lines --------------------------------------------------------------------------------------------------
def test_bad_lines_are_reported_and_good_lines_kept(api, task, events):
    unknown = uuid.uuid4().hex
    batch = [
        scalar(task, 1, 1.0),
        "{not json",
        json.dumps([1, 2]),
        {"task": task, "iter": 1, "value": 1},
        {"type": "bogus", "task": task},
        {"type": "training_stats_scalar", "iter": 1, "value": 1},
        scalar(unknown, 1, 1.0),
        scalar(unknown, 2, 1.0),
        {**scalar(task, 0, 1.0), "iter": "abc"},
        scalar(task, 3, "high"),
        scalar(task, 4, 1.0, metric=5),
        log_line(task, "kept"),
    ]
    data = add_batch(api, batch)
    assert data["added"] == 2 and data["errors"] == 10
    assert data["errors_info"] == {
        "Invalid JSON": 1,
        "Event must be a JSON object": 1,
        "Event must have a 'type' field": 1,
        "Invalid event type bogus": 1,
        "Event must have a 'task' field": 1,
        f"Invalid task id {unknown}": 2,
        "Event field 'iter' must be an integer": 1,
        "Event field 'value' must be a finite number": 1,
        "Event field 'metric' must be a string": 1,
    }
    assert sorted(d["type"] for d in events.find({"task": task})) == ["log", "training_stats_scalar"]
    assert events.count_documents({"task": unknown}) == 0


def test_a_batch_with_no_good_line_is_refused_with_the_reasons(api):
    unknown = uuid.uuid4().hex
    reply = send_batch(api, [scalar(unknown, 1, 1.0), "nope"])
    assert reply.code == (400, 131) and reply.status == 400 and reply.data == {}
    assert reply.meta["error_data"] == {f"Invalid task id {unknown}": 1, "Invalid JSON": 1}
    assert unknown in reply.meta["result_msg"]


def test_empty_batch_is_refused(api):
    reply = send_batch(api, ["", "  "])
    assert reply.code == (400, 17)


def test_a_published_task_takes_events_only_with_allow_locked(api, task, backend, events):
    backend["tasks"].update_one({"_id": task}, {"$set": {"status": "published"}})
    reply = send_batch(api, [scalar(task, 1, 1.0)])
    assert reply.code == (400, 131)
    assert reply.meta["error_data"] == {f"Invalid task id {task}: task is published (use allow_locked)": 1}
    data = add_batch(api, [scalar(task, 1, 1.0, allow_locked=True)])
    assert data["added"] == 1 and events.count_documents({"task": task}) == 1


def test_requires_a_token(anon):
    reply = anon.send("events.add_batch", body=json.dumps(log_line(uuid.uuid4().hex, "x")), headers=JSON_LINES)
    assert reply.code == (401, 20) and reply.status == 401
    reply = anon.send("events.add", log_line(uuid.uuid4().hex, "x"))
    assert reply.code == (401, 20)


# -- idempotency -----------------------------------------------------------------------------------------------
def test_resending_a_metrics_batch_replaces_instead_of_duplicating(api, task, events):
    batch = [scalar(task, i, float(i)) for i in range(3)] + [
        {"timestamp": NOW_MS, "type": "plot", "task": task, "iter": 0, "metric": "p", "variant": "v",
         "plot_str": "{}"},
    ]
    for _ in range(2):
        assert add_batch(api, batch)["added"] == 4
    assert events.count_documents({"task": task}) == 4
    # A changed value for the same iteration overwrites the stored one.
    add_batch(api, [scalar(task, 1, 42.0)])
    assert events.count_documents({"task": task, "type": "training_stats_scalar"}) == 3
    assert events.find_one({"task": task, "iter": 1})["value"] == 42.0
    # The resends did not count twice.
    assert get_task(api, task)["last_metrics"][md5("loss")][md5("train")]["count"] == 3


def test_resending_a_log_batch_stores_its_lines_once_and_new_batches_append(api, task, events):
    # A batch sent again as it was (a client's retry after an answer lost with a killed worker) is stored
    # once; the same lines in another batch are new lines (tests/stress/test_faults_api_workers.py).
    batch = [log_line(task, "same line"), log_line(task, "same line"), log_line(task, "another")]
    assert add_batch(api, batch)["added"] == 3
    assert add_batch(api, batch)["added"] == 3
    assert events.count_documents({"task": task, "type": "log"}) == 3
    add_batch(api, batch[:2])
    assert events.count_documents({"task": task, "type": "log"}) == 5
    # The retry got its first try's console positions: 0..4, no gap, and the console's total is 5.
    assert sorted(d["seq"] for d in events.find({"task": task, "type": "log"})) == [0, 1, 2, 3, 4]
    assert api.ok("events.get_task_log_lines", task=task, limit=10)["total"] == 5


def test_debug_images_of_one_iteration_are_kept_apart_by_key(api, task, events):
    def image(key):
        return {"type": "training_debug_image", "task": task, "iter": 0, "metric": "m", "variant": "v",
                "key": key, "url": f"http://files/{key}"}
    add_batch(api, [image("a.jpeg"), image("b.jpeg"), image("a.jpeg")])
    assert sorted(d["key"] for d in events.find({"task": task})) == ["a.jpeg", "b.jpeg"]


# -- the task's summary ----------------------------------------------------------------------------------------
def test_last_iteration_and_last_metrics_after_three_iterations_of_two_variants(api, task):
    values = {"train": [0.9, 0.4, 0.6], "val": [1.0, 1.5, 0.2]}
    batch = [scalar(task, it, values[v][it], variant=v) for it in (2, 0, 1) for v in ("train", "val")]
    add_batch(api, batch)
    task_doc = get_task(api, task)
    assert task_doc["last_iteration"] == 2
    loss = task_doc["last_metrics"][md5("loss")]
    assert set(loss) == {md5("train"), md5("val")}
    train, val = loss[md5("train")], loss[md5("val")]
    assert (train["metric"], train["variant"]) == ("loss", "train")
    assert (train["value"], train["count"]) == (0.6, 3)
    assert (train["min_value"], train["min_value_iteration"]) == (0.4, 1)
    assert (train["max_value"], train["max_value_iteration"]) == (0.9, 0)
    assert (train["first_value"], train["first_value_iteration"]) == (0.9, 0)
    assert (val["value"], val["min_value"], val["min_value_iteration"]) == (0.2, 0.2, 2)
    assert (val["max_value"], val["max_value_iteration"], val["first_value"]) == (1.5, 1, 1.0)

    # A later batch merges: an older iteration changes min/first but not the latest value; a newer one does.
    add_batch(api, [scalar(task, -1, 0.1, variant="train")])
    train = get_task(api, task)["last_metrics"][md5("loss")][md5("train")]
    assert (train["value"], train["min_value"], train["min_value_iteration"]) == (0.6, 0.1, -1)
    assert (train["first_value"], train["first_value_iteration"], train["count"]) == (0.1, -1, 4)
    add_batch(api, [scalar(task, 5, 2.0, variant="train")])
    task_doc = get_task(api, task)
    train = task_doc["last_metrics"][md5("loss")][md5("train")]
    assert (train["value"], train["max_value"], train["max_value_iteration"], train["count"]) == (2.0, 2.0, 5, 5)
    assert task_doc["last_iteration"] == 5


def test_last_iteration_is_never_lowered_and_last_update_moves(api, task):
    before = datetime.fromisoformat(get_task(api, task)["last_update"])
    time.sleep(0.01)
    add_batch(api, [scalar(task, 10, 1.0)])
    add_batch(api, [scalar(task, 3, 1.0)])
    task_doc = get_task(api, task)
    assert task_doc["last_iteration"] == 10
    after = datetime.fromisoformat(task_doc["last_update"])
    assert after > before
    time.sleep(0.01)
    add_batch(api, [log_line(task, "a log line moves last_update too")])
    assert datetime.fromisoformat(get_task(api, task)["last_update"]) > after


def test_metric_names_with_dots_and_dollars_are_kept_verbatim(api, task):
    add_batch(api, [scalar(task, 0, 1.0, metric="$acc.top", variant=":monitor:machine/cpu.usage")])
    entry = get_task(api, task)["last_metrics"][md5("$acc.top")][md5(":monitor:machine/cpu.usage")]
    assert (entry["metric"], entry["variant"], entry["value"]) == ("$acc.top", ":monitor:machine/cpu.usage", 1.0)


def test_concurrent_batches_lose_no_update(api, task):
    def send(iteration):
        add_batch(api, [scalar(task, iteration, float(iteration), variant=v) for v in ("a", "b")])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, range(24)))
    task_doc = get_task(api, task)
    assert task_doc["last_iteration"] == 23
    for variant in ("a", "b"):
        entry = task_doc["last_metrics"][md5("loss")][md5(variant)]
        assert entry["count"] == 24 and entry["value"] == 23.0
        assert (entry["min_value"], entry["max_value"], entry["first_value"]) == (0.0, 23.0, 0.0)


# -- events.add and model events -------------------------------------------------------------------------------
def test_events_add_takes_one_event(api, task, events):
    data = api.ok("events.add", **scalar(task, 7, 3.5))
    assert data == {"added": 1, "errors": 0, "errors_info": {}}
    assert events.find_one({"task": task})["value"] == 3.5
    assert get_task(api, task)["last_iteration"] == 7
    reply = api.send("events.add", {"type": "log"})
    assert reply.code == (400, 131) and reply.meta["error_data"] == {"Event must have a 'task' field": 1}


def test_model_events_go_to_the_model(api, project, events):
    model = api.ok("models.create", uri="file:///tmp/w.pt", name=unique("model"), project=project)["id"]
    data = add_batch(api, [
        {"type": "training_stats_scalar", "task": model, "model_event": True, "iter": 4, "metric": "m",
         "variant": "v", "value": 1.5},
        {"type": "log", "task": model, "model_event": True, "msg": "x"},
    ])
    assert data["added"] == 1 and data["errors_info"] == {"Task log events are not supported for models": 1}
    assert events.find_one({"task": model})["model_event"] is True
    stored = api.ok("models.get_by_id", model=model)["model"]
    assert stored["last_iteration"] == 4
    assert stored["last_metrics"][md5("m")][md5("v")]["value"] == 1.5


# -- services.tasks.max_last_metrics ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def capped_api(mongo_server, tmp_path_factory):
    """A second API process on the same database, keeping at most 3 metric/variant pairs per task."""
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("capped"),
                       {"CLEARML__SERVICES__TASKS__MAX_LAST_METRICS": "3"})
    yield ApiClient(server.url, server.key, server.secret).login()
    stop_in_background(server.process)


def test_last_metrics_keeps_at_most_the_configured_pairs(capped_api, events):
    api = capped_api
    project = create_project(api, unique("capped"))
    task = api.ok("tasks.create", name=unique("task"), type="training", project=project)["id"]
    add_batch(api, [scalar(task, 0, 1.0, variant=v) for v in ("a", "b")])
    # Two new pairs, room for one: the first fits, the other is not summarised (but its event is stored).
    data = add_batch(api, [scalar(task, 1, 2.0, variant=v) for v in ("c", "d")] + [scalar(task, 1, 5.0, variant="a")])
    assert data["added"] == 3
    loss = get_task(api, task)["last_metrics"][md5("loss")]
    assert set(loss) == {md5("a"), md5("b"), md5("c")}
    assert loss[md5("a")]["value"] == 5.0  # pairs already kept are still updated
    assert events.count_documents({"task": task, "variant": "d"}) == 1
    add_batch(api, [scalar(task, 2, 1.0, metric="other")])
    task_doc = get_task(api, task)
    assert md5("other") not in task_doc["last_metrics"] and task_doc["last_iteration"] == 2


def test_reset_and_delete_remove_the_task_events(api, task, events):
    add_batch(api, [scalar(task, 1, 0.5), log_line(task, "hello")])
    assert events.count_documents({"task": task}) == 2
    reset = api.ok("tasks.reset", task=task, force=True)
    assert reset["events"] == {"deleted": 2}
    assert events.count_documents({"task": task}) == 0
    add_batch(api, [scalar(task, 1, 0.5)])
    deleted = api.ok("tasks.delete", task=task, force=True)
    assert deleted["events"] == {"deleted": 1}
    assert events.count_documents({"task": task}) == 0
