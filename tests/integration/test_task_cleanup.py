"""tasks.delete / delete_many / reset / reset_many: what happens to a task's output models, children, events and
files, as the reference server does it, at each version its schema lists (2.1, 2.13, 2.21, 2.30)."""
from __future__ import annotations

import json

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project, create_queue, get_task
from support.sdk_api import call, run_calls

JSON_LINES = {"Content-Type": "application/json-lines"}
OUT_URI, IN_URI = "http://files.example/out.bin", "http://files.example/in.bin"
ARTIFACTS = [{"key": "data", "type": "custom", "mode": "input", "uri": IN_URI},
             {"key": "result", "type": "dict", "mode": "output", "uri": OUT_URI}]


@pytest.fixture
def project(api) -> str:
    return create_project(api, unique("cleanup"))


def new_task(api, project, **fields) -> str:
    return api.ok("tasks.create", name=unique("task"), type="training", project=project, **fields)["id"]


def new_model(api, project, task=None, ready=False, uri=None) -> str:
    fields = {"task": task} if task else {}
    return api.ok("models.create", name=unique("model"), uri=uri or f"http://files.example/{unique('m')}.pt",
                  project=project, ready=ready, **fields)["id"]


def model_doc(backend, model_id: str) -> dict | None:
    return backend["models"].find_one({"_id": model_id})


def report_events(api, task: str, model_event: bool = False) -> dict:
    """One scalar, one debug image and one plot embedding an image; the URLs the task's events name."""
    image_url = f"http://files.example/{task}/image.png"
    plot_url = f"http://files.example/{task}/plot.png"
    plot = {"data": [], "layout": {"images": [{"source": plot_url, "x": 0}]}}
    events = [
        {"type": "training_stats_scalar", "task": task, "metric": "m", "variant": "v", "iter": 1, "value": 1.0},
        {"type": "training_debug_image", "task": task, "metric": "m", "variant": "v", "iter": 1, "key": "k",
         "url": image_url},
        {"type": "plot", "task": task, "metric": "p", "variant": "v", "iter": 1, "plot_str": json.dumps(plot)},
    ]
    for event in events:
        event["model_event"] = model_event
    reply = api.send("events.add_batch", body="\n".join(json.dumps(e) for e in events), headers=JSON_LINES,
                     version="2.23")
    assert reply.code == (200, 0) and reply.data["errors"] == 0, reply.meta
    return {"urls": sorted([image_url, plot_url]), "count": len(events)}


def task_with_outputs(api, project) -> dict:
    """A new task with input and output artifacts, a draft output model, a draft model another task takes as
    input, a child and events."""
    task = new_task(api, project)
    api.ok("tasks.add_or_update_artifacts", task=task, artifacts=ARTIFACTS)
    draft = new_model(api, project, task=task)
    api.ok("tasks.add_or_update_model", task=task, name="best", model=draft, type="output")
    shared = new_model(api, project, task=task)
    consumer = new_task(api, project, models={"input": [{"name": "in", "model": shared}]})
    child = new_task(api, project, parent=task)
    events = report_events(api, task)
    model_events = report_events(api, draft, model_event=True)
    return {"task": task, "draft": draft, "shared": shared, "consumer": consumer, "child": child,
            "events": events, "model_events": model_events}


# -- tasks.delete --------------------------------------------------------------------------------------------
def test_delete_removes_draft_outputs_and_returns_every_file_url(api, backend, project):
    world = task_with_outputs(api, project)
    draft_uri = model_doc(backend, world["draft"])["uri"]
    reply = api.send("tasks.delete", {"task": world["task"], "return_file_urls": True}, version="2.13").data
    assert reply["deleted"] is True
    assert (reply["updated_children"], reply["updated_models"], reply["deleted_models"]) == (1, 0, 1)
    assert reply["urls"] == {"artifact_urls": [OUT_URI], "model_urls": [draft_uri],
                             "event_urls": sorted(world["events"]["urls"] + world["model_events"]["urls"])}
    assert reply["events"] == {"deleted": world["events"]["count"]}
    # The draft is gone with its own events; the model another task uses stays, without its creator.
    assert model_doc(backend, world["draft"]) is None
    assert backend["events"].count_documents({"task": {"$in": [world["task"], world["draft"]]}}) == 0
    assert "task" not in model_doc(backend, world["shared"])
    assert get_task(api, world["child"])["parent"] == f"__DELETED__{world['task']}"
    api.error("tasks.get_by_id", (400, 101), task=world["task"])


