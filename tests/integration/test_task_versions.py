"""Task fields of old API versions: legacy parameters (before 2.9), single model references and docker_cmd
(before 2.13), written and read back as the reference server does, and through tasks.clone overrides."""
from __future__ import annotations

from support.objects import get_task


def test_legacy_parameters_become_typed_hyperparameters(api):
    model = api.ok("models.create", name="m", uri="file:///m")["id"]
    reply = api.send("tasks.create", {"name": "old", "type": "training", "execution": {
        "parameters": {"lr": 0.1, "TF_DEFINE/batch": 32}, "model_desc": {"layers": "3"}, "model": model,
        "docker_cmd": "python:3.11 -e A=1"}, "output": {"model": model}}, version="2.8")
    assert reply.status == 200, reply.body
    task = reply.data["id"]

    stored = get_task(api, task)
    assert stored["hyperparams"] == {
        "Args": {"lr": {"section": "Args", "name": "lr", "type": "legacy", "value": "0.1"}},
        "TF_DEFINE": {"batch": {"section": "TF_DEFINE", "name": "batch", "type": "legacy", "value": "32"}},
    }
    assert stored["configuration"] == {"layers": {"name": "layers", "type": "legacy", "value": "3"}}
    assert [m["name"] for m in stored["models"]["input"]] == ["Input Model"]
    assert stored["models"]["output"][0]["model"] == model
    assert stored["container"] == {"image": "python:3.11", "arguments": "-e A=1"}
    assert "model" not in stored["execution"] and "docker_cmd" not in stored["execution"]

    old = api.send("tasks.get_by_id", {"task": task}, version="2.8").data["task"]
    assert old["execution"]["parameters"] == {"lr": "0.1", "TF_DEFINE/batch": "32"}
    assert old["execution"]["model_desc"] == {"layers": "3"}
    assert old["execution"]["model"] == model and old["output"]["model"] == model
    assert old["execution"]["docker_cmd"] == "python:3.11 -e A=1"
    at_2_12 = api.send("tasks.get_all", {"id": [task]}, version="2.12").data["tasks"][0]
    assert not at_2_12["execution"]["parameters"] and at_2_12["execution"]["model"] == model
    assert "model" not in api.send("tasks.get_by_id", {"task": task}).data["task"]["execution"]


def test_a_legacy_edit_replaces_only_the_legacy_parameters(api):
    task = api.send("tasks.create", {"name": "old edit", "type": "training",
                                     "execution": {"parameters": {"a": 1, "b": 2}}}, version="2.8").data["id"]
    api.ok("tasks.edit_hyper_params", task=task, hyperparams=[{"section": "Args", "name": "new", "value": "n"}])
    reply = api.send("tasks.edit", {"task": task, "execution": {"parameters": {"c": 3}}}, version="2.8")
    assert reply.status == 200, reply.body
    assert {name: p["value"] for name, p in get_task(api, task)["hyperparams"]["Args"].items()} == {
        "new": "n", "c": "3"}
    assert api.send("tasks.get_by_id", {"task": task}, version="2.8").data["task"]["execution"]["parameters"] == {
        "c": "3"}


def test_an_empty_legacy_name_is_refused(api):
    reply = api.send("tasks.create", {"name": "bad", "type": "training",
                                      "execution": {"parameters": {"TF_DEFINE/": 1}}}, version="2.8")
    assert reply.code == (400, 12) and "execution.parameters" in reply.meta["result_msg"]


def test_clone_execution_overrides(api):
    source = api.ok("tasks.create", name="src", type="training", hyperparams={
        "Args": {"keep": {"section": "Args", "name": "keep", "value": "k"},
                 "old": {"section": "Args", "name": "old", "value": "o", "type": "legacy"}}},
        container={"image": "base"})["id"]
    model = api.ok("models.create", name="m2", uri="file:///m2")["id"]
    clone = api.ok("tasks.clone", task=source, execution_overrides={
        "model": model, "docker_cmd": "img:1 --rm", "parameters": {"fresh": 5}, "framework": "torch"})["id"]
    stored = get_task(api, clone)
    assert {name: p["value"] for name, p in stored["hyperparams"]["Args"].items()} == {"keep": "k", "fresh": "5"}
    assert stored["models"]["input"][0]["model"] == model
    assert stored["container"] == {"image": "img:1", "arguments": "--rm"}
    assert stored["execution"]["framework"] == "torch" and "model" not in stored["execution"]
    # Given explicitly, the new task's own container wins over docker_cmd.
    clone2 = api.ok("tasks.clone", task=source, new_task_container={"image": "mine"},
                    execution_overrides={"docker_cmd": "ignored"})["id"]
    assert get_task(api, clone2)["container"] == {"image": "mine"}
