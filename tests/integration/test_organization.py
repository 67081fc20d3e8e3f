"""organization.*: company tags, users, entity counts and the CSV export of a get_all_ex query."""
from __future__ import annotations

import csv
import io

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from support.sdk_api import call, run_calls


@pytest.fixture(scope="module")
def world(api_server):
    """One project with three tasks and a model, with tags of their own; shared by the read-only tests."""
    client = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    mark = unique("org")
    project = create_project(client, mark)
    tasks = [client.ok("tasks.create", name=f"{mark}-t{i}", type="training", project=project,
                       tags=[f"{mark}-task", f"{mark}-{i}"], system_tags=[f"{mark}-sys"])["id"] for i in range(3)]
    client.ok("tasks.archive", tasks=[tasks[2]])
    hidden = client.ok("tasks.create", name=f"{mark}-hidden", type="training", project=project,
                       system_tags=["hidden"])["id"]
    model = client.ok("models.create", name=f"{mark}-m", uri="file:///m.pt", project=project,
                      tags=[f"{mark}-model"])["id"]
    return {"mark": mark, "project": project, "tasks": tasks, "hidden": hidden, "model": model}


# -- get_tags ----------------------------------------------------------------------------------------------
def test_get_tags_merges_tasks_and_models(api, world):
    mark = world["mark"]
    tags = api.ok("organization.get_tags")
    assert set(tags) == {"tags"}
    assert {f"{mark}-task", f"{mark}-0", f"{mark}-model"} <= set(tags["tags"])
    assert tags["tags"] == sorted(tags["tags"])
    with_system = api.ok("organization.get_tags", include_system=True)
    assert f"{mark}-sys" in with_system["system_tags"] and "archived" in with_system["system_tags"]


def test_get_tags_filter(api, world):
    mark = world["mark"]
    only_model = api.ok("organization.get_tags", filter={"tags": [f"{mark}-model"]})["tags"]
    assert only_model == [f"{mark}-model"]
    by_system = api.ok("organization.get_tags", include_system=True,
                       filter={"system_tags": [f"{mark}-sys", "__$not", "archived"]})
    assert set(by_system["tags"]) == {f"{mark}-task", f"{mark}-0", f"{mark}-1"}


def test_get_tags_bad_input(api):
    api.error("organization.get_tags", (400, 12), include_system="maybe")
    api.error("organization.get_tags", (400, 12), filter="not-a-dict")
    assert api.ok("organization.get_tags", unknown_key=1)["tags"] is not None


# -- users and companies -----------------------------------------------------------------------------------
def test_get_user_companies(api):
    companies = api.ok("organization.get_user_companies")["companies"]
    assert len(companies) == 1
    company = companies[0]
    assert company["allocated"] == len(company["owners"]) >= 1
    names = [o["name"] for o in company["owners"]]
    assert names == sorted(names) and all(set(o) == {"id", "name", "avatar"} for o in company["owners"])


# -- get_entities_count ------------------------------------------------------------------------------------
def test_entities_count(api, world):
    project, mark = world["project"], world["mark"]
    counts = api.ok("organization.get_entities_count", tasks={"project": [project]}, models={"project": [project]},
                    projects={"id": [project]})
    assert counts == {"tasks": 3, "models": 1, "projects": 1}
    hidden_too = api.ok("organization.get_entities_count", tasks={"project": [project]}, search_hidden=True)
    assert hidden_too == {"tasks": 4}
    active = api.ok("organization.get_entities_count", tasks={"project": [project], "system_tags": ["-archived"]},
                    reports={"project": [project]})
    assert active == {"tasks": 2, "reports": 0}
    by_name = api.ok("organization.get_entities_count", tasks={"name": f"^{mark}-t[01]$"})
    assert by_name == {"tasks": 2}
    create_project(api, f"{mark}/child")
    children = api.ok("organization.get_entities_count", projects={"parent": [project]})
    assert children == {"projects": 1}


def test_entities_count_active_users(api, world):
    me = api.ok("users.get_current_user")["user"]["id"]
    counts = api.ok("organization.get_entities_count", active_users=[me], projects={"id": [world["project"]]},
                    tasks={"project": [world["project"]]})
    assert counts == {"projects": 1, "tasks": 3}
    nobody = api.ok("organization.get_entities_count", active_users=["0" * 32], projects={"id": [world["project"]]},
                    tasks={"project": [world["project"]]})
    assert nobody == {"projects": 0, "tasks": 0}


def test_entities_count_versions(api, world):
    project = world["project"]
    # search_hidden and reports are not part of 2.20: ignored there.
    old = api.send("organization.get_entities_count", {"tasks": {"project": [project]}, "search_hidden": True,
                                                       "reports": {}}, version="2.20")
    assert old.code == (200, 0) and old.data == {"tasks": 3}
    assert api.send("organization.get_entities_count", {"tasks": {}}, version="2.19").code == (404, 0)


