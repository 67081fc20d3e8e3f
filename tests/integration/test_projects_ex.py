"""projects.get_all_ex statistics and selections, and the reads across a project's tasks and models:
get_hyper_parameters, get_hyperparam_values, get_task_parents, get_project_tags, model metadata keys/values."""
from __future__ import annotations

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from support.sdk_api import call, run_calls


def hp(section: str, name: str, value: str) -> dict:
    return {section: {name: {"section": section, "name": name, "value": value, "type": "str"}}}


def new_task(client: ApiClient, project: str, name: str = "t", **fields) -> str:
    return client.ok("tasks.create", name=name, type=fields.pop("type", "training"), project=project, **fields)["id"]


@pytest.fixture(scope="module")
def tree(api_server):
    """root / a / b, with tasks in several states, a hidden dataset and a pipeline, hyper-parameters and models."""
    client = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    root = unique("pex")
    ids = {"root": create_project(client, root, tags=["root-tag"], system_tags=["root-sys"]),
           "a": create_project(client, f"{root}/a", tags=["a-tag"]),
           "b": create_project(client, f"{root}/a/b", tags=["b-tag"])}
    # root: one completed task (with a run time), one created; a: one archived; b: one created, one in progress.
    done = new_task(client, ids["root"], "done", hyperparams={**hp("Args", "lr", "10"), **hp("a.b", "x.y", "v")},
                    runtime={"ds_file_count": 3, "ds_total_size": 100})
    client.ok("tasks.started", task=done)
    client.ok("tasks.completed", task=done)
    new_task(client, ids["root"], "new", hyperparams=hp("Args", "lr", "9"))
    archived = new_task(client, ids["a"], "old", hyperparams=hp("Args", "lr", "2.5"), parent=done)
    client.ok("tasks.archive", tasks=[archived])
    new_task(client, ids["b"], "child-of-done", parent=done, hyperparams=hp("Args", "lr", "100"))
    running = new_task(client, ids["b"], "running", parent=archived, hyperparams=hp("Args", "batch", "32"))
    client.ok("tasks.started", task=running)
    # A dataset and a pipeline, kept in hidden folders as the SDK makes them.
    ids["dataset"] = create_project(client, f"{root}/a/.datasets/ds", system_tags=["hidden", "dataset"],
                                    tags=["ds-tag"])
    ids["pipeline"] = create_project(client, f"{root}/.pipelines/pl", system_tags=["hidden", "pipeline"])
    new_task(client, ids["pipeline"], "controller", type="controller", system_tags=["pipeline"])
    client.ok("models.create", name="m1", uri="file:///1", project=ids["root"],
              metadata=[{"key": "epochs", "value": "10", "type": "int"}, {"key": "a.b", "value": "x", "type": "str"}])
    client.ok("models.create", name="m2", uri="file:///2", project=ids["b"],
              metadata=[{"key": "epochs", "value": "9", "type": "int"}])
    return {"name": root, "ids": ids, "done": done, "archived": archived, "running": running}


def ex(api, **params) -> list[dict]:
    return api.ok("projects.get_all_ex", **params)["projects"]


# -- get_all_ex statistics ---------------------------------------------------------------------------------
def test_stats_with_children(api, tree):
    ids, name = tree["ids"], tree["name"]
    root = ex(api, id=[ids["root"]], include_stats=True)[0]
    active = root["stats"]["active"]
    assert set(root["stats"]) == {"active"}
    counts = active["status_count"]
    assert (counts["completed"], counts["created"], counts["in_progress"]) == (1, 2, 1)
    assert active["total_tasks"] == 4 and active["completed_tasks_24h"] == 1
    assert active["total_runtime"] >= 0 and active["last_task_run"] is not None
    # Every non-hidden descendant, sorted by name.
    assert root["sub_projects"] == [{"id": ids["a"], "name": f"{name}/a"}, {"id": ids["b"], "name": f"{name}/a/b"}]


