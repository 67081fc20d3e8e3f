"""get_all_ex joins: ``only_fields`` entries under a reference (``project.name``, ``user.name``,
``execution.queue.name``...) turn the stored id into ``{id, <fields>}``, as the reference's
get_many_with_join; plain get_all leaves ids alone, and a user's credentials can never be joined."""
from __future__ import annotations

from support.names import unique
from support.objects import create_project, create_queue


def test_tasks_get_all_ex_joins_references(api):
    project = create_project(api, unique("joins"))
    queue = create_queue(api, unique("joins-q"))
    parent = api.ok("tasks.create", name="parent", type="training", project=project)["id"]
    task = api.ok("tasks.create", name="child", type="training", project=project, parent=parent)["id"]
    api.ok("tasks.enqueue", task=task, queue=queue)
    me = api.ok("users.get_current_user")["user"]

    fields = ["name", "project.name", "user.name", "parent.name", "execution.queue.name"]
    found = api.ok("tasks.get_all_ex", id=[task], only_fields=fields)["tasks"][0]
    project_name = api.ok("projects.get_by_id", project=project)["project"]["name"]
    assert found["project"] == {"id": project, "name": project_name}
    assert found["user"] == {"id": me["id"], "name": me["name"]}
    assert found["parent"] == {"id": parent, "name": "parent"}
    assert found["execution"]["queue"]["id"] == queue and found["execution"]["queue"]["name"].startswith("joins-q")
    assert api.ok("tasks.get_by_id_ex", id=[task], only_fields=["project.name"])["tasks"][0]["project"]["id"] == project
    plain = api.ok("tasks.get_all", id=[task], only_fields=["project.name"])["tasks"][0]
    assert not isinstance(plain.get("project"), dict)
    # Without a join asked for, ids stay ids.
    assert api.ok("tasks.get_all_ex", id=[task], only_fields=["project"])["tasks"][0]["project"] == project


def test_models_get_all_ex_joins_and_never_user_secrets(api):
    task = api.ok("tasks.create", name="creator", type="training")["id"]
    model = api.ok("models.create", name=unique("m"), uri="file:///m", task=task)["id"]
    found = api.ok("models.get_all_ex", id=[model],
                   only_fields=["task.name", "user.name", "user.credentials", "user.role"])["models"][0]
    assert found["task"] == {"id": task, "name": "creator"}
    assert set(found["user"]) == {"id", "name"}


def test_a_dangling_reference_keeps_its_id(api):
    task = api.ok("tasks.create", name="orphan", type="training", parent="__DELETED__" + "0" * 32)["id"]
    found = api.ok("tasks.get_all_ex", id=[task], only_fields=["parent.name"])["tasks"][0]
    assert found["parent"] == {"id": "__DELETED__" + "0" * 32, "name": None}
