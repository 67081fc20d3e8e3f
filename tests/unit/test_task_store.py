"""TaskStore's conditional writes: a change made between the read and the write is never overwritten."""
from __future__ import annotations

import mongomock_ng
import pytest

from trackside.api import errors
from trackside.api.bll.task_store import MODIFY_ATTEMPTS, TaskStore
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


def test_modify_redoes_the_change_on_fresh_data(store):
    def add_b_while_racing(current):
        if "B" not in store.coll.find_one({"_id": "t1"})["hyperparams"]:
            # Another writer lands between this read and the write.
            store.coll.update_one({"_id": "t1"}, {"$set": {"hyperparams.B": {}}})
        return {**current, "C": {}}

    assert store.modify(ME, "t1", "hyperparams", add_b_while_racing, check=lambda task: None) == 1
    assert set(store.coll.find_one({"_id": "t1"})["hyperparams"]) == {"A", "B", "C"}


def test_modify_gives_up_when_it_never_wins(store):
    calls = []

    def always_racing(current):
        calls.append(1)
        store.coll.update_one({"_id": "t1"}, {"$set": {"hyperparams.n": len(calls)}})
        return current

    with pytest.raises(errors.FailedChangingTaskStatus):
        store.modify(ME, "t1", "hyperparams", always_racing, check=lambda task: None)
    assert len(calls) == MODIFY_ATTEMPTS


def test_modify_runs_the_check_and_names_unknown_tasks(store):
    def refuse(task):
        raise errors.InvalidTaskStatus("no")

    with pytest.raises(errors.InvalidTaskStatus):
        store.modify(ME, "t1", "hyperparams", lambda c: c, check=refuse)
    with pytest.raises(errors.InvalidTaskId) as missing:
        store.load("c1", "nope")
    assert "nope" in missing.value.message
