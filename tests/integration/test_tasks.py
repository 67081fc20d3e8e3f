"""tasks.*: the task lifecycle against the real API server and Mongo-wire database.

The database is shared by the whole session, so every test names its objects uniquely.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime

import pytest

from support.names import unique
from support.objects import create_project, create_queue, get_task


def new_task(api, **fields) -> str:
    return api.ok("tasks.create", **{"name": unique("task"), "type": "training", **fields})["id"]


def status_of(api, task_id: str) -> str:
    return get_task(api, task_id)["status"]


def queue_entries(api, queue_id: str) -> list[str]:
    return [e["task"] for e in api.ok("queues.get_by_id", queue=queue_id)["queue"]["entries"]]


@pytest.fixture
def project(api) -> str:
    return create_project(api, unique("proj"))


@pytest.fixture
def queue(api) -> str:
    return create_queue(api, unique("queue"))


# -- create and read ------------------------------------------------------------------------------------
def test_create_stores_the_defaults_the_clients_project(api, project):
    task_id = new_task(api, project=project, system_tags=["development"], comment="c")
    task = get_task(api, task_id)
    assert len(task_id) == 32 and task["id"] == task_id
    assert task["status"] == "created" and task["type"] == "training" and task["project"] == project
    assert task["runtime"] == {} and task["script"] == {} and task["hyperparams"] == {}
    assert task["configuration"] == {} and task["container"] == {} and task["output"] == {}
    assert task["models"] == {"input": [], "output": []}
    assert task["execution"]["parameters"] == {} and task["execution"]["artifacts"] == []
    assert task["execution"]["queue"] is None
    assert task["tags"] == [] and task["system_tags"] == ["development"]
    assert task["last_iteration"] == 0 and task["last_metrics"] == {}
    assert task["user"] and task["company"] and task["comment"] == "c"
    for key in ("created", "last_update", "last_change", "status_changed"):
        assert datetime.fromisoformat(task[key]).tzinfo is not None, key


def test_create_maps_legacy_output_dest_and_stamps_models(api):
    task = get_task(api, new_task(api, output_dest="http://files:8081",
                                  models={"input": [{"name": "in", "model": "m1"}]}, script={"binary": " python3 "}))
    assert task["output"] == {"destination": "http://files:8081"}
    assert task["models"]["input"][0]["model"] == "m1" and task["models"]["input"][0]["updated"]
    assert task["script"] == {"binary": "python3"}


@pytest.mark.parametrize("body, code, field", [
    ({"type": "training"}, (400, 11), "name"),
    ({"name": "x"}, (400, 11), "type"),
    ({"name": "x", "type": "no-such-type"}, (400, 12), "type"),
    ({"name": "x", "type": "training", "tags": "not-a-list"}, (400, 12), "tags"),
    ({"name": 5, "type": "training"}, (400, 12), "name"),
    ({"name": "x", "type": "training", "script": {"entry_point": 3}}, (400, 12), "script.entry_point"),
    ({"name": "x", "type": "training", "project": "f" * 32}, (400, 401), None),
    ({"name": "x", "type": "training", "parent": "f" * 32}, (400, 101), None),
])
def test_create_rejects_bad_input(api, body, code, field):
    reply = api.error("tasks.create", code, **body)
    if field:
        assert field in reply.meta["result_msg"]


def test_unknown_task_is_400_101_naming_the_id(api):
    missing = uuid.uuid4().hex
    assert missing in api.error("tasks.get_by_id", (400, 101), task=missing).meta["result_msg"]


def test_get_all_filters(api, project):
    name = unique("filter")
    first = new_task(api, name=f"{name}-a", project=project, type="training")
    second = new_task(api, name=f"{name}-b", project=project, type="testing", parent=first)
    api.ok("tasks.started", task=second)

    def ids(**query):
        return sorted(t["id"] for t in api.ok("tasks.get_all", **query)["tasks"])

    assert ids(name=f"^{name}") == sorted([first, second])
    assert ids(project=[project], type=["testing"]) == [second]
    assert ids(project=[project], status=["created"]) == [first]
    assert ids(project=[project], parent=first) == [second]
    assert ids(id=[first]) == [first]
    assert ids(project=[project], user=[get_task(api, first)["user"]]) == sorted([first, second])
    api.error("tasks.get_all", (400, 21), name="(unclosed")


def test_only_fields_keeps_an_existing_parent_subdocument(api):
    task_id = new_task(api)
    [task] = api.ok("tasks.get_all", id=[task_id], only_fields=["runtime.version", "status"])["tasks"]
    assert task == {"id": task_id, "runtime": {}, "status": "created"}


def test_paging_and_order_by(api, project):
    names = [f"p{i}" for i in range(5)]
    for name in names:
        new_task(api, name=name, project=project)

    def page(number, order):
        reply = api.ok("tasks.get_all", project=[project], only_fields=["name"], order_by=[order],
                       page=number, page_size=2)
        return [t["name"] for t in reply["tasks"]]

    assert page(0, "name") + page(1, "name") + page(2, "name") == names
    assert page(0, "-name") == ["p4", "p3"]
    assert page(3, "name") == []


def test_tag_operators(api, project):
    both = new_task(api, project=project, tags=["a", "b"])
    only_a = new_task(api, project=project, tags=["a"])
    untagged = new_task(api, project=project)

    def ids(tags):
        return {t["id"] for t in api.ok("tasks.get_all", project=[project], tags=tags)["tasks"]}

    assert ids(["a", "b"]) == {both, only_a}
    assert ids(["__$all", "a", "b"]) == {both}
    assert ids(["__$all", "a", "__$not", "b"]) == {only_a}
    assert ids(["-b"]) == {only_a, untagged}
    assert ids([None]) == {untagged}


def test_hidden_tasks_need_search_hidden_unless_asked_for_by_id(api, project):
    hidden = new_task(api, project=project, system_tags=["hidden"])
    visible = new_task(api, project=project)

    def ids(**query):
        return {t["id"] for t in api.ok("tasks.get_all", **query)["tasks"]}

    assert ids(project=[project]) == {visible}
    assert ids(project=[project], search_hidden=True) == {hidden, visible}
    assert ids(id=[hidden]) == {hidden}


def test_get_all_ex_get_by_id_ex_and_subprojects(api, project):
    parent_name = api.ok("projects.get_by_id", project=project)["project"]["name"]
    child = create_project(api, f"{parent_name}/child")
    in_child = new_task(api, project=child)
    found = api.ok("tasks.get_all_ex", project=[project], include_subprojects=True)["tasks"]
    assert [t["id"] for t in found] == [in_child]
    assert api.ok("tasks.get_all_ex", project=[project])["tasks"] == []
    assert [t["id"] for t in api.ok("tasks.get_by_id_ex", id=[in_child])["tasks"]] == [in_child]
    api.error("tasks.get_by_id_ex", (400, 11))


def test_get_types(api, project):
    new_task(api, project=project, type="testing")
    new_task(api, project=project, type="data_processing")
    assert api.ok("tasks.get_types", projects=[project])["types"] == ["data_processing", "testing"]


# -- edit and update -------------------------------------------------------------------------------------
def test_edit_merges_script_execution_output_and_replaces_the_rest(api, project):
    task_id = new_task(api, script={"repository": "r", "requirements": {"pip": "numpy"}}, runtime={"a": "1"},
                       hyperparams={"Args": {"lr": {"section": "Args", "name": "lr", "value": "0.1"}}})
    reply = api.ok("tasks.edit", task=task_id, script={"entry_point": "main.py"}, runtime={"b": "2"},
                   execution={"parameters": {"x": "1"}}, hyperparams={}, output_dest="s3://bucket",
                   project=project, comment="edited")
    assert reply["updated"] == 1 and reply["fields"]["script.entry_point"] == "main.py"
    task = get_task(api, task_id)
    assert task["script"] == {"repository": "r", "requirements": {"pip": "numpy"}, "entry_point": "main.py"}
    # Legacy parameters become hyper-parameters of type "legacy" beside the task's others, as in the reference.
    assert task["runtime"] == {"b": "2"} and set(task["hyperparams"]["Args"]) == {"lr", "x"}
    assert task["hyperparams"]["Args"]["x"]["type"] == "legacy" and task["execution"]["artifacts"] == []
    assert task["output"]["destination"] == "s3://bucket"
    assert task["project"] == project and task["comment"] == "edited"
    assert api.ok("tasks.edit", task=task_id) == {"updated": 0, "fields": {}}


def test_edit_needs_a_new_task_unless_forced(api):
    task_id = new_task(api)
    api.ok("tasks.started", task=task_id)
    message = api.error("tasks.edit", (400, 110), task=task_id, comment="x").meta["result_msg"]
    assert "in_progress" in message
    assert api.ok("tasks.edit", task=task_id, comment="x", force=True)["updated"] == 1
    api.ok("tasks.completed", task=task_id)
    api.ok("tasks.publish", task=task_id)
    api.error("tasks.edit", (400, 113), task=task_id, comment="y")
    api.error("tasks.edit", (400, 401), task=task_id, project="f" * 32, force=True)


def test_edit_unversioned_as_the_agent_sends_it(api):
    task_id = new_task(api)
    reply = api.send("tasks.edit", {"task": task_id, "force": True, "runtime": {"_exec_agent_hostname": "vm"},
                                    "method": "get"}, version=None)
    assert reply.code == (200, 0)
    assert get_task(api, task_id)["runtime"] == {"_exec_agent_hostname": "vm"}


def test_update_works_in_any_status(api, project):
    task_id = new_task(api)
    api.ok("tasks.started", task=task_id)
    reply = api.ok("tasks.update", task=task_id, name="renamed", tags=["t"], project=project, output__error="boom")
    assert reply["updated"] == 1
    task = get_task(api, task_id)
    assert (task["name"], task["tags"], task["project"], task["output"]["error"]) == ("renamed", ["t"], project, "boom")
    assert api.ok("tasks.update", task=task_id) == {"updated": 0, "fields": {}}


# -- status transitions -----------------------------------------------------------------------------------
# How to bring a new task to each status (forced, so any path works).
REACH = {
    "created": [],
    "queued": [("tasks.enqueue", {})],
    "in_progress": [("tasks.started", {})],
    "stopped": [("tasks.stopped", {"force": True})],
    "completed": [("tasks.completed", {"force": True})],
    "failed": [("tasks.failed", {"force": True})],
    "closed": [("tasks.close", {"force": True})],
    "published": [("tasks.publish", {"force": True})],
}


def task_in(api, status: str) -> str:
    task_id = new_task(api)
    for name, extra in REACH[status]:
        api.ok(name, task=task_id, **extra)
    assert status_of(api, task_id) == status
    return task_id


@pytest.mark.parametrize("start, call, result", [
    ("created", "tasks.started", "in_progress"),
    ("created", "tasks.stopped", (400, 110)),
    ("created", "tasks.completed", (400, 110)),
    ("created", "tasks.failed", (400, 110)),
    ("created", "tasks.close", (400, 110)),
    ("created", "tasks.publish", (400, 110)),
    ("in_progress", "tasks.completed", "completed"),
    ("in_progress", "tasks.failed", "failed"),
    ("in_progress", "tasks.stopped", "stopped"),
    ("in_progress", "tasks.started", "in_progress"),
    ("in_progress", "tasks.publish", (400, 110)),
    ("completed", "tasks.publish", "published"),
    ("completed", "tasks.started", "in_progress"),
    ("completed", "tasks.close", (400, 110)),
    ("stopped", "tasks.close", "closed"),
    ("stopped", "tasks.started", "in_progress"),
    ("failed", "tasks.completed", (400, 110)),
    ("closed", "tasks.publish", "published"),
    ("published", "tasks.started", (400, 113)),
    ("published", "tasks.failed", (400, 113)),
])
def test_transition_rules_with_and_without_force(api, start, call, result):
    task_id = task_in(api, start)
    if isinstance(result, tuple):
        message = api.error(call, result, task=task_id).meta["result_msg"]
        assert start in message
        assert status_of(api, task_id) == start
        result = {"tasks.started": "in_progress", "tasks.stopped": "stopped", "tasks.completed": "completed",
                  "tasks.failed": "failed", "tasks.close": "closed", "tasks.publish": "published"}[call]
        reply = api.ok(call, task=task_id, force=True)
    else:
        reply = api.ok(call, task=task_id, status_reason="why", status_message="what")
        assert reply["fields"]["status_reason"] == "why" and reply["fields"]["status_message"] == "what"
    assert reply["updated"] == 1 and reply["fields"]["status"] == result
    assert status_of(api, task_id) == result


def test_started_again_is_allowed_and_keeps_the_first_start(api):
    task_id = new_task(api)
    first = api.ok("tasks.started", task=task_id)
    assert first["started"] == 1 and first["updated"] == 1
    started_at = get_task(api, task_id)["started"]
    again = api.send("tasks.started", {"task": task_id, "force": False}, version="2.5")
    assert again.code == (200, 0) and again.data["started"] == 1
    assert get_task(api, task_id)["started"] == started_at


def test_run_state_times(api):
    task_id = new_task(api)
    api.ok("tasks.started", task=task_id)
    api.ok("tasks.completed", task=task_id)
    task = get_task(api, task_id)
    assert task["started"] <= task["completed"]
    api.ok("tasks.started", task=task_id)
    assert "completed" not in get_task(api, task_id)


def test_completed_with_publish(api, backend):
    task_id = new_task(api)
    model_id = uuid.uuid4().hex
    backend["models"].insert_one({"_id": model_id, "company": get_task(api, task_id)["company"], "ready": False})
    api.ok("tasks.add_or_update_model", task=task_id, name="out", model=model_id, type="output")
    api.ok("tasks.started", task=task_id)
    reply = api.send("tasks.completed", {"task": task_id, "publish": True}, version="2.20").data
    assert reply["published"] == 1 and reply["fields"]["status"] == "published"
    task = get_task(api, task_id)
    assert task["status"] == "published" and task["published"]
    assert backend["models"].find_one({"_id": model_id})["ready"] is True


def test_stop_a_development_task_stops_it_now(api):
    task_id = new_task(api, system_tags=["development"])
    api.ok("tasks.started", task=task_id)
    reply = api.ok("tasks.stop", task=task_id)
    assert reply["fields"]["status"] == "stopped"
    task = get_task(api, task_id)
    assert task["status"] == "stopped" and task["status_message"] == "Stopped by Test User"


def test_stop_a_queued_task_takes_it_out_of_the_queue(api, queue):
    task_id = new_task(api)
    api.ok("tasks.enqueue", task=task_id, queue=queue)
    api.ok("tasks.stop", task=task_id)
    assert status_of(api, task_id) == "stopped"
    assert queue_entries(api, queue) == []


def test_stop_a_worker_run_task_asks_the_worker(api):
    task_id = new_task(api)
    api.ok("tasks.started", task=task_id)
    # A live worker reports it runs the task (test_workers_stop.py covers the other cases).
    api.ok("workers.status_report", worker=unique("vm"), timestamp=int(time.time() * 1000), task=task_id)
    reply = api.ok("tasks.stop", task=task_id)
    assert reply["fields"]["status"] == "in_progress" and reply["fields"]["status_message"] == "stopping"
    [polled] = api.ok("tasks.get_all", id=[task_id], only_fields=["status", "status_message"])["tasks"]
    assert polled == {"id": task_id, "status": "in_progress", "status_message": "stopping"}
    # ...and the worker then reports the stop (agent: /v2.5/tasks.stopped, force false).
    assert api.send("tasks.stopped", {"task": task_id, "status_reason": "task was stopped by tasks.stop"},
                    version="2.5").code == (200, 0)
    assert status_of(api, task_id) == "stopped"


def test_stop_a_new_task_needs_force(api):
    task_id = new_task(api)
    api.error("tasks.stop", (400, 110), task=task_id)
    assert api.ok("tasks.stop", task=task_id, force=True)["fields"]["status"] == "stopped"


# -- queues -------------------------------------------------------------------------------------------------
def test_enqueue_and_dequeue(api, queue):
    task_id = new_task(api, system_tags=["development", "keep"])
    reply = api.ok("tasks.enqueue", task=task_id, queue=queue, verify_watched_queue=False)
    assert reply["queued"] == 1 and reply["updated"] == 1 and "queue_watched" not in reply  # only when asked
    assert reply["fields"]["status"] == "queued" and reply["fields"]["execution.queue"] == queue
    task = get_task(api, task_id)
    assert task["status"] == "queued" and task["execution"]["queue"] == queue
    assert task["system_tags"] == ["keep"]
    assert queue_entries(api, queue) == [task_id]

    reply = api.ok("tasks.dequeue", task=task_id)
    assert reply["dequeued"] == 1 and reply["updated"] == 1 and reply["fields"]["status"] == "created"
    assert status_of(api, task_id) == "created" and queue_entries(api, queue) == []


def test_enqueue_by_name_creates_the_queue_and_defaults_to_the_default_queue(api):
    name = unique("named-queue")
    task_id = new_task(api)
    queue_id = api.ok("tasks.enqueue", task=task_id, queue_name=name)["fields"]["execution.queue"]
    assert api.ok("queues.get_by_id", queue=queue_id)["queue"]["name"] == name
    other = new_task(api)
    default_id = api.ok("queues.get_default")["id"]
    assert api.ok("tasks.enqueue", task=other)["fields"]["execution.queue"] == default_id
    api.ok("tasks.dequeue", task=other)
    api.error("tasks.enqueue", (400, 12), task=new_task(api), queue=queue_id, queue_name=name)


def test_enqueue_failures_leave_the_task_as_it_was(api, queue):
    task_id = new_task(api)
    api.error("tasks.enqueue", (400, 701), task=task_id, queue="f" * 32)
    assert status_of(api, task_id) == "created"
    api.ok("tasks.enqueue", task=task_id, queue=queue)
    api.error("tasks.enqueue", (400, 706), task=task_id, queue=queue)
    task = get_task(api, task_id)
    assert task["status"] == "queued" and task["execution"]["queue"] == queue
    assert queue_entries(api, queue) == [task_id]
    running = task_in(api, "in_progress")
    api.error("tasks.enqueue", (400, 110), task=running, queue=queue)
    assert api.ok("tasks.enqueue", task=running, queue=queue, force=True)["queued"] == 1


def test_reenqueue_moves_the_task_between_queues(api, queue):
    other = create_queue(api, unique("queue"))
    task_id = new_task(api)
    api.ok("tasks.enqueue", task=task_id, queue=queue)
    api.ok("tasks.enqueue", task=task_id, queue=other)
    assert queue_entries(api, queue) == [] and queue_entries(api, other) == [task_id]
    # Dequeueing returns it to the status it was first enqueued from.
    assert api.ok("tasks.dequeue", task=task_id)["fields"]["status"] == "created"


def test_agent_dequeue_with_new_status(api, queue):
    task_id = new_task(api)
    api.ok("tasks.enqueue", task=task_id, queue=queue)
    daemon = api.send("tasks.started", {"task": task_id, "force": True, "status_message": "pulled by agent"},
                      version="2.5")
    assert daemon.code == (200, 0)
    child = api.send("tasks.dequeue", {"task": task_id, "new_status": "in_progress"}, version=None)
    assert child.code == (200, 0) and child.data["updated"] == 1 and child.data["dequeued"] == 1
    assert status_of(api, task_id) == "in_progress" and queue_entries(api, queue) == []
    api.error("tasks.dequeue", (400, 12), task=task_id, new_status="bogus")
    done = task_in(api, "completed")
    assert api.ok("tasks.dequeue", task=done) == {"dequeued": 1, "updated": 0, "fields": {}}


# -- reset and clone ----------------------------------------------------------------------------------------
ARTIFACTS = [
    {"key": "data", "type": "custom", "mode": "input", "uri": "http://f/in"},
    {"key": "result", "type": "dict", "uri": "http://f/out", "content_size": 10, "timestamp": 1700000000},
]


def test_reset_clears_the_run(api, queue):
    task_id = new_task(api, runtime={"progress": "50"})
    api.ok("tasks.add_or_update_artifacts", task=task_id, artifacts=ARTIFACTS)
    api.ok("tasks.add_or_update_model", task=task_id, name="out", model="m", type="output", iteration=7)
    api.ok("tasks.started", task=task_id)
    api.ok("tasks.failed", task=task_id)
    api.ok("tasks.enqueue", task=task_id, queue=queue)
    reply = api.ok("tasks.reset", task=task_id, force=False, clear_all=False, delete_external_artifacts=True)
    assert reply["updated"] == 1 and reply["dequeued"] == {"removed": 1}
    task = get_task(api, task_id)
    assert task["status"] == "created" and task["last_iteration"] == 0 and task["runtime"] == {}
    assert task["models"]["output"] == [] and task["execution"]["queue"] is None
    assert [a["key"] for a in task["execution"]["artifacts"]] == ["data"]
    assert "started" not in task and "completed" not in task and queue_entries(api, queue) == []


def test_reset_refuses_a_published_task_unless_forced(api):
    task_id = task_in(api, "published")
    api.error("tasks.reset", (400, 110), task=task_id)  # the reference's invalid_task_status
    assert api.ok("tasks.reset", task=task_id, force=True)["fields"]["status"] == "created"


def test_reset_clear_all(api):
    task_id = new_task(api, script={"repository": "r"}, execution={"parameters": {"a": "1"}, "artifacts": ARTIFACTS})
    api.ok("tasks.reset", task=task_id, clear_all=True)
    task = get_task(api, task_id)
    assert task["script"] == {} and task["execution"]["artifacts"] == [] and task["execution"]["parameters"] == {}


def test_clone_copies_the_definition_not_the_run(api, project, queue):
    source = new_task(
        api, project=project, type="testing", tags=["t"], system_tags=["development", "archived", "pipeline"],
        script={"repository": "r", "entry_point": "e.py", "requirements": {"pip": "x"}},
        execution={"parameters": {"p": "1"}, "artifacts": ARTIFACTS},
        hyperparams={"Args": {"lr": {"section": "Args", "name": "lr", "value": "0.1"}}},
        configuration={"cfg": {"name": "cfg", "value": "a=1"}}, container={"image": "python:3.11"},
        models={"input": [{"name": "in", "model": "m-in"}], "output": [{"name": "out", "model": "m-out"}]},
        output_dest="http://files",
    )
    api.ok("tasks.started", task=source)
    api.ok("tasks.enqueue", task=source, queue=queue, force=True)
    clone_id = api.ok("tasks.clone", task=source, new_task_name="copy")["id"]
    original, clone = get_task(api, source), get_task(api, clone_id)
    assert clone["status"] == "created" and clone["name"] == "copy" and clone["parent"] == source
    for key in ("script", "hyperparams", "configuration", "container", "tags", "project", "type"):
        assert clone[key] == original[key], key
    assert clone["system_tags"] == ["pipeline"]
    assert clone["hyperparams"]["Args"]["p"]["type"] == "legacy" and clone["execution"]["queue"] is None
    assert [a["key"] for a in clone["execution"]["artifacts"]] == ["data"]
    assert clone["models"]["input"][0]["model"] == "m-in" and clone["models"]["output"] == []
    assert clone["output"] == {"destination": "http://files"}
    assert clone["last_iteration"] == 0 and clone["runtime"] == {} and "started" not in clone


def test_clone_overrides(api, project):
    source = new_task(api, tags=["old"], execution={"parameters": {"p": "1"}})
    parent = new_task(api)
    reply = api.ok("tasks.clone", task=source, new_task_project=project, new_task_tags=["new"],
                   new_task_system_tags=["s"], new_task_parent=parent, new_task_comment="cc",
                   execution_overrides={"parameters": {"p": "2"}}, new_task_container={"image": "img"},
                   new_task_hyperparams={"S": {"k": {"section": "S", "name": "k", "value": "v"}}},
                   new_task_input_models=[{"name": "in", "model": "m2"}])
    clone = get_task(api, reply["id"])
    assert (clone["project"], clone["tags"], clone["system_tags"], clone["parent"], clone["comment"]) == (
        project, ["new"], ["s"], parent, "cc")
    # Legacy parameter overrides join the new task's hyper-parameters, typed "legacy".
    assert clone["hyperparams"]["Args"]["p"]["value"] == "2" and clone["container"] == {"image": "img"}
    assert clone["hyperparams"]["S"]["k"]["value"] == "v" and clone["models"]["input"][0]["model"] == "m2"

    name = unique("clone-proj")
    reply = api.ok("tasks.clone", task=source, new_project_name=name)
    assert reply["new_project"]["name"] == name
    assert get_task(api, reply["id"])["project"] == reply["new_project"]["id"]
    api.error("tasks.clone", (400, 401), task=source, new_task_project="f" * 32)
    api.error("tasks.clone", (400, 101), task="f" * 32)


# -- delete, archive, move, tags, ping --------------------------------------------------------------------------
def test_delete(api):
    parent = new_task(api)
    child = new_task(api, parent=parent)
    reply = api.ok("tasks.delete", task=parent, move_to_trash=False, return_file_urls=False)
    assert reply["deleted"] is True and reply["updated_children"] == 1
    assert get_task(api, child)["parent"] == f"__DELETED__{parent}"
    api.error("tasks.get_by_id", (400, 101), task=parent)

    running = task_in(api, "in_progress")
    api.error("tasks.delete", (400, 123), task=running)
    assert api.ok("tasks.delete", task=running, force=True)["deleted"] is True
    archived = task_in(api, "completed")
    api.ok("tasks.archive", tasks=[archived])
    assert api.ok("tasks.delete", task=archived)["deleted"] is True


def test_archive_and_unarchive(api, queue):
    queued = new_task(api)
    api.ok("tasks.enqueue", task=queued, queue=queue)
    running = task_in(api, "in_progress")
    assert api.ok("tasks.archive", tasks=[queued, running], status_message="bye")["archived"] == 2
    for task_id, status in ((queued, "created"), (running, "stopped")):
        task = get_task(api, task_id)
        assert task["status"] == status and "archived" in task["system_tags"] and task["status_message"] == "bye"
    assert queue_entries(api, queue) == []
    reply = api.ok("tasks.unarchive_many", ids=[queued, "f" * 32])
    assert reply["succeeded"] == [{"id": queued, "unarchived": True}]
    assert reply["failed"][0]["id"] == "f" * 32 and reply["failed"][0]["error"]["codes"] == [400, 101]
    assert "archived" not in get_task(api, queued)["system_tags"]
    assert api.ok("tasks.archive_many", ids=[queued])["succeeded"] == [{"id": queued, "archived": True}]


def test_move(api, project):
    tasks = [new_task(api), new_task(api)]
    assert api.ok("tasks.move", ids=tasks, project=project)["project_id"] == project
    assert {get_task(api, t)["project"] for t in tasks} == {project}
    name = unique("moved")
    moved_to = api.ok("tasks.move", ids=tasks, project_name=name)["project_id"]
    assert api.ok("projects.get_by_id", project=moved_to)["project"]["name"] == name
    assert api.ok("tasks.move", ids=tasks, project=None)["project_id"] is None
    assert get_task(api, tasks[0])["project"] is None
    api.error("tasks.move", (400, 11), ids=tasks)
    api.error("tasks.move", (400, 101), ids=["f" * 32], project=project)


def test_update_tags(api):
    task_id = new_task(api, tags=["a", "b"])
    assert api.ok("tasks.update_tags", ids=[task_id], add_tags=["c", "a"], remove_tags=["b"])["updated"] == 1
    assert sorted(get_task(api, task_id)["tags"]) == ["a", "c"]


def test_ping_refreshes_last_update(api, backend):
    task_id = new_task(api)
    backend["tasks"].update_one({"_id": task_id}, {"$set": {"last_update": datetime(2020, 1, 1)}})
    assert api.send("tasks.ping", {"task": task_id}, version="2.5").data == {}
    assert get_task(api, task_id)["last_update"] > "2021"


# -- contents: requirements, artifacts, models, hyper-parameters, configuration ----------------------------------
def test_set_requirements_is_free_form(api):
    task_id = new_task(api, script={"repository": "r"})
    reply = api.ok("tasks.set_requirements", task=task_id, requirements={"pip": "numpy\nclearml", "conda": ""})
    assert reply == {"updated": 1, "fields": {"script.requirements": {"pip": "numpy\nclearml", "conda": ""}}}
    agent = {"org_pip": "numpy", "pip": ["numpy==2.0", "clearml==2.1.12"]}
    assert api.send("tasks.set_requirements", {"task": task_id, "requirements": agent}, version="2.5").code == (200, 0)
    script = get_task(api, task_id)["script"]
    assert script["requirements"] == agent and script["repository"] == "r"
    api.error("tasks.set_requirements", (400, 11), task=task_id)


def test_artifacts_are_keyed_by_key_and_mode(api):
    task_id = new_task(api)
    api.ok("tasks.add_or_update_artifacts", task=task_id, artifacts=ARTIFACTS, force=True)
    updated = {"key": "result", "type": "dict", "uri": "http://f/out2"}
    same_key_input = {"key": "result", "type": "dict", "mode": "input", "uri": "http://f/in2"}
    assert api.ok("tasks.add_or_update_artifacts", task=task_id, artifacts=[updated, same_key_input])["updated"] == 1
    artifacts = get_task(api, task_id)["execution"]["artifacts"]
    assert [(a["key"], a["mode"], a["uri"]) for a in artifacts] == [
        ("data", "input", "http://f/in"), ("result", "output", "http://f/out2"), ("result", "input", "http://f/in2")]
    doomed = [{"key": "result"}, {"key": "data", "mode": "input"}]
    reply = api.ok("tasks.delete_artifacts", task=task_id, artifacts=doomed)
    assert reply == {"deleted": 1}
    assert [a["mode"] for a in get_task(api, task_id)["execution"]["artifacts"]] == ["input"]
    api.error("tasks.add_or_update_artifacts", (400, 12), task=task_id, artifacts=[{"key": "k", "type": "t",
                                                                                    "content_size": "big"}])
    api.error("tasks.add_or_update_artifacts", (400, 11), task=task_id, artifacts=[{"key": "k"}])


def test_model_references(api):
    task_id = new_task(api)
    api.ok("tasks.add_or_update_model", task=task_id, name="best", model="m1", type="output")
    api.ok("tasks.add_or_update_model", task=task_id, name="best", model="m2", type="output", iteration=3)
    api.ok("tasks.add_or_update_model", task=task_id, name="init", model="m0", type="input")
    task = get_task(api, task_id)
    assert [(m["name"], m["model"]) for m in task["models"]["output"]] == [("best", "m2")]
    assert task["models"]["input"][0]["model"] == "m0" and task["last_iteration"] == 3
    api.ok("tasks.delete_models", task=task_id, models=[{"name": "best", "type": "output"}])
    assert get_task(api, task_id)["models"]["output"] == []
    done = task_in(api, "completed")
    api.error("tasks.add_or_update_model", (400, 110), task=done, name="x", model="m", type="output")
    api.error("tasks.add_or_update_model", (400, 12), task=task_id, name="x", model="m", type="sideways")


def param(section, name, value):
    return {"section": section, "name": name, "value": value, "type": "str", "description": ""}


def test_hyper_params(api):
    task_id = new_task(api)
    api.ok("tasks.edit_hyper_params", task=task_id,
           hyperparams=[param("Args", "lr", "0.1"), param("Args", "a.b", "x"), param("General", "epochs", "3")])
    api.ok("tasks.edit_hyper_params", task=task_id, hyperparams=[param("Args", "lr", "0.2")])
    assert get_task(api, task_id)["hyperparams"]["Args"]["a.b"]["value"] == "x"
    [entry] = api.ok("tasks.get_hyper_params", tasks=[task_id])["params"]
    assert entry["task"] == task_id
    assert [(p["section"], p["name"], p["value"]) for p in entry["hyperparams"]] == [
        ("Args", "a.b", "x"), ("Args", "lr", "0.2"), ("General", "epochs", "3")]

    api.ok("tasks.edit_hyper_params", task=task_id, hyperparams=[param("Args", "new", "1")],
           replace_hyperparams="section")
    assert list(get_task(api, task_id)["hyperparams"]["Args"]) == ["new"]
    assert api.ok("tasks.delete_hyper_params", task=task_id, hyperparams=[{"section": "General"}]) == {"deleted": 1}
    api.ok("tasks.edit_hyper_params", task=task_id, hyperparams=[param("Z", "z", "1")], replace_hyperparams="all")
    assert list(get_task(api, task_id)["hyperparams"]) == ["Z"]
    api.ok("tasks.delete_hyper_params", task=task_id, hyperparams=[{"section": "Z", "name": "z"}])
    assert get_task(api, task_id)["hyperparams"] == {"Z": {}}

    done = task_in(api, "completed")
    api.error("tasks.edit_hyper_params", (400, 110), task=done, hyperparams=[param("Args", "x", "1")])
    # Properties describe the task and stay editable in any status.
    api.ok("tasks.edit_hyper_params", task=done, hyperparams=[param("Properties", "note", "n")])
    assert get_task(api, done)["hyperparams"]["properties"]["note"]["value"] == "n"
    api.error("tasks.edit_hyper_params", (400, 11), task=task_id, hyperparams=[{"section": "S"}])
    api.error("tasks.edit_hyper_params", (400, 12), task=task_id, hyperparams=[param("S", "n", "v")],
              replace_hyperparams="everything")


def test_configuration(api):
    task_id = new_task(api)
    items = [{"name": "b", "value": "x=1", "type": "hocon"}, {"name": "a", "value": ""}]
    assert api.ok("tasks.edit_configuration", task=task_id, configuration=items) == {"updated": 1}
    [entry] = api.ok("tasks.get_configurations", tasks=[task_id])["configurations"]
    assert [c["name"] for c in entry["configuration"]] == ["a", "b"]
    [entry] = api.ok("tasks.get_configurations", tasks=[task_id], names=["b"])["configurations"]
    assert [c["name"] for c in entry["configuration"]] == ["b"]
    assert api.ok("tasks.get_configuration_names", tasks=[task_id])["configurations"] == [
        {"task": task_id, "names": ["b"]}]
    assert api.ok("tasks.get_configuration_names", tasks=[task_id], skip_empty=False)["configurations"][0][
        "names"] == ["a", "b"]
    api.ok("tasks.edit_configuration", task=task_id, configuration=[{"name": "c", "value": "1"}],
           replace_configuration=True)
    assert list(get_task(api, task_id)["configuration"]) == ["c"]
    assert api.ok("tasks.delete_configuration", task=task_id, configuration=["c"]) == {"deleted": 1}
    assert get_task(api, task_id)["configuration"] == {}
    api.error("tasks.get_configurations", (400, 101), tasks=["f" * 32])


# -- the *_many forms -----------------------------------------------------------------------------------------
def test_many_forms_report_each_failure(api, queue):
    missing = "f" * 32
    tasks = [new_task(api), new_task(api)]

    def many(name, **extra):
        reply = api.ok(name, ids=[*tasks, missing], **extra)
        assert [f["id"] for f in reply["failed"]] == [missing]
        error = reply["failed"][0]["error"]
        assert error["codes"] == [400, 101] and missing in error["msg"] and error["data"]["id"] == missing
        return reply["succeeded"]

    assert [s["queued"] for s in many("tasks.enqueue_many", queue=queue)] == [True, True]
    assert [s["dequeued"] for s in many("tasks.dequeue_many")] == [True, True]
    assert [s["fields"]["status"] for s in many("tasks.stop_many", force=True)] == ["stopped", "stopped"]
    assert [s["fields"]["status"] for s in many("tasks.publish_many")] == ["published", "published"]
    reset = many("tasks.reset_many", force=True)
    assert [(s["dequeued"], s["fields"]["status"]) for s in reset] == [(False, "created"), (False, "created")]
    assert [s["deleted"] for s in many("tasks.delete_many")] == [True, True]


def test_many_forms_keep_going_past_a_refused_task(api):
    fresh, running = new_task(api), task_in(api, "in_progress")
    reply = api.ok("tasks.delete_many", ids=[running, fresh])
    assert [s["id"] for s in reply["succeeded"]] == [fresh]
    assert reply["failed"][0]["error"]["codes"] == [400, 123]


# -- bad input across the family -------------------------------------------------------------------------------
TASK_ENDPOINTS = (
    "tasks.get_by_id", "tasks.edit", "tasks.update", "tasks.clone", "tasks.delete", "tasks.ping", "tasks.started",
    "tasks.stopped", "tasks.stop", "tasks.failed", "tasks.completed", "tasks.close", "tasks.publish", "tasks.reset",
    "tasks.enqueue", "tasks.dequeue",
)


@pytest.mark.parametrize("name", TASK_ENDPOINTS)
def test_task_endpoints_reject_missing_unknown_and_mistyped_ids(api, name):
    assert "task" in api.error(name, (400, 11)).meta["result_msg"]
    assert "task" in api.error(name, (400, 12), task=["not", "a", "string"]).meta["result_msg"]
    missing = uuid.uuid4().hex
    assert missing in api.error(name, (400, 101), task=missing).meta["result_msg"]


@pytest.mark.parametrize("name", [*TASK_ENDPOINTS, "tasks.create", "tasks.get_all", "tasks.stop_many"])
def test_task_endpoints_need_a_token(anon, name):
    reply = anon.send(name, {"task": "x"})
    assert reply.code == (401, 20) and reply.status == 401 and reply.data == {}


@pytest.mark.parametrize("name, body, field", [
    ("tasks.get_all", {"page": "one"}, "page"),
    ("tasks.get_all", {"status": {"a": 1}}, "status"),
    ("tasks.stop_many", {}, "ids"),
    ("tasks.get_hyper_params", {}, "tasks"),
    ("tasks.edit_configuration", {"task": "x", "configuration": [{"value": "v"}]}, "configuration.0.name"),
    ("tasks.delete_models", {"task": "x", "models": [{"name": "n"}]}, "models.0.type"),
    ("tasks.archive", {}, "tasks"),
])
def test_bad_request_bodies_name_the_field(api, name, body, field):
    reply = api.send(name, body)
    assert reply.code in ((400, 11), (400, 12)) and field in reply.meta["result_msg"]