def test_delete_without_file_urls_answers_null_urls(api, project):
    task = new_task(api, project)
    for version in ("2.1", "2.13", "2.31"):
        reply = api.send("tasks.delete", {"task": new_task(api, project)}, version=version).data
        assert reply == {"deleted": True, "updated_children": 0, "updated_models": 0, "deleted_models": 0,
                         "urls": None, "events": {"deleted": 0}}, version
    assert api.ok("tasks.delete", task=task, return_file_urls=False)["urls"] is None


def test_delete_keeps_draft_models_when_told(api, backend, project):
    task = new_task(api, project)
    draft = new_model(api, project, task=task)
    reply = api.ok("tasks.delete", task=task, delete_output_models=False, return_file_urls=True)
    assert (reply["deleted_models"], reply["updated_models"], reply["urls"]["model_urls"]) == (0, 1, [])
    assert model_doc(backend, draft)["task"] == f"__DELETED__{task}"


@pytest.mark.parametrize("published", ["created_by_task", "listed_output", "child"])
def test_delete_refuses_published_outputs_unless_forced(api, backend, project, published):
    task = new_task(api, project)
    if published == "created_by_task":
        kept = new_model(api, project, task=task, ready=True)
    elif published == "listed_output":
        kept = new_model(api, project, ready=True)
        api.ok("tasks.add_or_update_model", task=task, name="out", model=kept, type="output")
    else:
        kept = new_task(api, project, parent=task)
        backend["tasks"].update_one({"_id": kept}, {"$set": {"status": "published"}})
    draft = new_model(api, project, task=task)
    api.error("tasks.delete", (400, 123), task=task)
    # Nothing was touched by the refusal.
    assert get_task(api, task)["id"] == task and model_doc(backend, draft)["task"] == task

    reply = api.ok("tasks.delete", task=task, force=True)
    assert reply["deleted"] is True and reply["deleted_models"] == 1
    if published == "child":
        assert reply["updated_children"] == 1 and get_task(api, kept)["parent"] == f"__DELETED__{task}"
    else:
        # A published model stays, pointing at the deleted task.
        assert reply["updated_models"] == 1 and model_doc(backend, kept)["task"] == f"__DELETED__{task}"


def test_delete_refuses_a_running_task_and_dequeues_a_queued_one(api, project):
    queue = create_queue(api, unique("cleanup-q"))
    running = new_task(api, project)
    api.ok("tasks.started", task=running)
    api.error("tasks.delete", (400, 123), task=running)
    assert get_task(api, running)["status"] == "in_progress"
    queued = new_task(api, project)
    api.ok("tasks.enqueue", task=queued, queue=queue)
    assert api.ok("tasks.delete", task=queued, force=True)["deleted"] is True
    assert api.ok("queues.get_by_id", queue=queue)["queue"]["entries"] == []


def test_delete_pipeline_steps_with_the_controller(api, backend, project):
    controller = api.ok("tasks.create", name=unique("pipe"), type="controller", project=project)["id"]
    steps = [new_task(api, project, parent=controller) for _ in range(2)]
    models = [new_model(api, project, task=step) for step in steps]
    for step in steps:
        report_events(api, step)
    reply = api.send("tasks.delete", {"task": controller, "include_pipeline_steps": True,
                                      "return_file_urls": True}, version="2.30").data
    assert reply["deleted"] is True and reply["deleted_models"] == 2 and reply["updated_children"] == 0
    assert len(reply["urls"]["event_urls"]) == 4
    for step, model in zip(steps, models):
        api.error("tasks.get_by_id", (400, 101), task=step)
        assert model_doc(backend, model) is None and backend["events"].count_documents({"task": step}) == 0

    # Without the flag, steps stay as orphans.
    other = api.ok("tasks.create", name=unique("pipe"), type="controller", project=project)["id"]
    step = new_task(api, project, parent=other)
    assert api.ok("tasks.delete", task=other)["updated_children"] == 1
    assert get_task(api, step)["parent"] == f"__DELETED__{other}"