def test_stats_without_children_and_per_state(api, tree):
    ids = tree["ids"]
    root = ex(api, id=[ids["root"]], include_stats=True, stats_with_children=False)[0]
    assert root["stats"]["active"]["total_tasks"] == 2 and root["sub_projects"] == []
    archived = ex(api, id=[ids["a"]], include_stats=True, stats_for_state="archived")[0]["stats"]
    assert set(archived) == {"archived"} and archived["archived"]["total_tasks"] == 1
    both = ex(api, id=[ids["a"]], include_stats=True, stats_for_state=None)[0]["stats"]
    assert (both["active"]["total_tasks"], both["archived"]["total_tasks"]) == (2, 1)
    filtered = ex(api, id=[ids["root"]], include_stats=True, include_stats_filter={"status": ["created"]})[0]
    assert filtered["stats"]["active"]["total_tasks"] == 2
    # With hidden projects searched, the pipeline's controller counts too.
    hidden = ex(api, id=[ids["root"]], include_stats=True, search_hidden=True)[0]
    assert hidden["stats"]["active"]["total_tasks"] == 5


def test_check_own_contents(api, tree):
    ids = tree["ids"]
    found = {p["id"]: p for p in ex(api, id=[ids["root"], ids["a"], ids["b"]], check_own_contents=True)}
    assert (found[ids["root"]]["own_tasks"], found[ids["root"]]["own_models"]) == (2, 1)
    assert (found[ids["a"]]["own_tasks"], found[ids["b"]]["own_tasks"], found[ids["b"]]["own_models"]) == (0, 2, 1)
    archived = ex(api, id=[ids["a"]], check_own_contents=True, stats_for_state="archived")[0]
    assert archived["own_tasks"] == 1
    assert "stats" not in found[ids["root"]] and "sub_projects" not in found[ids["root"]]


def test_hidden_projects(api, tree):
    ids, name = tree["ids"], tree["name"]
    visible = ex(api, name=f"^{name}/")
    assert {p["id"] for p in visible} == {ids["a"], ids["b"]}
    everything = ex(api, name=f"^{name}/", search_hidden=True, only_fields=["name"])
    hidden = {p["name"] for p in everything if p.get("hidden")}
    assert hidden == {f"{name}/a/.datasets", f"{name}/a/.datasets/ds", f"{name}/.pipelines", f"{name}/.pipelines/pl"}
    assert all("system_tags" not in p for p in everything)
    # Asking for a hidden project by id finds it.
    assert [p["id"] for p in ex(api, id=[ids["dataset"]])] == [ids["dataset"]]


def test_shallow_search(api, tree):
    ids = tree["ids"]
    assert [p["id"] for p in ex(api, parent=[ids["root"]], shallow_search=True)] == [ids["a"]]
    assert {p["id"] for p in ex(api, parent=[ids["root"]])} == {ids["a"], ids["b"]}


def test_children_type_dataset(api, tree):
    ids = tree["ids"]
    found = ex(api, parent=[ids["root"]], shallow_search=True, children_type="dataset", include_stats=True,
               check_own_contents=True)
    assert [p["id"] for p in found] == [ids["a"]]
    assert found[0]["stats"] == {"datasets": {"count": 1, "tags": ["ds-tag"]}}
    assert found[0]["own_datasets"] == 0
    top = ex(api, id=[ids["root"]], children_type="dataset", include_stats=True)[0]
    assert top["stats"]["datasets"]["count"] == 1
    assert ex(api, id=[ids["b"]], children_type="dataset") == []
    tagged = ex(api, id=[ids["root"]], children_type="dataset", children_tags=["no-such-tag"])
    assert tagged == []


def test_children_type_pipeline(api, tree):
    ids = tree["ids"]
    found = ex(api, id=[ids["root"], ids["a"]], children_type="pipeline", include_stats=True)
    assert [p["id"] for p in found] == [ids["root"]]
    assert found[0]["stats"]["active"]["total_tasks"] == 1  # only the controller task counts


def test_active_users_and_dataset_stats(api, tree):
    ids = tree["ids"]
    me = api.ok("users.get_current_user")["user"]["id"]
    assert {p["id"] for p in ex(api, id=[ids["root"], ids["b"]], active_users=[me])} == {ids["root"], ids["b"]}
    assert ex(api, id=[ids["root"]], active_users=["0" * 32]) == []
    stats = ex(api, id=[ids["root"], ids["a"]], include_dataset_stats=True)
    by_id = {p["id"]: p["dataset_stats"] for p in stats}
    assert by_id == {ids["root"]: {"file_count": 3, "total_size": 100}, ids["a"]: None}


