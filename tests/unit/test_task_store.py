"""TaskStore's conditional writes: a change made between the read and the write is never overwritten."""
from __future__ import annotations

import mongomock_ng
import pytest

from trackside.api import errors
from trackside.api.bll.task_store import EDIT_ATTEMPTS, TaskStore
from trackside.api.context import Identity

ME = Identity(user="u1", company="c1", role="user")


@pytest.fixture
def store() -> TaskStore:
    coll = mongomock_ng.MongoClient().db.tasks
    coll.insert_one({"_id": "t1", "company": "c1", "status": "created", "hyperparams": {"A": {}}})
    return TaskStore(coll)


def test_status_guarded_update_fails_when_the_status_moved(store):
    task = store.load("c1", "t1")
    store.coll.update_one({"_id": "t1"}, {"$set": {"status": "queued"}})
    with pytest.raises(errors.FailedChangingTaskStatus):
        store.update_if_status("c1", task, {"$set": {"status": "in_progress"}})
    assert store.coll.find_one({"_id": "t1"})["status"] == "queued"


def test_contents_update_lands_beside_a_concurrent_edit_of_another_field(store):
    # Another writer changes a different parameter between any read and this write: both stay.
    store.coll.update_one({"_id": "t1"}, {"$set": {"hyperparams.B": {}}})
    assert store.update_contents(ME, "t1", {"$set": {"hyperparams.C": {}}}, ["created"], check=lambda t: None) == 1
    stored = store.coll.find_one({"_id": "t1"})
    assert set(stored["hyperparams"]) == {"A", "B", "C"} and stored["last_changed_by"] == "u1"


def test_contents_update_refused_by_status_runs_the_check(store):
    store.coll.update_one({"_id": "t1"}, {"$set": {"status": "published"}})

    def refuse(task):
        assert task["status"] == "published"
        raise errors.InvalidTaskStatus("no")

    with pytest.raises(errors.InvalidTaskStatus):
        store.update_contents(ME, "t1", {"$set": {"hyperparams.C": {}}}, ["created"], check=refuse)
    assert "C" not in store.coll.find_one({"_id": "t1"})["hyperparams"]


def test_contents_update_gives_up_on_a_status_that_keeps_flapping(store):
    calls = []

    def flapping(task):
        # The write saw "queued"; by the re-read the status allows the edit again.
        calls.append(1)

    store.coll.update_one({"_id": "t1"}, {"$set": {"status": "queued"}})
    with pytest.raises(errors.FailedChangingTaskStatus):
        store.update_contents(ME, "t1", {"$set": {"hyperparams.C": {}}}, ["created"], check=flapping)
    assert len(calls) == EDIT_ATTEMPTS


def test_try_update_reports_a_failed_precondition_and_names_unknown_tasks(store):
    assert not store.try_update(ME, "t1", {"$set": {"x": 1}}, None, check=lambda t: None,
                                precondition={"hyperparams.A": {"$exists": False}})
    with pytest.raises(errors.InvalidTaskId) as missing:
        store.try_update(ME, "nope", {"$set": {"x": 1}}, None, check=lambda t: None)
    assert "nope" in missing.value.message


def test_load_unescapes_parameter_keys(store):
    store.coll.update_one({"_id": "t1"}, {"$set": {"hyperparams": {"a%2Eb": {"c%24d": {"name": "c$d"}}},
                                                   "configuration": {"x%25y": {"name": "x%y"}}}})
    task = store.load("c1", "t1")
    assert task["hyperparams"] == {"a.b": {"c$d": {"name": "c$d"}}}
    assert task["configuration"] == {"x%y": {"name": "x%y"}}
