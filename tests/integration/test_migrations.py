"""Schema migrations: a database written by the previous layout is upgraded when the API starts, by exactly
one of several API processes starting together, and reads back as today's clients expect."""
from __future__ import annotations

import copy
import threading
from datetime import datetime, timezone

import pymongo

from support.client import ApiClient
from support.suite import start_api, start_mongo
from trackside.api.migrations import STEPS, apply_pending
from trackside.api.migrations.lock import LOCK_ID, Lease
from trackside.api.migrations.m0001_escape_param_keys import migrated
from trackside.api.migrations.step import Step

STEP_ID = "0001_escape_param_keys"


def _param(section, name, value):
    return {"section": section, "name": name, "value": value, "type": "str", "description": ""}


# What the previous layout stored: names as written (a dotted key, a dotted name nested by a path update,
# `%` and `$` kept), and an old client's execution.parameters / model_desc kept as sent.
OLD_HYPERPARAMS = {
    "Args": {"lr": _param("Args", "lr", "0.1"), "opt.momentum": _param("Args", "opt.momentum", "0.9"),
             "data": {"root": _param("Args", "data.root", "/d")}, "50%": _param("Args", "50%", "half"),
             "a%2Eb": _param("Args", "a%2Eb", "literal")},
    "my.section": {"$cost": _param("my.section", "$cost", "3")},
}
OLD_CONFIGURATION = {"cfg.v1": {"name": "cfg.v1", "value": "x: 1", "type": "yaml"}}
LEGACY_EXECUTION = {"parameters": {"batch": 32, "TF_DEFINE/steps": "100"}, "model_desc": {"layers": "3"}}


def _old_task(template: dict, task_id: str, **fields) -> dict:
    doc = copy.deepcopy(template)
    doc.update(_id=task_id, name=task_id, **fields)
    doc["execution"] = {**doc.get("execution", {}), "parameters": {}, "model_desc": {},
                        **fields.get("execution", {})}
    return doc


def test_start_up_upgrades_the_previous_layout_once(tmp_path, redis_server):
    mongo = start_mongo(tmp_path / "mongo")
    servers = []
    try:
        # A task document exactly as today's API writes it, to shape the old ones from.
        first = start_api(mongo.port, tmp_path / "api0", redis_port=redis_server.port)
        servers.append(first)
        client = ApiClient(first.url, first.key, first.secret).login()
        template_id = client.ok("tasks.create", name="template", type="training")["id"]
        first.process.stop()
        db = pymongo.MongoClient("127.0.0.1", mongo.port, directConnection=True, tz_aware=True)["backend"]
        template = db["tasks"].find_one({"_id": template_id})
        db["tasks"].insert_many([
            _old_task(template, "oldparams", hyperparams=OLD_HYPERPARAMS, configuration=OLD_CONFIGURATION),
            _old_task(template, "oldlegacy", execution=LEGACY_EXECUTION),
        ])
        db["migrations"].drop()  # the previous layout had no record

        # Two API processes (two gunicorn workers each) start together on the old database.
        started, threads = [], []
        for n in (1, 2):
            thread = threading.Thread(target=lambda n=n: started.append(
                start_api(mongo.port, tmp_path / f"api{n}", redis_port=redis_server.port)))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        servers.extend(started)
        assert len(started) == 2

        records = list(db["migrations"].find())
        assert [r["_id"] for r in records] == [step.id for step in STEPS]
        record = records[0]
        assert record["_id"] == STEP_ID and record["changed"] == 2 and record["version"] and record["applied"]

        for server in started:
            api = ApiClient(server.url, server.key, server.secret).login()
            task = api.ok("tasks.get_by_id", task="oldparams")["task"]
            assert task["hyperparams"] == {
                "Args": {name: _param("Args", name, value) for name, value in
                         [("lr", "0.1"), ("opt.momentum", "0.9"), ("data.root", "/d"), ("50%", "half"),
                          ("a%2Eb", "literal")]},
                "my.section": {"$cost": _param("my.section", "$cost", "3")},
            }
            assert task["configuration"] == OLD_CONFIGURATION
            legacy = api.ok("tasks.get_by_id", task="oldlegacy")["task"]
            assert legacy["hyperparams"] == {
                "Args": {"batch": {"section": "Args", "name": "batch", "type": "legacy", "value": "32"}},
                "TF_DEFINE": {"steps": {"section": "TF_DEFINE", "name": "steps", "type": "legacy", "value": "100"}},
            }
            assert legacy["configuration"] == {"layers": {"name": "layers", "type": "legacy", "value": "3"}}
            old_client = api.send("tasks.get_by_id", {"task": "oldlegacy"}, version="2.8").data["task"]
            assert old_client["execution"]["parameters"] == {"batch": "32", "TF_DEFINE/steps": "100"}

        # Escaped keys give each migrated parameter its own path: a one-parameter edit leaves the others.
        api.ok("tasks.edit_hyper_params", task="oldparams", hyperparams=[_param("Args", "opt.momentum", "0.5")])
        edited = api.ok("tasks.get_by_id", task="oldparams")["task"]["hyperparams"]["Args"]
        assert edited["opt.momentum"]["value"] == "0.5" and edited["data.root"]["value"] == "/d"
        stored = db["tasks"].find_one({"_id": "oldparams"})["hyperparams"]
        assert set(stored["Args"]) == {"lr", "opt%2Emomentum", "data%2Eroot", "50%25", "a%252Eb"}
        assert set(stored) == {"Args", "my%2Esection"} and set(stored["my%2Esection"]) == {"%24cost"}

        # Applying again (a restart, or trackside-admin migrate) finds nothing to do.
        assert apply_pending(db) == []
        assert migrated(db["tasks"].find_one({"_id": "oldlegacy"})) == {}
        assert db["migrations"].count_documents({}) == len(STEPS)
    finally:
        for server in servers:
            server.process.stop()
        mongo.stop()