def test_get_all_ex_bad_input(api):
    api.error("projects.get_all_ex", (400, 12), stats_for_state="sometimes")
    api.error("projects.get_all_ex", (400, 12), children_type="queue")
    api.error("projects.get_all_ex", (400, 12), include_stats="maybe")
    api.error("projects.get_all_ex", (400, 12), include_stats=True, include_stats_filter={"status": "created"})


def test_get_all_ex_old_version_merges_system_tags(api, tree):
    reply = api.send("projects.get_all_ex", {"id": [tree["ids"]["root"]]}, version="2.1")
    assert reply.code == (200, 0)
    assert reply.data["projects"][0]["tags"] == ["root-sys", "root-tag"]
    assert ex(api, id=[tree["ids"]["root"]])[0]["tags"] == ["root-tag"]


# -- hyper-parameters --------------------------------------------------------------------------------------
def test_get_hyper_parameters(api, tree):
    ids = tree["ids"]
    reply = api.ok("projects.get_hyper_parameters", project=ids["root"])
    assert reply == {"total": 3, "remaining": 0, "parameters": [
        {"section": "Args", "name": "batch"}, {"section": "Args", "name": "lr"}, {"section": "a.b", "name": "x.y"}]}
    page = api.ok("projects.get_hyper_parameters", project=ids["root"], page=1, page_size=2)
    assert page == {"total": 3, "remaining": 0, "parameters": [{"section": "a.b", "name": "x.y"}]}
    first = api.ok("projects.get_hyper_parameters", project=ids["root"], page=0, page_size=1)
    assert (first["remaining"], len(first["parameters"])) == (2, 1)
    own = api.ok("projects.get_hyper_parameters", project=ids["b"], include_subprojects=False)
    assert [p["name"] for p in own["parameters"]] == ["batch", "lr"]
    old = api.send("projects.get_hyper_parameters", {"project": ids["a"]}, version="2.9")
    assert old.code == (200, 0) and old.data["total"] == 2


def test_get_hyperparam_values(api, tree):
    ids = tree["ids"]
    values = api.ok("projects.get_hyperparam_values", projects=[ids["root"]], section="Args", name="lr")
    assert values["values"] == ["2.5", "9", "10", "100"] and values["total"] == 4
    page = api.ok("projects.get_hyperparam_values", projects=[ids["root"]], section="Args", name="lr",
                  page=1, page_size=3)
    assert page == {"total": 4, "values": ["100"]}
    assert api.ok("projects.get_hyperparam_values", projects=[ids["root"]], section="Args", name="lr",
                  pattern="^1")["values"] == ["10", "100"]
    assert api.ok("projects.get_hyperparam_values", projects=[ids["root"]], section="a.b",
                  name="x.y")["values"] == ["v"]
    none = api.ok("projects.get_hyperparam_values", projects=[ids["root"]], section="Args", name="nope")
    assert none == {"total": 0, "values": []}
    own = api.ok("projects.get_hyperparam_values", projects=[ids["root"]], section="Args", name="lr",
                 include_subprojects=False)
    assert own["values"] == ["9", "10"]


def test_hyperparams_named_only_by_their_keys(api):
    project = create_project(api, unique("pex-keys"))
    new_task(api, project, hyperparams={"Extra": {"k.1": {"value": "7"}, "k$2": {"value": "-1"}}})
    new_task(api, project, hyperparams={"Extra": {"k.1": {"value": "10"}}})
    reply = api.ok("projects.get_hyper_parameters", project=project)
    assert reply["parameters"] == [{"section": "Extra", "name": "k$2"}, {"section": "Extra", "name": "k.1"}]
    assert api.ok("projects.get_hyperparam_values", projects=[project], section="Extra", name="k.1")["values"] == [
        "7", "10"]


