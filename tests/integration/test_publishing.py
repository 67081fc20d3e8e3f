"""Publishing tasks and models together, and deleting models, as the reference server does it: tasks.publish
(publish_model), models.set_ready / publish_many (publish_task, force_publish_task), models.delete /
delete_many (in-use and published-creator rules) and models.update_for_task (served up to 2.13)."""
from __future__ import annotations

import json

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project, get_task
from support.sdk_api import call, run_calls


@pytest.fixture
def project(api) -> str:
    return create_project(api, unique("publishing"))


def new_task(api, project, status: str = "created") -> str:
    """A task moved to ``status`` through the API (created, in_progress, stopped or published)."""
    task = api.ok("tasks.create", name=unique("task"), type="training", project=project)["id"]
    if status != "created":
        api.ok("tasks.started", task=task)
    if status in ("stopped", "published"):
        api.ok("tasks.stopped", task=task)
    if status == "published":
        api.ok("tasks.publish", task=task)
    return task


def new_model(api, project, task=None, ready=False) -> str:
    fields = {"task": task} if task else {}
    return api.ok("models.create", name=unique("model"), uri=f"http://files.example/{unique('m')}.pt",
                  project=project, ready=ready, **fields)["id"]


def output_model(api, project, task) -> str:
    """A draft model recorded as the task's latest output (while the task runs: a stopped task takes none)."""
    model = new_model(api, project, task=task)
    api.ok("tasks.add_or_update_model", task=task, name=unique("out"), model=model, type="output")
    return model


def stopped_with_outputs(api, project, count: int) -> tuple[str, list[str]]:
    task = new_task(api, project, "in_progress")
    models = [output_model(api, project, task) for _ in range(count)]
    api.ok("tasks.stopped", task=task)
    return task, models


def ready(api, model_id: str) -> bool:
    return api.ok("models.get_by_id", model=model_id)["model"]["ready"]


# -- tasks.publish -------------------------------------------------------------------------------------------
def test_publish_publishes_the_latest_output_model(api, project):
    task, (earlier, latest) = stopped_with_outputs(api, project, 2)
    reply = api.ok("tasks.publish", task=task)
    assert reply["updated"] == 1 and reply["fields"]["status"] == "published"
    assert get_task(api, task)["published"]
    assert ready(api, latest) and not ready(api, earlier)


def test_publish_without_its_model(api, project):
    task, [model] = stopped_with_outputs(api, project, 1)
    api.send("tasks.publish", {"task": task, "publish_model": False}, version="2.1")
    assert get_task(api, task)["status"] == "published" and not ready(api, model)


def test_publish_status_rules(api, project):
    created, published = new_task(api, project), new_task(api, project, "published")
    api.error("tasks.publish", (400, 110), task=created)
    api.error("tasks.publish", (400, 110), task=published)  # publishing again is a status change too
    assert api.ok("tasks.publish", task=created, force=True)["fields"]["status"] == "published"


def test_publish_many(api, project):
    (done, [model]), refused = stopped_with_outputs(api, project, 1), new_task(api, project)
    reply = api.send("tasks.publish_many", {"ids": [done, refused], "publish_model": True}, version="2.13").data
    assert [(s["id"], s["updated"], s["fields"]["status"]) for s in reply["succeeded"]] == [(done, 1, "published")]
    assert reply["failed"][0]["id"] == refused and reply["failed"][0]["error"]["codes"] == [400, 110]
    assert ready(api, model)


# -- models.set_ready / publish_many -------------------------------------------------------------------------
def test_set_ready_publishes_the_creating_task(api, project):
    task, (model, other) = stopped_with_outputs(api, project, 2)
    reply = api.ok("models.set_ready", model=model)
    assert reply["updated"] == 1 and reply["published_task"]["id"] == task
    assert reply["published_task"]["data"]["updated"] == 1
    assert reply["published_task"]["data"]["fields"]["status"] == "published"
    assert get_task(api, task)["status"] == "published" and ready(api, model)
    # The task is published without publishing its own output model.
    assert not ready(api, other)
    api.error("models.set_ready", (400, 203), model=model)


