"""Concurrent edits of one task from several processes: edits of different items never conflict and none is
lost (the SDK does not retry a refused edit, so a refusal is lost data)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.objects import get_task

EDITOR = Path(__file__).resolve().parents[1] / "support" / "concurrent_editor.py"
PROCESSES, THREADS, ROUNDS = 4, 4, 4


def test_sixteen_editors_on_one_running_task_lose_nothing(api, api_server):
    task = api.ok("tasks.create", name="concurrent edits", type="training")["id"]
    api.ok("tasks.started", task=task)
    editors = [
        subprocess.Popen([sys.executable, str(EDITOR), api_server.url, api_server.key, api_server.secret, task,
                          str(n), str(THREADS), str(ROUNDS)], stdout=subprocess.PIPE, text=True)
        for n in range(PROCESSES)
    ]
    outputs = [json.loads(editor.communicate(timeout=300)[0].strip().splitlines()[-1]) for editor in editors]
    refused = [r for out in outputs for r in out["refused"]]
    assert sum(out["calls"] for out in outputs) == PROCESSES * THREADS * ROUNDS * 7
    assert refused == []

    stored = get_task(api, task)
    names = [f"p{p}t{t}_r{r}" for p in range(PROCESSES) for t in range(THREADS) for r in range(ROUNDS)]
    assert set(stored["hyperparams"]["Args"]) == {f"p_{n}" for n in names}
    assert set(stored["hyperparams"]["properties"]) == {f"prop_{n}" for n in names}
    assert set(stored["configuration"]) == {f"conf.{n}" for n in names}
    assert {a["key"] for a in stored["execution"]["artifacts"]} == {f"art_{n}" for n in names}
    assert {m["name"] for m in stored["models"]["output"]} == {f"model_{n}" for n in names}
    assert set(stored["tags"]) == {f"tag_{n}" for n in names}
    assert stored["comment"] in {f"comment by {n}" for n in names}
    assert stored["status"] == "in_progress"


def test_an_edit_the_status_no_longer_allows_is_refused_with_the_status_not_a_conflict(api):
    task = api.ok("tasks.create", name="published", type="training")["id"]
    api.ok("tasks.started", task=task)
    api.ok("tasks.stopped", task=task)
    api.ok("tasks.publish", task=task, force=True)
    reply = api.send("tasks.edit_hyper_params", {"task": task, "force": True, "hyperparams": [
        {"section": "Args", "name": "x", "value": "1"}]})
    assert reply.code == (400, 113) and task in reply.meta["result_msg"]
    # Properties describe the task: they stay editable even once it is published.
    api.ok("tasks.edit_hyper_params", task=task, hyperparams=[{"section": "properties", "name": "n", "value": "v"}])


def test_names_with_dots_and_dollars_round_trip(api):
    task = api.ok("tasks.create", name="dotted", type="training", hyperparams={
        "a.b": {"x.y": {"section": "a.b", "name": "x.y", "value": "1"}}},
        configuration={"c.d": {"name": "c.d", "value": "v"}})["id"]
    api.ok("tasks.edit_hyper_params", task=task, hyperparams=[{"section": "a.b", "name": "$z", "value": "2"},
                                                              {"section": "50%", "name": "q", "value": "3"}])
    stored = get_task(api, task)
    assert stored["hyperparams"] == {
        "a.b": {"x.y": {"section": "a.b", "name": "x.y", "value": "1"},
                "$z": {"section": "a.b", "name": "$z", "value": "2"}},
        "50%": {"q": {"section": "50%", "name": "q", "value": "3"}},
    }
    assert stored["configuration"] == {"c.d": {"name": "c.d", "value": "v"}}
    listed = api.ok("tasks.get_hyper_params", tasks=[task])["params"][0]["hyperparams"]
    assert [(p["section"], p["name"]) for p in listed] == [("50%", "q"), ("a.b", "$z"), ("a.b", "x.y")]
    api.ok("tasks.delete_hyper_params", task=task, hyperparams=[{"section": "a.b", "name": "x.y"}])
    api.ok("tasks.delete_configuration", task=task, configuration=["c.d"])
    clone = api.ok("tasks.clone", task=task)["id"]
    for task_id in (task, clone):
        stored = get_task(api, task_id)
        assert set(stored["hyperparams"]["a.b"]) == {"$z"} and stored["configuration"] == {}
    only = api.ok("tasks.get_all", id=[task], only_fields=["hyperparams.50%"])["tasks"][0]
    assert only["hyperparams"] == {"50%": {"q": {"section": "50%", "name": "q", "value": "3"}}}
    ordered = api.ok("tasks.get_all", id=[task, clone], order_by=["-hyperparams.50%.q.value"],
                     only_fields=["id"])["tasks"]
    assert len(ordered) == 2
