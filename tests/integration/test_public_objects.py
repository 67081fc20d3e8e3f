"""Public objects: make_public / make_private (2.9) for tasks, models and projects, read by another company
(a second API process on the same database, configured with another company id) and never written by it."""
from __future__ import annotations

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from support.sdk_api import call, run_calls

KINDS = {"tasks": ("task", "tasks.get_by_id", 101), "models": ("model", "models.get_by_id", 201),
         "projects": ("project", "projects.get_by_id", 401)}


@pytest.fixture(scope="module")
def other(other_company_api_server) -> ApiClient:
    """A client of another company."""
    server = other_company_api_server
    return ApiClient(server.url, server.key, server.secret).login()


@pytest.fixture(scope="module")
def owner(api_server) -> ApiClient:
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


@pytest.fixture(scope="module")
def objects(owner):
    project = create_project(owner, unique("public"))
    task = owner.ok("tasks.create", name="shared", type="training", project=project)["id"]
    model = owner.ok("models.create", name="shared", uri="file:///shared", project=project)["id"]
    return {"projects": project, "tasks": task, "models": model}


def listed(client, service, obj_id, name="get_all", **query) -> bool:
    return obj_id in {o["id"] for o in client.ok(f"{service}.{name}", id=[obj_id], **query)[service]}


def test_private_objects_are_invisible_to_other_companies(other, objects):
    for service, (field, by_id, subcode) in KINDS.items():
        assert not listed(other, service, objects[service])
        other.error(by_id, (400, subcode), **{field: objects[service]})


def test_public_objects_are_read_by_every_company_and_written_by_none(owner, other, objects):
    for service, (field, by_id, subcode) in KINDS.items():
        obj_id = objects[service]
        assert owner.ok(f"{service}.make_public", ids=[obj_id]) == {"updated": 1}
        assert listed(other, service, obj_id) and listed(other, service, obj_id, "get_all_ex")
        assert not listed(other, service, obj_id, "get_all_ex", allow_public=False)
        shown = other.ok(by_id, **{field: obj_id})[field]
        assert shown["company"] == "" and "company_origin" not in shown
        assert listed(owner, service, obj_id), "the owner still reads its public object"
        other.error(f"{service}.make_private", (400, subcode), ids=[obj_id])
    # Public objects are read-only for every company, their owner's included, until made private (403/21).
    for client in (other, owner):
        client.error("tasks.update", (403, 21), task=objects["tasks"], comment="not yours")
        client.error("tasks.edit", (403, 21), task=objects["tasks"], comment="not yours")
        client.error("models.update", (403, 21), model=objects["models"], comment="not yours")
        client.error("projects.update", (403, 21), project=objects["projects"], description="not yours")
        failed = client.ok("tasks.archive_many", ids=[objects["tasks"]])["failed"]
        assert [f["error"]["codes"] for f in failed] == [[403, 21]]
    assert owner.ok("tasks.get_by_id", task=objects["tasks"])["task"].get("comment", "") == ""
    for service, (field, by_id, subcode) in KINDS.items():
        assert owner.ok(f"{service}.make_private", ids=[objects[service]]) == {"updated": 1}
        assert not listed(other, service, objects[service])
        assert owner.ok(by_id, **{field: objects[service]})[field]["company"] != ""


def test_one_unknown_id_changes_nothing(owner, other, objects):
    task = objects["tasks"]
    reply = owner.error("tasks.make_public", (400, 101), ids=[task, "f" * 32])
    assert "f" * 32 in reply.meta["result_msg"]
    assert not listed(other, "tasks", task)
    owner.error("tasks.make_private", (400, 101), ids=[task])  # not public: nothing to make private


@pytest.mark.parametrize("data, code", [({}, (400, 11)), ({"ids": []}, (400, 12)), ({"ids": "x"}, (400, 12)),
                                        ({"ids": [5]}, (400, 12))])
def test_bad_requests(owner, data, code):
    owner.error("models.make_public", code, **data)


def test_versions(owner, objects):
    assert owner.send("projects.make_public", {"ids": [objects["projects"]]}, version="2.8").code[0] in (400, 404)
    reply = owner.send("projects.make_private", {"ids": [objects["projects"]]}, version="2.9")
    assert reply.code == (400, 401)


def test_through_the_sdk(api_server, owner, other, objects, tmp_path):
    task = objects["tasks"]
    made_public, made_private = run_calls(api_server, [
        call("tasks.make_public", ids=[task], raw=True),
        call("tasks.make_private", ids=[task], raw=True, version="2.9"),
    ], tmp_path / "home")
    assert made_public["ok"] and made_private["ok"] and made_private["data"] == {"updated": 1}
    assert not listed(other, "tasks", task)
