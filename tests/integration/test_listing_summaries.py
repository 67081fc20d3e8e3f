"""The tag, user, metric and hyper-parameter listings come from per-project summaries (bll/listing_summaries.py):
each test reads a listing first (so its summary is built), changes what it lists through the API, and reads
it again: every write path that adds or removes a value must show at once, as the scan of the tasks did."""
from __future__ import annotations

import json

from support.names import unique
from support.objects import create_project


def _task(api, project: str | None, **fields) -> str:
    return api.ok("tasks.create", name=unique("t"), type="training", project=project, **fields)["id"]


def _scalars(api, task: str, metric: str, variant: str) -> None:
    event = {"type": "training_stats_scalar", "task": task, "metric": metric, "variant": variant, "iter": 1,
             "value": 0.5}
    reply = api.send("events.add_batch", method="POST", body=json.dumps(event),
                     headers={"Content-Type": "application/json-lines"})
    assert reply.status == 200, reply.body


def _task_tags(api, project: str, **extra) -> dict:
    return api.ok("projects.get_task_tags", projects=[project], **extra)


def test_tags_follow_every_write(api):
    first, second = create_project(api, unique("tags")), create_project(api, unique("tags"))
    assert _task_tags(api, first, include_system=True) == {"tags": [], "system_tags": []}
    task = _task(api, first, tags=["a", "b"])
    assert _task_tags(api, first) == {"tags": ["a", "b"]}
    api.ok("tasks.update", task=task, tags=["b", "c"])  # an edit drops one
    assert _task_tags(api, first) == {"tags": ["b", "c"]}
    api.ok("tasks.update_tags", ids=[task], remove_tags=["b"], add_tags=["d"])
    assert _task_tags(api, first) == {"tags": ["c", "d"]}
    api.ok("tasks.archive", tasks=[task])
    assert "archived" in _task_tags(api, first, include_system=True)["system_tags"]
    api.ok("tasks.unarchive_many", ids=[task])
    assert "archived" not in _task_tags(api, first, include_system=True)["system_tags"]
    # Moved: gone from the first project, listed in the second.
    assert _task_tags(api, second) == {"tags": []}
    api.ok("tasks.move", ids=[task], project=second)
    assert _task_tags(api, first) == {"tags": []} and _task_tags(api, second) == {"tags": ["c", "d"]}
    everywhere = api.ok("organization.get_tags")["tags"]
    assert {"c", "d"} <= set(everywhere)
    api.ok("tasks.delete", task=task, force=True)
    assert _task_tags(api, second) == {"tags": []}
    tag = unique("only-here")
    _task(api, first, tags=[tag])
    assert tag in api.ok("organization.get_tags")["tags"] and tag in api.ok("projects.get_task_tags")["tags"]
    api.ok("projects.delete", project=first, force=True, delete_contents=True)
    assert tag not in api.ok("organization.get_tags")["tags"]


def test_a_dropped_tag_stays_listed_while_another_task_carries_it(api):
    project = create_project(api, unique("shared"))
    first, second = _task(api, project, tags=["shared", "one"]), _task(api, project, tags=["shared"])
    assert _task_tags(api, project) == {"tags": ["one", "shared"]}
    api.ok("tasks.update", task=first, tags=["one"])
    assert _task_tags(api, project) == {"tags": ["one", "shared"]}
    api.ok("tasks.update_tags", ids=[second], remove_tags=["shared"])
    assert _task_tags(api, project) == {"tags": ["one"]}
    api.ok("tasks.update_tags", ids=[first, second], add_tags=["both"], remove_tags=["one"])
    assert _task_tags(api, project) == {"tags": ["both"]}


def test_model_tags_and_owners(api):
    project = create_project(api, unique("models"))
    assert api.ok("projects.get_model_tags", projects=[project]) == {"tags": []}
    assert api.ok("projects.get_user_names", projects=[project], entity="model") == {"users": []}
    model = api.ok("models.create", name="m", uri="file:///m", project=project, tags=["x"])["id"]
    assert api.ok("projects.get_model_tags", projects=[project]) == {"tags": ["x"]}
    assert len(api.ok("projects.get_user_names", projects=[project], entity="model")["users"]) == 1
    api.ok("models.update", model=model, tags=["y"])
    assert api.ok("projects.get_model_tags", projects=[project]) == {"tags": ["y"]}
    api.ok("models.delete", model=model)
    assert api.ok("projects.get_model_tags", projects=[project]) == {"tags": []}
    assert api.ok("projects.get_user_names", projects=[project], entity="model") == {"users": []}


