"""The events store: validation and normalisation (pure), the MongoDB backend and the task-summary updates on
an in-process mongomock_ng database. The real Mongo-wire path is tests/integration/test_events_ingest.py."""
from __future__ import annotations

from datetime import datetime, timezone

import mongomock_ng
import pytest

from trackside.api.bll.events import EntitySummary, _stored_pairs, field_hash, merge_means, summary_updates
from trackside.shared.events import (
    LOG, SCALAR, EventStore, InvalidEvent, allows_locked, event_id, normalise, open_store, register_backend,
)
from trackside.shared.events.mongo import MongoEventStore

COMPANY = "c" * 32
TASK = "t" * 32


def scalar(**fields) -> dict:
    return {"type": SCALAR, "task": TASK, "iter": 1, "metric": "loss", "variant": "train", "value": 0.5,
            "timestamp": 1_700_000_000_123, **fields}


# -- normalise -------------------------------------------------------------------------------------------------
def test_a_scalar_keeps_its_fields_and_drops_unknown_ones():
    event = normalise(scalar(method="get", allow_locked=True, junk=1), COMPANY, worker="host")
    assert event == {
        "id": event["id"], "company": COMPANY, "task": TASK, "type": SCALAR, "model_event": False,
        "timestamp": 1_700_000_000_123, "time": datetime(2023, 11, 14, 22, 13, 20, 123000, timezone.utc),
        "metric": "loss", "variant": "train", "worker": "host", "iter": 1, "value": 0.5,
    }


def test_each_type_keeps_its_own_fields():
    vector = normalise({"type": "training_stats_vector", "task": TASK, "values": [1, 2]}, COMPANY)
    plot = normalise({"type": "plot", "task": TASK, "plot_str": "{}"}, COMPANY)
    image = normalise({"type": "training_debug_image", "task": TASK, "key": "k", "url": "u"}, COMPANY)
    log = normalise({"type": "log", "task": TASK, "msg": "m", "level": "INFO", "worker": "vm:0"}, COMPANY, "h")
    assert vector["values"] == [1.0, 2.0]
    assert plot["plot_str"] == "{}"
    assert (image["key"], image["url"]) == ("k", "u")
    assert (log["msg"], log["level"], log["worker"]) == ("m", "INFO", "vm:0")  # the event's worker wins
    assert (log["metric"], log["variant"]) == ("", "")


def test_legacy_spellings():
    event = normalise({"type": "training stats scalar", "task": TASK, "value": 1, "ts": 5}, COMPANY)
    assert (event["type"], event["timestamp"]) == (SCALAR, 5)
    vector = normalise({"type": "training_stats_vector", "task": TASK, "value": [3]}, COMPANY)
    assert vector["values"] == [3.0]
    model = normalise(scalar(model_event=True, model="m" * 32, task=None), COMPANY)
    assert model["task"] == "m" * 32 and model["model_event"] is True


def test_missing_timestamp_takes_the_given_time():
    assert normalise({"type": LOG, "task": TASK}, COMPANY, now_ms=42)["timestamp"] == 42


def test_iterations_are_coerced_like_the_reference():
    assert normalise(scalar(iter=3.0), COMPANY)["iter"] == 3
    assert normalise(scalar(iter="7"), COMPANY)["iter"] == 7
    assert "iter" not in normalise({"type": LOG, "task": TASK}, COMPANY)


@pytest.mark.parametrize("raw, reason", [
    ([1], "Event must be a JSON object"),
    ({"task": TASK}, "Event must have a 'type' field"),
    ({"type": 5, "task": TASK}, "Event field 'type' must be a string"),
    ({"type": "bogus", "task": TASK}, "Invalid event type bogus"),
    ({"type": LOG}, "Event must have a 'task' field"),
    ({"type": LOG, "task": 5}, "Event field 'task' must be a non-empty string"),
    ({"type": LOG, "task": TASK, "model_event": True}, "Task log events are not supported for models"),
    ({"type": LOG, "task": TASK, "model_event": "yes"}, "Event field 'model_event' must be a boolean"),
    (scalar(iter="x"), "Event field 'iter' must be an integer"),
    (scalar(iter=True), "Event field 'iter' must be an integer"),
    (scalar(iter=2**63), "Iteration number should not exceed 9223372036854775807"),
    (scalar(value=None), "Event field 'value' must be a finite number"),
    (scalar(value="1"), "Event field 'value' must be a finite number"),
    (scalar(value=float("nan")), "Event field 'value' must be a finite number"),
    (scalar(value=float("inf")), "Event field 'value' must be a finite number"),
    (scalar(metric=1), "Event field 'metric' must be a string"),
    (scalar(timestamp="now"), "Event field 'timestamp' must be a finite number"),
    (scalar(timestamp=10**20), "Event field 'timestamp' is out of range (epoch milliseconds expected)"),
    ({"type": "training_stats_vector", "task": TASK, "values": [1, "a"]},
     "Event field 'values' must be a finite number"),
    ({"type": "training_stats_vector", "task": TASK}, "Event field 'values' must be a list of numbers"),
    ({"type": "plot", "task": TASK, "plot_str": {}}, "Event field 'plot_str' must be a string"),
])
def test_invalid_events_name_their_reason(raw, reason):
    with pytest.raises(InvalidEvent) as exc:
        normalise(raw, COMPANY)
    assert exc.value.reason == reason


