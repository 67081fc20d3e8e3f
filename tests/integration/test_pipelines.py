"""pipelines.start_pipeline (2.17, 2.28) and pipelines.delete_runs (2.26): raw HTTP, and through the real SDK's
session (its ``APIClient`` has no pipelines service: the SDK's pipelines request classes speak 2.23)."""
from __future__ import annotations

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project, create_queue, get_task
from support.sdk_api import call, run_calls


def controller(api, project: str, name: str | None = None) -> str:
    task = api.ok("tasks.create", name=name or unique("pipe"), type="controller", project=project,
                  system_tags=["pipeline"])["id"]
    api.ok("tasks.edit_hyper_params", task=task,
           hyperparams=[{"section": "Args", "name": "lr", "value": "0.1", "type": "float"},
                        {"section": "Args", "name": "epochs", "value": "3"}])
    return task


@pytest.fixture(scope="module")
def pipeline(api_server):
    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    name = unique("pipeline")
    project = create_project(api, name)
    return {"api": api, "project": project, "basename": name, "task": controller(api, project, name),
            "queue": create_queue(api, unique("pq"))}


def test_start_pipeline_clones_sets_args_and_enqueues(api, pipeline):
    started = api.ok("pipelines.start_pipeline", task=pipeline["task"], queue=pipeline["queue"],
                     args=[{"name": "lr", "value": "0.5"}, {"name": "batch", "value": "64"}])
    assert started["enqueued"] is True and "queue_watched" not in started
    run = get_task(api, started["pipeline"])
    assert run["status"] == "queued" and run["execution"]["queue"] == pipeline["queue"]
    assert run["status_message"] == "Starting pipeline" and run["parent"] == pipeline["task"]
    args = run["hyperparams"]["Args"]
    assert args["lr"]["value"] == "0.5" and args["batch"]["value"] == "64" and args["epochs"]["value"] == "3"
    # Runs are named after the project, counting its pipeline tasks of that name (the controller is one).
    assert run["name"] == f"{pipeline['basename']} #2"
    second = api.ok("pipelines.start_pipeline", task=pipeline["task"], queue=pipeline["queue"],
                    verify_watched_queue=True)
    assert get_task(api, second["pipeline"])["name"] == f"{pipeline['basename']} #3"
    assert second["queue_watched"] is False
    assert get_task(api, pipeline["task"])["status"] == "created"  # the controller itself stays as it is
    entries = api.ok("queues.get_by_id", queue=pipeline["queue"])["queue"]["entries"]
    assert [e["task"] for e in entries][-2:] == [started["pipeline"], second["pipeline"]]


def test_start_pipeline_refuses_bad_input_and_leaves_nothing_behind(api, pipeline, anon):
    before = len(api.ok("tasks.get_all", project=[pipeline["project"]])["tasks"])
    api.error("pipelines.start_pipeline", (400, 11), task=pipeline["task"])
    api.error("pipelines.start_pipeline", (400, 11), queue=pipeline["queue"])
    api.error("pipelines.start_pipeline", (400, 701), task=pipeline["task"], queue="0" * 32)
    api.error("pipelines.start_pipeline", (400, 101), task="0" * 32, queue=pipeline["queue"])
    api.error("pipelines.start_pipeline", (400, 12), task=pipeline["task"], queue=pipeline["queue"], args="lr=1")
    api.error("pipelines.start_pipeline", (400, 11), task=pipeline["task"], queue=pipeline["queue"],
              args=[{"name": "lr"}])
    api.error("pipelines.start_pipeline", (400, 12), task=pipeline["task"], queue=pipeline["queue"],
              args=[{"name": " ", "value": "1"}])
    assert len(api.ok("tasks.get_all", project=[pipeline["project"]])["tasks"]) == before
    for name in ("pipelines.start_pipeline", "pipelines.delete_runs"):
        assert anon.send(name, {}).code == (401, 20)
    # start_pipeline came with 2.17, delete_runs with 2.26.
    assert api.send("pipelines.start_pipeline", {}, version="2.16").code == (404, 0)
    assert api.send("pipelines.delete_runs", {}, version="2.25").code == (404, 0)


def test_delete_runs_deletes_runs_with_their_steps_and_keeps_one(api):
    project = create_project(api, unique("runs"))
    runs = [controller(api, project) for _ in range(3)]
    step = api.ok("tasks.create", name=unique("step"), type="training", project=project, parent=runs[0])["id"]
    draft = api.ok("models.create", name=unique("m"), uri="file:///m", task=step, project=project)["id"]
    other = api.ok("tasks.create", name=unique("other"), type="training", project=project)["id"]

    api.error("pipelines.delete_runs", (400, 160), project=project, ids=runs)
    result = api.ok("pipelines.delete_runs", project=project, ids=[runs[0], runs[1], other])
    assert result["failed"] == []
    assert {r["id"] for r in result["succeeded"]} == {runs[0], runs[1]}
    first = next(r for r in result["succeeded"] if r["id"] == runs[0])
    assert first["deleted"] is True and first["deleted_models"] == 1
    for gone in (runs[0], runs[1], step):
        api.error("tasks.get_by_id", (400, 101), task=gone)
    api.error("models.get_by_id", (400, 201), model=draft)
    # Only controllers of this project are deleted: the other task and the last run stay.
    assert get_task(api, other)["id"] == other and get_task(api, runs[2])["id"] == runs[2]
    assert api.ok("pipelines.delete_runs", project=project, ids=[other]) == {"succeeded": [], "failed": []}
    api.error("pipelines.delete_runs", (400, 11), project=project)
    api.error("pipelines.delete_runs", (400, 12), project=project, ids=[])


def test_through_the_sdk(pipeline, api_server, tmp_path):
    api = pipeline["api"]
    answers = run_calls(api_server, [
        call("pipelines.start_pipeline", raw=True, version="2.23", task=pipeline["task"], queue=pipeline["queue"],
             args=[{"name": "lr", "value": "0.9"}]),
        call("pipelines.start_pipeline", raw=True, version="2.17", task=pipeline["task"]),
        call("pipelines.start_pipeline", raw=True, version="2.28", task=pipeline["task"], queue=pipeline["queue"],
             verify_watched_queue=True),
        call("pipelines.delete_runs", raw=True, version="2.26", project=pipeline["project"], ids=["f" * 32]),
    ], tmp_path / "home")
    assert answers[0]["ok"] and answers[0]["data"]["enqueued"] is True
    assert get_task(api, answers[0]["data"]["pipeline"])["hyperparams"]["Args"]["lr"]["value"] == "0.9"
    assert answers[1]["ok"] is False and answers[1]["code"] == [400, 11] and "queue" in answers[1]["msg"]
    assert answers[2]["ok"] and answers[2]["data"]["queue_watched"] is False
    assert answers[3] == {"ok": True, "data": {"succeeded": [], "failed": []}}