def test_lock_is_exclusive_and_a_lapsed_lease_is_taken_over(backend):
    coll = backend["migrations_lock_test"]
    coll.delete_many({})
    holder, other = Lease(coll, seconds=30), Lease(coll, seconds=30)
    assert holder.try_acquire() and not other.try_acquire()
    coll.update_one({"_id": LOCK_ID}, {"$set": {"expires": coll.find_one({"_id": LOCK_ID})["expires"].replace(year=2000)}})
    assert other.try_acquire()
    try:
        holder.renew(force=True)
        raise AssertionError("a taken-over lease renewed")
    except RuntimeError:
        pass
    holder.release()  # not the owner any more: nothing happens
    assert coll.find_one({"_id": LOCK_ID})["owner"] == other.owner
    other.release()
    assert coll.count_documents({}) == 0
    backend.drop_collection(coll.name)


def test_steps_apply_in_order_and_are_recorded_once(backend):
    db = backend.client["migrations_order_test"]
    db.drop_collection("migrations")
    calls = []
    steps = [Step(f"000{n}_test", "test", lambda db, progress, n=n: calls.append(n) or 0) for n in (1, 2)]
    assert apply_pending(db, steps[:1]) == ["0001_test"]
    assert apply_pending(db, steps) == ["0002_test"]
    assert apply_pending(db, steps) == [] and calls == [1, 2]
    backend.client.drop_database("migrations_order_test")


def test_a_holder_that_lost_its_lease_waits_and_the_step_is_recorded_once(backend):
    db = backend.client["migrations_lease_test"]
    db.drop_collection("migrations")
    calls = []

    def stalls_once(db, progress):
        calls.append(1)
        if len(calls) == 1:  # as if this process stalled and another took the lapsed lock over (and died)
            db["migrations"].update_one({"_id": LOCK_ID}, {"$set": {"owner": "another", "expires":
                                                                    datetime(2000, 1, 1, tzinfo=timezone.utc)}})
            progress()
        return 0

    assert apply_pending(db, [Step("0001_test", "test", stalls_once)], lease_seconds=0.01) == ["0001_test"]
    assert len(calls) == 2 and [r["_id"] for r in db["migrations"].find()] == ["0001_test"]
    backend.client.drop_database("migrations_lease_test")