def test_allow_locked_must_be_true_exactly():
    assert allows_locked({"allow_locked": True})
    assert not allows_locked({"allow_locked": "true"}) and not allows_locked([1])


# -- ids ---------------------------------------------------------------------------------------------------------
def test_metric_event_ids_are_deterministic_and_log_ids_are_not():
    first, again = normalise(scalar(value=1), COMPANY), normalise(scalar(value=2, timestamp=9), COMPANY)
    assert first["id"] == again["id"] and len(first["id"]) == 32
    assert event_id({**first, "iter": 2}) != first["id"]
    assert event_id({**first, "company": "other"}) != first["id"]
    assert event_id({**first, "type": "plot"}) != first["id"]
    image = normalise({"type": "training_debug_image", "task": TASK, "iter": 1, "key": "a"}, COMPANY)
    assert event_id({**image, "key": "b"}) != image["id"]
    log = {"type": LOG, "task": TASK, "msg": "same"}
    assert normalise(log, COMPANY)["id"] != normalise(log, COMPANY)["id"]


# -- backends ----------------------------------------------------------------------------------------------------
def test_open_store_picks_the_backend_by_name():
    db = mongomock_ng.MongoClient().db
    assert isinstance(open_store("mongo", db=db), MongoEventStore)
    with pytest.raises(ValueError, match="unknown events store 'nosuch'"):
        open_store("nosuch")


def test_backends_can_be_registered():
    register_backend("test-null", f"{__name__}:NullStore")
    assert isinstance(open_store("test-null"), NullStore)


class NullStore(EventStore):
    def write(self, events):
        raise NotImplementedError

    def delete_for_tasks(self, company, task_ids, model_events=False):
        return 0

    def search(self, flt, sort, limit, after=None, fields=None):
        raise NotImplementedError

    def count(self, flt):
        return 0

    def series(self, flt):
        return {}


@pytest.fixture
def store():
    store = MongoEventStore(mongomock_ng.MongoClient().db)
    store.setup()
    return store


def test_the_mongo_backend_replaces_metric_events_and_appends_logs(store):
    events = [normalise(scalar(iter=i), COMPANY) for i in range(3)]
    events.append(normalise({"type": LOG, "task": TASK}, COMPANY))
    first = store.write(events)
    assert first.created == {0, 1, 2, 3} and not first.failed
    resent = [normalise(scalar(iter=i, value=9), COMPANY) for i in range(3)]
    resent.append(normalise({"type": LOG, "task": TASK}, COMPANY))
    second = store.write(resent)
    assert second.created == {3} and not second.failed
    assert store.coll.count_documents({"type": SCALAR}) == 3 and store.coll.count_documents({"type": LOG}) == 2
    assert {d["value"] for d in store.coll.find({"type": SCALAR})} == {9.0}
    stored = store.coll.find_one({"_id": events[0]["id"]})
    assert "id" not in stored and stored["task"] == TASK


def test_the_mongo_backend_deletes_a_tasks_events(store):
    store.write([normalise(scalar(), COMPANY), normalise({"type": LOG, "task": "other"}, COMPANY)])
    assert store.delete_for_tasks(COMPANY, [TASK]) == 1
    assert store.delete_for_tasks(COMPANY, []) == 0
    assert store.coll.count_documents({}) == 1


# -- task summaries ----------------------------------------------------------------------------------------------
def apply(tasks, events, created=True):
    summary = EntitySummary()
    for raw in events:
        summary.add(normalise(raw, COMPANY), created)
    query = {"_id": TASK, "company": COMPANY}
    stored = _stored_pairs(tasks, query, summary.pairs)
    tasks.bulk_write(summary_updates(query, summary, summary.pairs, datetime.now(timezone.utc)), ordered=False)
    merge_means(tasks, query, summary.pairs, stored)
    return tasks.find_one(query)


def test_summary_updates_merge_batches():
    tasks = mongomock_ng.MongoClient().db.tasks
    tasks.insert_one({"_id": TASK, "company": COMPANY, "last_iteration": 0, "last_metrics": {}})
    apply(tasks, [scalar(iter=2, value=0.6), scalar(iter=0, value=0.9), scalar(iter=1, value=0.4)])
    task = apply(tasks, [scalar(iter=-1, value=1.5), scalar(iter=5, value=0.5)])
    entry = task["last_metrics"][field_hash("loss")][field_hash("train")]
    assert task["last_iteration"] == 5
    assert entry == {
        "metric": "loss", "variant": "train", "count": 5, "value_sum": (0.6 + 0.9 + 0.4) + (1.5 + 0.5),
        "mean_value": ((0.6 + 0.9 + 0.4) + (1.5 + 0.5)) / 5,
        "value": 0.5, "value_iteration": 5,
        "min_value": 0.4, "min_value_iteration": 1,
        "max_value": 1.5, "max_value_iteration": -1,
        "first_value": 1.5, "first_value_iteration": -1,
    }
    # A resend (nothing new in the store) changes nothing but the time.
    again = apply(tasks, [scalar(iter=5, value=0.5)], created=False)
    assert again["last_metrics"] == task["last_metrics"] and again["last_iteration"] == 5


def test_summary_updates_never_lower_last_iteration():
    tasks = mongomock_ng.MongoClient().db.tasks
    tasks.insert_one({"_id": TASK, "company": COMPANY, "last_iteration": 50})
    assert apply(tasks, [scalar(iter=3)])["last_iteration"] == 50