def test_users_follow_tasks(api):
    project = create_project(api, unique("users"))
    assert api.ok("projects.get_user_names", projects=[project]) == {"users": []}
    task = _task(api, project)
    me = api.ok("users.get_current_user")["user"]
    assert api.ok("projects.get_user_names", projects=[project])["users"] == [{"id": me["id"], "name": me["name"]}]
    assert me["id"] in {u["id"] for u in api.ok("projects.get_user_names")["users"]}
    api.ok("tasks.delete", task=task, force=True)
    assert api.ok("projects.get_user_names", projects=[project]) == {"users": []}


def test_metric_pairs_follow_reports_and_resets(api):
    project = create_project(api, unique("metrics"))
    task = _task(api, project)
    assert api.ok("projects.get_unique_metric_variants", project=project) == {"metrics": []}
    _scalars(api, task, "loss", "train")
    listed = api.ok("projects.get_unique_metric_variants", project=project)["metrics"]
    assert [(m["metric"], m["variant"]) for m in listed] == [("loss", "train")]
    _scalars(api, task, "loss", "val")  # a pair new to the task extends the built summary
    _scalars(api, task, "loss", "train")
    listed = api.ok("projects.get_unique_metric_variants", project=project)["metrics"]
    assert [(m["metric"], m["variant"]) for m in listed] == [("loss", "train"), ("loss", "val")]
    # The same pairs, hashes included, as the task's own ids-based listing (read from the task documents).
    assert api.ok("projects.get_unique_metric_variants", project=project, ids=[task])["metrics"] == listed
    api.ok("tasks.reset", task=task, force=True)
    assert api.ok("projects.get_unique_metric_variants", project=project) == {"metrics": []}


def test_hyper_parameters_and_values_follow_edits(api):
    project = create_project(api, unique("params"))
    assert api.ok("projects.get_hyper_parameters", project=project)["parameters"] == []
    task = _task(api, project, hyperparams={"Args": {"lr": {"section": "Args", "name": "lr", "value": "0.1"}}})
    other = _task(api, project, hyperparams={"Args": {"lr": {"section": "Args", "name": "lr", "value": "0.01"}}})

    def values() -> list:
        return api.ok("projects.get_hyperparam_values", projects=[project], section="Args", name="lr")["values"]

    assert values() == ["0.01", "0.1"]
    api.ok("tasks.edit_hyper_params", task=task, hyperparams=[{"section": "Data", "name": "set", "value": "x"}])
    api.ok("tasks.edit_hyper_params", task=other, hyperparams=[{"section": "Args", "name": "lr", "value": "0.5"}])
    params = api.ok("projects.get_hyper_parameters", project=project)["parameters"]
    assert params == [{"section": "Args", "name": "lr"}, {"section": "Data", "name": "set"}]
    assert values() == ["0.1", "0.5"]
    assert {"section": "Data", "name": "set"} in api.ok("projects.get_hyper_parameters", project="")["parameters"]
    api.ok("tasks.delete_hyper_params", task=task, hyperparams=[{"section": "Data", "name": "set"}])
    assert api.ok("projects.get_hyper_parameters", project=project)["parameters"] == [{"section": "Args", "name": "lr"}]
    cloned = api.ok("tasks.clone", task=task)["id"]
    api.ok("tasks.edit_hyper_params", task=cloned, hyperparams=[{"section": "Args", "name": "lr", "value": "7"}])
    assert values() == ["0.1", "0.5", "7"]


def test_concurrent_writes_and_reads_end_exact(api):
    """Writers adding, replacing and archiving tags while readers rebuild the summary: once the writes are
    done, the listing is exactly the tasks' tags (a rebuild racing a write must never store a stale list)."""
    from concurrent.futures import ThreadPoolExecutor

    from support.client import ApiClient

    project = create_project(api, unique("race"))
    assert _task_tags(api, project) == {"tags": []}

    def writer(n: int) -> None:
        client = ApiClient(api.base_url, api.key, api.secret).login()
        for i in range(4):
            task = _task(client, project, tags=[f"w{n}-new-{i}"])
            client.ok("tasks.update", task=task, tags=[f"w{n}-kept-{i}"])
            if i % 2:
                client.ok("tasks.archive", tasks=[task])
            _task_tags(client, project, include_system=True)

    def reader() -> None:
        client = ApiClient(api.base_url, api.key, api.secret).login()
        for _ in range(12):
            _task_tags(client, project, include_system=True)

    with ThreadPoolExecutor(5) as pool:
        for future in [pool.submit(writer, n) for n in range(4)] + [pool.submit(reader)]:
            future.result()
    tasks = api.ok("tasks.get_all_ex", project=[project], only_fields=["tags", "system_tags"])["tasks"]
    assert _task_tags(api, project, include_system=True) == {
        "tags": sorted({t for task in tasks for t in task["tags"]}),
        "system_tags": sorted({t for task in tasks for t in task["system_tags"]})}
    assert len(tasks) == 16