def test_delete_many_reports_each_task(api, backend, project):
    world = task_with_outputs(api, project)
    refused = new_task(api, project)
    new_model(api, project, task=refused, ready=True)
    reply = api.send("tasks.delete_many", {"ids": [world["task"], refused], "return_file_urls": True,
                                           "delete_external_artifacts": False}, version="2.21").data
    [done] = reply["succeeded"]
    assert done["id"] == world["task"] and done["deleted"] is True and done["deleted_models"] == 1
    assert done["urls"]["artifact_urls"] == [OUT_URI] and len(done["urls"]["event_urls"]) == 4
    assert "events" not in done
    assert [f["id"] for f in reply["failed"]] == [refused]
    assert reply["failed"][0]["error"]["codes"] == [400, 123]
    plain = api.send("tasks.delete_many", {"ids": [new_task(api, project)]}, version="2.13").data
    assert plain["succeeded"][0]["urls"] is None and plain["failed"] == []


# -- tasks.reset ---------------------------------------------------------------------------------------------
def test_reset_clears_outputs_and_returns_their_urls(api, backend, project):
    world = task_with_outputs(api, project)
    api.ok("tasks.started", task=world["task"])
    api.ok("tasks.stopped", task=world["task"])
    draft_uri = model_doc(backend, world["draft"])["uri"]
    reply = api.send("tasks.reset", {"task": world["task"], "return_file_urls": True}, version="2.13").data
    assert reply["updated"] == 1 and reply["fields"]["status"] == "created" and reply["dequeued"] == {}
    assert reply["deleted_models"] == 1 and reply["events"] == {"deleted": world["events"]["count"]}
    assert reply["urls"] == {"artifact_urls": [OUT_URI], "model_urls": [draft_uri],
                             "event_urls": sorted(world["events"]["urls"] + world["model_events"]["urls"])}
    task = get_task(api, world["task"])
    assert task["status"] == "created" and task["models"]["output"] == [] and "started" not in task
    assert [a["key"] for a in task["execution"]["artifacts"]] == ["data"]
    assert model_doc(backend, world["draft"]) is None and "task" not in model_doc(backend, world["shared"])
    # A reset leaves children alone.
    assert get_task(api, world["child"])["parent"] == world["task"]


def test_reset_reply_per_version(api, project):
    old = api.send("tasks.reset", {"task": new_task(api, project)}, version="2.1").data
    assert "urls" not in old and old["deleted_models"] == 0 and old["events"] == {"deleted": 0}
    new = api.send("tasks.reset", {"task": new_task(api, project), "return_file_urls": True,
                                   "delete_external_artifacts": True}, version="2.21").data
    assert new["urls"] == {"artifact_urls": [], "model_urls": [], "event_urls": []}


def test_reset_refuses_published_tasks_and_outputs_unless_forced(api, backend, project):
    published = new_task(api, project)
    api.ok("tasks.started", task=published)
    api.ok("tasks.stopped", task=published)
    api.ok("tasks.publish", task=published)
    api.error("tasks.reset", (400, 110), task=published)

    task = new_task(api, project)
    kept = new_model(api, project, task=task, ready=True)
    draft = new_model(api, project, task=task)
    api.error("tasks.reset", (400, 123), task=task)
    assert model_doc(backend, draft) is not None
    reply = api.ok("tasks.reset", task=task, force=True, delete_output_models=False)
    assert reply["deleted_models"] == 0
    # On reset, kept models simply lose their creator.
    assert "task" not in model_doc(backend, kept) and "task" not in model_doc(backend, draft)