def test_set_ready_leaves_the_task_when_told(api, project):
    task = new_task(api, project, "stopped")
    model = new_model(api, project, task=task)
    assert api.send("models.set_ready", {"model": model, "publish_task": False}, version="2.1").data == {"updated": 1}
    assert get_task(api, task)["status"] == "stopped"
    # An already published task is not published again.
    published = new_task(api, project, "published")
    assert api.ok("models.set_ready", model=new_model(api, project, task=published)) == {"updated": 1}
    # Nor a deleted one.
    gone = new_task(api, project)
    orphan = new_model(api, project, task=gone)
    api.ok("tasks.delete", task=gone, delete_output_models=False)
    assert api.ok("models.set_ready", model=orphan) == {"updated": 1}


def test_set_ready_fails_whole_when_the_task_cannot_be_published(api, project):
    task = new_task(api, project)
    model = new_model(api, project, task=task)
    api.error("models.set_ready", (400, 110), model=model)
    assert not ready(api, model) and get_task(api, task)["status"] == "created"
    reply = api.ok("models.set_ready", model=model, force_publish_task=True)
    assert reply["published_task"]["id"] == task and get_task(api, task)["status"] == "published"


def test_publish_many_models(api, project):
    task = new_task(api, project, "stopped")
    with_task, plain, published = new_model(api, project, task=task), new_model(api, project), \
        new_model(api, project, ready=True)
    reply = api.ok("models.publish_many", ids=[with_task, plain, published, "f" * 32])
    assert reply["succeeded"][0]["id"] == with_task and reply["succeeded"][0]["updated"] is True
    assert reply["succeeded"][0]["published_task"]["id"] == task
    assert reply["succeeded"][1] == {"id": plain, "updated": True, "published_task": None}
    assert [(f["id"], f["error"]["codes"]) for f in reply["failed"]] == [(published, [400, 203]),
                                                                         ("f" * 32, [400, 201])]
    assert get_task(api, task)["status"] == "published"


@pytest.mark.parametrize("flag", ["publish_tasks", "publish_task"])
def test_publish_many_models_without_their_tasks(api, project, flag):
    task = new_task(api, project, "stopped")
    model = new_model(api, project, task=task)
    reply = api.ok("models.publish_many", ids=[model], **{flag: False})
    assert reply["succeeded"] == [{"id": model, "updated": True, "published_task": None}]
    assert get_task(api, task)["status"] == "stopped"


def test_publish_many_models_refused_task_fails_only_that_model(api, project):
    task = new_task(api, project)
    model, other = new_model(api, project, task=task), new_model(api, project)
    reply = api.ok("models.publish_many", ids=[model, other])
    assert [s["id"] for s in reply["succeeded"]] == [other]
    assert reply["failed"][0]["error"]["codes"] == [400, 110] and not ready(api, model)
    forced = api.ok("models.publish_many", ids=[model], force_publish_task=True)
    assert forced["succeeded"][0]["published_task"]["id"] == task


# -- models.delete -------------------------------------------------------------------------------------------
def test_delete_model_rules(api, backend, project):
    published = new_task(api, project, "published")
    created_by_published = new_model(api, project, task=published)
    backend["tasks"].update_one({"_id": published}, {"$push": {"models.output": {
        "name": "out", "model": created_by_published}}})
    api.error("models.delete", (400, 206), model=created_by_published)
    reply = api.send("models.delete", {"model": created_by_published, "force": True}, version="2.13").data
    assert reply["deleted"] is True and reply["url"].startswith("http://files.example/")
    doc = backend["tasks"].find_one({"_id": published})
    assert doc["models"]["output"][-1]["model"] == f"__DELETED__{created_by_published}"
    assert doc["output"]["error"].startswith("model deleted on ")

    used = new_model(api, project)
    consumer = api.ok("tasks.create", name=unique("t"), type="training", project=project,
                      models={"input": [{"name": "in", "model": used}]})["id"]
    api.error("models.delete", (400, 205), model=used)
    api.ok("models.delete", model=used, force=True)
    assert get_task(api, consumer)["models"]["input"][0]["model"] == f"__DELETED__{used}"

    draft_task = new_task(api, project, "in_progress")
    draft = output_model(api, project, draft_task)
    assert api.ok("models.delete", model=draft)["deleted"] is True
    assert get_task(api, draft_task)["models"]["output"] == []