def test_entities_count_bad_input(api):
    api.error("organization.get_entities_count", (400, 12), tasks=["not", "a", "dict"])
    api.error("organization.get_entities_count", (400, 21), tasks={"name": "(["})
    api.error("organization.get_entities_count", (400, 16), tasks={"tags": [5]})


# -- CSV export --------------------------------------------------------------------------------------------
def download(api: ApiClient, prepare_id: str):
    resp = api.session.get(f"{api.base_url}/organization.download_for_get_all", params={"prepare_id": prepare_id},
                           headers={"Authorization": f"Bearer {api.token}"}, timeout=60)
    return resp


def test_export_tasks_as_csv(api, world):
    mappings = [{"field": "name", "name": "Name"}, {"field": "status", "values": [{"key": "created", "value": "New"}]},
                {"field": "project", "name": "Project"}, {"field": "hyperparams.missing", "name": "Missing"}]
    prepared = api.ok("organization.prepare_download_for_get_all", entity_type="task", project=[world["project"]],
                      only_fields=["name", "status", "project"], field_mappings=mappings, order_by=["name"])
    resp = download(api, prepared["prepare_id"])
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert f"clearml-{world['mark']}-tasks.csv" in resp.headers["Content-Disposition"]
    text = resp.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["Name", "status", "Project", "Missing"]
    assert rows[1:] == [[f"{world['mark']}-t{i}", "New", world["project"], ""] for i in range(3)]


def test_export_paging_and_empty(api, world, monkeypatch):
    prepared = api.ok("organization.prepare_download_for_get_all", entity_type="model", id=[world["model"]],
                      only_fields=["name", "project.name"],
                      field_mappings=[{"field": "name"}, {"field": "id", "name": "ID"}, {"field": "project.name"}])
    rows = list(csv.reader(io.StringIO(download(api, prepared["prepare_id"]).content.decode("utf-8-sig"))))
    assert rows == [["name", "ID", "project.name"], [f"{world['mark']}-m", world["model"], world["mark"]]]
    nothing = api.ok("organization.prepare_download_for_get_all", entity_type="model", name="^no-such-model-xyz$",
                     only_fields=["name"], field_mappings=[{"field": "name"}])
    resp = download(api, nothing["prepare_id"])
    assert resp.headers["Content-Disposition"].endswith('clearml-models.csv"')
    assert resp.content.decode("utf-8").strip() == "name"


def test_export_errors(api, world):
    fm = [{"field": "name"}]
    api.error("organization.prepare_download_for_get_all", (400, 11), only_fields=["name"], field_mappings=fm)
    api.error("organization.prepare_download_for_get_all", (400, 12), entity_type="queue", only_fields=["name"],
              field_mappings=fm)
    api.error("organization.prepare_download_for_get_all", (400, 12), entity_type="task", only_fields=["name"],
              field_mappings=[{"field": "name"}, {"field": "x", "name": "name"}])
    api.error("organization.prepare_download_for_get_all", (400, 12), entity_type="task", only_fields=[],
              field_mappings=fm)
    # The query is checked when prepared, not when downloaded.
    api.error("organization.prepare_download_for_get_all", (400, 21), entity_type="task", only_fields=["name"],
              field_mappings=fm, name="([")
    api.error("organization.download_for_get_all", (400, 10), prepare_id="0" * 32)
    api.error("organization.download_for_get_all", (400, 11))
    reply = api.send("organization.prepare_download_for_get_all", {"entity_type": "task", "only_fields": ["name"],
                                                                   "field_mappings": fm}, version="2.25")
    assert reply.status == 404


@pytest.mark.parametrize("name", ["organization.get_tags", "organization.get_user_companies",
                                  "organization.get_entities_count", "organization.download_for_get_all"])
def test_unauthenticated(anon, name):
    assert anon.send(name, {}).status == 401


def test_through_the_sdk(api_server, world, tmp_path):
    # The SDK's APIClient has no typed "organization" service: its session sends these as the web app does.
    answers = run_calls(api_server, [
        call("organization.get_tags", raw=True, version="2.8", include_system=True),
        call("organization.get_user_companies", raw=True, version="2.12"),
        call("organization.get_entities_count", raw=True, version="2.23", tasks={"project": [world["project"]]}),
        call("organization.get_entities_count", raw=True, version="2.20", tasks={"project": [world["project"]]}),
    ], tmp_path / "home")
    assert all(a["ok"] for a in answers), answers
    assert world["mark"] + "-task" in answers[0]["data"]["tags"]
    assert answers[1]["data"]["companies"][0]["allocated"] >= 1
    assert answers[2]["data"]["tasks"] == 3 and answers[3]["data"]["tasks"] == 3