def test_hyperparams_bad_input(api, tree):
    api.error("projects.get_hyperparam_values", (400, 11), section="Args")
    api.error("projects.get_hyperparam_values", (400, 12), section="Args", name="lr", page_size="many")
    api.error("projects.get_hyperparam_values", (400, 21), section="Args", name="lr", pattern="([")
    api.error("projects.get_hyper_parameters", (400, 11))
    assert api.send("projects.get_hyperparam_values", {"section": "A", "name": "b"}, version="2.12").status == 404


# -- task parents, tags, model metadata --------------------------------------------------------------------
def test_get_task_parents(api, tree):
    ids, done, archived = tree["ids"], tree["done"], tree["archived"]
    parents = api.ok("projects.get_task_parents", projects=[ids["root"]])["parents"]
    assert parents == [{"id": done, "name": "done", "project": {"id": ids["root"], "name": tree["name"]}},
                       {"id": archived, "name": "old", "project": {"id": ids["a"], "name": f"{tree['name']}/a"}}]
    of_archived = api.ok("projects.get_task_parents", projects=[ids["root"]], tasks_state="archived")["parents"]
    assert [p["id"] for p in of_archived] == [done]
    every = api.ok("projects.get_task_parents", projects=[ids["a"]], tasks_state=None)["parents"]
    assert [p["id"] for p in every] == [done, archived]
    assert api.ok("projects.get_task_parents", projects=[ids["b"]], include_subprojects=False,
                  task_name="^ol")["parents"] == [parents[1]]


def test_get_project_tags(api, tree):
    ids = tree["ids"]
    tags = api.ok("projects.get_project_tags", projects=[ids["a"]])
    assert tags == {"tags": ["a-tag", "b-tag", "ds-tag"], "system_tags": []}
    with_system = api.ok("projects.get_project_tags", projects=[ids["root"]], include_system=True,
                         filter={"system_tags": ["dataset"]})
    assert with_system == {"tags": ["ds-tag"], "system_tags": ["dataset", "hidden"]}


def test_model_metadata(api, tree):
    ids = tree["ids"]
    keys = api.ok("projects.get_model_metadata_keys", project=ids["root"])
    assert keys == {"total": 2, "remaining": 0, "keys": ["a.b", "epochs"]}
    assert api.ok("projects.get_model_metadata_keys", project=ids["root"], include_subprojects=False,
                  page_size=1) == {"total": 2, "remaining": 1, "keys": ["a.b"]}
    values = api.ok("projects.get_model_metadata_values", projects=[ids["root"]], key="epochs")
    assert values == {"total": 2, "values": ["9", "10"]}
    assert api.ok("projects.get_model_metadata_values", projects=[ids["b"]], key="epochs", page=1,
                  page_size=1) == {"total": 1, "values": []}
    api.error("projects.get_model_metadata_values", (400, 11), projects=[ids["b"]])


@pytest.mark.parametrize("name", ["projects.get_hyper_parameters", "projects.get_hyperparam_values",
                                  "projects.get_task_parents", "projects.get_project_tags",
                                  "projects.get_model_metadata_keys", "projects.get_model_metadata_values"])
def test_unauthenticated(anon, name):
    assert anon.send(name, {}).status == 401


def test_through_the_sdk(api_server, tree, tmp_path):
    ids = tree["ids"]
    answers = run_calls(api_server, [
        call("projects.get_hyper_parameters", project=ids["root"]),
        call("projects.get_hyperparam_values", projects=[ids["root"]], section="Args", name="lr"),
        call("projects.get_task_parents", projects=[ids["root"]]),
        call("projects.get_all_ex", raw=True, version="2.16", id=[ids["root"]], include_stats=True),
        call("projects.get_project_tags", raw=True, version="2.17", projects=[ids["a"]]),
        call("projects.get_model_metadata_keys", raw=True, version="2.17", project=ids["root"]),
    ], tmp_path / "home")
    assert all(a["ok"] for a in answers), answers
    assert answers[0]["data"]["total"] == 3
    assert answers[1]["data"]["values"] == ["2.5", "9", "10", "100"]
    assert len(answers[2]["data"]["parents"]) == 2
    assert answers[3]["data"]["projects"][0]["stats"]["active"]["total_tasks"] == 4
    assert answers[4]["data"]["tags"] == ["a-tag", "b-tag", "ds-tag"]
    assert answers[5]["data"]["keys"] == ["a.b", "epochs"]