def test_reset_many_reports_each_task(api, project):
    queue = create_queue(api, unique("cleanup-q"))
    queued, refused = new_task(api, project), new_task(api, project)
    api.ok("tasks.enqueue", task=queued, queue=queue)
    new_model(api, project, task=refused, ready=True)
    reply = api.send("tasks.reset_many", {"ids": [queued, refused], "return_file_urls": True},
                     version="2.13").data
    [done] = reply["succeeded"]
    assert done["id"] == queued and done["dequeued"] is True and done["deleted_models"] == 0
    assert done["urls"] == {"artifact_urls": [], "model_urls": [], "event_urls": []}
    assert reply["failed"][0]["id"] == refused and reply["failed"][0]["error"]["codes"] == [400, 123]


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, body, code", [
    ("tasks.delete", {}, (400, 11)),
    ("tasks.delete", {"task": "x", "return_file_urls": "maybe"}, (400, 12)),
    ("tasks.delete", {"task": "x", "include_pipeline_steps": [1]}, (400, 12)),
    ("tasks.delete", {"task": "f" * 32}, (400, 101)),
    ("tasks.delete_many", {}, (400, 11)),
    ("tasks.delete_many", {"ids": ["x"], "delete_output_models": {}}, (400, 12)),
    ("tasks.reset", {}, (400, 11)),
    ("tasks.reset", {"task": "x", "clear_all": "no-bool"}, (400, 12)),
    ("tasks.reset", {"task": "f" * 32, "unknown_key": 1}, (400, 101)),
    ("tasks.reset_many", {"ids": "f" * 32, "return_file_urls": 3.5}, (400, 12)),
])
def test_bad_input(api, name, body, code):
    reply = api.send(name, body)
    assert reply.code == code, reply.meta


@pytest.mark.parametrize("name", ["tasks.delete", "tasks.delete_many", "tasks.reset", "tasks.reset_many"])
def test_unauthenticated(anon, name):
    assert anon.send(name, {}).status == 401


# -- through the SDK -----------------------------------------------------------------------------------------
def test_through_the_sdk(api_server, backend, tmp_path):
    client = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    project = create_project(client, unique("cleanup-sdk"))
    deleted, reset, many = (task_with_outputs(client, project) for _ in range(3))
    answers = run_calls(api_server, [
        call("tasks.delete", task=deleted["task"], return_file_urls=True),
        call("tasks.reset", task=reset["task"], return_file_urls=True),
        call("tasks.delete_many", ids=[many["task"], "f" * 32], return_file_urls=True),
        call("tasks.delete", raw=True, version="2.30", task=many["child"], include_pipeline_steps=True),
    ], tmp_path / "home")
    assert answers[0]["ok"] and answers[0]["data"]["deleted"] is True, answers[0]
    assert answers[0]["data"]["urls"]["artifact_urls"] == [OUT_URI]
    # The SDK's typed tasks.delete reply has no deleted_models (its schema lists none).
    assert len(answers[0]["data"]["urls"]["event_urls"]) == 4 and answers[0]["data"]["updated_children"] == 1
    assert answers[1]["ok"] and answers[1]["data"]["deleted_models"] == 1, answers[1]
    assert answers[1]["data"]["urls"]["artifact_urls"] == [OUT_URI]
    assert answers[2]["ok"] and [s["id"] for s in answers[2]["data"]["succeeded"]] == [many["task"]], answers[2]
    assert answers[2]["data"]["failed"][0]["error"]["codes"] == [400, 101]
    assert answers[3]["ok"] and answers[3]["data"]["deleted"] is True, answers[3]
    assert model_doc(backend, deleted["draft"]) is None and model_doc(backend, reset["draft"]) is None


def test_event_urls_and_deletion_with_the_elastic_store(api_server_elastic, backend):
    """The URLs come from the events store's own reads, so the Elasticsearch backend answers the same."""
    client = ApiClient(api_server_elastic.url, api_server_elastic.key, api_server_elastic.secret).login()
    world = task_with_outputs(client, create_project(client, unique("cleanup-es")))
    reply = client.ok("tasks.delete", task=world["task"], return_file_urls=True)
    assert reply["urls"]["event_urls"] == sorted(world["events"]["urls"] + world["model_events"]["urls"])
    assert reply["events"] == {"deleted": world["events"]["count"]}


def test_public_tasks_are_not_deleted_or_reset(api, project):
    task = new_task(api, project)
    api.send("tasks.make_public", {"ids": [task]}, version="2.9")
    api.error("tasks.delete", (403, 21), task=task, force=True)
    api.error("tasks.reset", (403, 21), task=task, force=True)
    api.send("tasks.make_private", {"ids": [task]}, version="2.9")
    assert api.ok("tasks.delete", task=task)["deleted"] is True