def test_delete_model_removes_its_events(api, backend, project):
    model = new_model(api, project)
    line = {"type": "training_stats_scalar", "task": model, "model_event": True, "metric": "m", "variant": "v",
            "iter": 1, "value": 2.0}
    reply = api.send("events.add_batch", body=json.dumps(line), headers={"Content-Type": "application/json-lines"},
                     version="2.23")
    assert reply.code == (200, 0) and backend["events"].count_documents({"task": model}) == 1
    result = api.ok("models.delete_many", ids=[model, "f" * 32])
    assert result["succeeded"][0]["id"] == model and result["succeeded"][0]["deleted"] is True
    assert result["failed"][0]["error"]["codes"] == [400, 201]
    assert backend["events"].count_documents({"task": model}) == 0


def test_public_models_are_not_published_or_deleted(api, project):
    model = new_model(api, project)
    api.send("models.make_public", {"ids": [model]}, version="2.9")
    api.error("models.set_ready", (403, 21), model=model)
    api.error("models.delete", (403, 21), model=model, force=True)
    api.send("models.make_private", {"ids": [model]}, version="2.9")
    assert api.ok("models.delete", model=model)["deleted"] is True


# -- models.update_for_task ----------------------------------------------------------------------------------
def test_update_for_task_by_status_and_version(api, project):
    running = new_task(api, project, "in_progress")
    reply = api.send("models.update_for_task", {"task": running, "uri": "http://files.example/run.pt"},
                     version="2.13").data
    assert reply["created"] is True and not ready(api, reply["id"])
    published = new_task(api, project, "published")
    for version in ("2.1", "2.13"):
        reply = api.send("models.update_for_task", {"task": published, "uri": "http://x/y.pt"}, version=version)
        assert reply.code == (400, 110), version
    # Later clients record output models with tasks.add_or_update_model.
    for version in ("2.14", "2.31"):
        reply = api.send("models.update_for_task", {"task": running, "uri": "http://x/y.pt"}, version=version)
        assert reply.code == (301, 1) and reply.status == 301, version


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, body, code", [
    ("tasks.publish", {}, (400, 11)),
    ("tasks.publish", {"task": "x", "publish_model": "sure"}, (400, 12)),
    ("tasks.publish_many", {"ids": ["x"], "force": []}, (400, 12)),
    ("models.set_ready", {}, (400, 11)),
    ("models.set_ready", {"model": "x", "publish_task": "x"}, (400, 12)),
    ("models.set_ready", {"model": "f" * 32, "unknown": 1}, (400, 201)),
    ("models.publish_many", {"ids": ["x"], "force_publish_task": {}}, (400, 12)),
    ("models.publish_many", {}, (400, 11)),
    ("models.delete", {"model": "x", "force": "x"}, (400, 12)),
    ("models.delete_many", {"ids": 5}, (400, 12)),
])
def test_bad_input(api, name, body, code):
    reply = api.send(name, body)
    assert reply.code == code, reply.meta


@pytest.mark.parametrize("name", ["tasks.publish", "tasks.publish_many", "models.set_ready",
                                  "models.publish_many", "models.delete", "models.delete_many"])
def test_unauthenticated(anon, name):
    assert anon.send(name, {}).status == 401


# -- through the SDK -----------------------------------------------------------------------------------------
def test_through_the_sdk(api_server, tmp_path):
    client = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    project = create_project(client, unique("publishing-sdk"))
    task, [task_model] = stopped_with_outputs(client, project, 1)
    model_task, many_task = (new_task(client, project, "stopped") for _ in range(2))
    model = new_model(client, project, task=model_task)
    many_model = new_model(client, project, task=many_task)
    doomed = new_model(client, project)
    answers = run_calls(api_server, [
        call("tasks.publish", task=task),
        call("models.set_ready", model=model),
        call("models.publish_many", ids=[many_model], publish_tasks=False),
        call("models.delete", model=doomed),
        call("models.update_for_task", raw=True, version="2.13", task=new_task(client, project, "in_progress"),
             uri="http://files.example/sdk.pt"),
    ], tmp_path / "home")
    assert all(a["ok"] for a in answers), answers
    assert answers[0]["data"]["fields"]["status"] == "published" and ready(client, task_model)
    assert answers[1]["data"]["published_task"]["id"] == model_task
    assert get_task(client, model_task)["status"] == "published"
    assert answers[2]["data"]["succeeded"][0]["updated"] is True
    assert get_task(client, many_task)["status"] == "stopped" and ready(client, many_model)
    assert answers[3]["data"]["deleted"] is True and answers[4]["data"]["created"] is True
