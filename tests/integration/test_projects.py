"""projects.*: the project tree, its queries, and the family's error codes."""
from __future__ import annotations

import re
import uuid

import pytest

from support.names import unique
from support.objects import create_project


def get(api, project_id: str) -> dict:
    return api.ok("projects.get_by_id", project=project_id)["project"]


def find(api, name: str, **params) -> list[dict]:
    return api.ok("projects.get_all", name=f"^{re.escape(name)}$", **params)["projects"]


def names_under(api, root: str, **params) -> list[str]:
    """Names of the projects below ``root`` matching ``params``, without the ``root/`` prefix."""
    found = api.ok("projects.get_all", name=f"^{re.escape(root)}/", **params)["projects"]
    return [p["name"][len(root) + 1:] for p in found]


def create_task(api, project: str) -> str:
    return api.ok("tasks.create", name=unique("task"), type="training", project=project)["id"]


# -- create ------------------------------------------------------------------------------------------------
def test_create_nested_path_creates_the_parents(api):
    root = unique("proj")
    leaf = create_project(api, f"{root}/a/b/c", description="deep")
    a, b = find(api, f"{root}/a")[0], find(api, f"{root}/a/b")[0]
    top = find(api, root)[0]
    c = get(api, leaf)
    assert (c["name"], c["basename"], c["description"]) == (f"{root}/a/b/c", "c", "deep")
    assert (c["parent"], b["parent"], a["parent"], top["parent"]) == (b["id"], a["id"], top["id"], None)
    assert (top["basename"], a["basename"]) == (root, "a")


def test_create_returns_the_sdk_shape(api):
    project_id = create_project(api, unique("proj"), tags=["t"], system_tags=["s"], default_output_destination="s3://b")
    project = get(api, project_id)
    for key in ("id", "name", "basename", "description", "user", "company", "created", "last_update", "tags",
                "system_tags", "default_output_destination"):
        assert key in project
    assert re.fullmatch(r"[0-9a-f]{32}", project["id"])
    assert (project["tags"], project["system_tags"], project["default_output_destination"]) == (["t"], ["s"], "s3://b")


def test_create_under_an_existing_parent(api):
    root = unique("proj")
    parent = create_project(api, root)
    child = create_project(api, f"{root}/child")
    assert get(api, child)["parent"] == parent


def test_duplicate_name(api):
    name = unique("proj")
    create_project(api, name)
    reply = api.error("projects.create", (400, 801), name=name)
    assert name in reply.meta["result_msg"]


@pytest.mark.parametrize("name", ["", "   ", "a//b", "/a", "a/", "a/ /b"])
def test_empty_name_or_segment(api, name):
    api.error("projects.create", (400, 407), name=name)


# -- get_all -----------------------------------------------------------------------------------------------
def test_get_all_name_is_a_regex(api):
    base = unique("proj")
    create_project(api, f"{base}-x")
    create_project(api, f"{base}-xy")
    found = api.ok("projects.get_all", name=f"^{re.escape(base)}\\-x$")["projects"]
    assert [p["name"] for p in found] == [f"{base}-x"]
    assert len(api.ok("projects.get_all", name=f"^{re.escape(base)}")["projects"]) == 2


def test_get_all_like_the_sdk(api):
    name = unique("probe-proj")
    project = create_project(api, name)
    found = api.ok("projects.get_all", name=f"^{re.escape(name)}$", only_fields=["id"], shallow_search=False,
                   search_hidden=True, method="get")
    assert found["projects"] == [{"id": project}]


def test_get_all_only_fields_order_and_paging(api):
    root = unique("proj")
    for leaf in ("b", "a", "c"):
        create_project(api, f"{root}/{leaf}", description=leaf.upper())
    found = api.ok("projects.get_all", name=f"^{re.escape(root)}/", only_fields=["basename"])["projects"]
    assert all(set(p) == {"id", "basename"} for p in found) and len(found) == 3
    assert names_under(api, root, order_by=["name"]) == ["a", "b", "c"]
    assert names_under(api, root, order_by=["-name"]) == ["c", "b", "a"]
    pages = [names_under(api, root, order_by=["name"], page=page, page_size=2) for page in (0, 1, 2)]
    assert pages == [["a", "b"], ["c"], []]


def test_get_all_tag_operators(api):
    root = unique("proj")
    create_project(api, f"{root}/t1", tags=["a", "b"], system_tags=["sys"])
    create_project(api, f"{root}/t2", tags=["a"])
    create_project(api, f"{root}/t3")

    def tagged(tags, field="tags") -> list[str]:
        return sorted(names_under(api, root, **{field: tags}))

    assert tagged(["a"]) == ["t1", "t2"]
    assert tagged(["b", "a"]) == ["t1", "t2"]
    assert tagged(["__$all", "a", "b"]) == ["t1"]
    assert tagged(["__$not", "b"]) == ["t2", "t3"]
    assert tagged(["__$all", "a", "__$not", "b"]) == ["t2"]
    assert tagged(["__$any", "b", "__$not", "a"]) == ["t1", "t3"]
    assert tagged(["-a"]) == ["t3"]
    assert tagged([None]) == ["t3"]
    assert tagged([None, "b"]) == ["t1", "t3"]
    assert tagged(["sys"], "system_tags") == ["t1"]
    assert tagged(["-sys"], "system_tags") == ["t2", "t3"]


def test_hidden_projects_need_search_hidden(api):
    """The SDK's datasets live in hidden `<project>/.datasets/<name>` projects."""
    root = unique("proj")
    dataset = create_project(api, f"{root}/.datasets/ds", system_tags=["hidden", "dataset"])
    assert find(api, f"{root}/.datasets/ds") == []
    assert [p["id"] for p in find(api, f"{root}/.datasets/ds", search_hidden=True)] == [dataset]
    # The ".datasets" folder created on the way is hidden too; the user's project is not.
    assert find(api, f"{root}/.datasets") == []
    assert find(api, f"{root}/.datasets", search_hidden=True)[0]["system_tags"] == ["hidden"]
    assert len(find(api, root)) == 1


def test_hidden_project_found_by_id(api):
    hidden = create_project(api, unique("proj"), system_tags=["hidden"])
    assert [p["id"] for p in api.ok("projects.get_all", id=[hidden])["projects"]] == [hidden]


def test_shallow_search_lists_top_level_projects(api):
    root = unique("proj")
    top = create_project(api, root)
    child = create_project(api, f"{root}/child")
    found = api.ok("projects.get_all", id=[top, child], shallow_search=True)["projects"]
    assert [p["id"] for p in found] == [top]
    assert len(api.ok("projects.get_all", id=[top, child])["projects"]) == 2
    # With a parent, shallow search lists its direct children.
    assert [p["id"] for p in api.ok("projects.get_all", parent=[top], shallow_search=True)["projects"]] == [child]


def test_shallow_search_with_a_name(api):
    root = unique("proj")
    create_project(api, root)
    create_project(api, f"{root}/{root}")
    found = api.ok("projects.get_all", name=f"{re.escape(root)}$", shallow_search=True)["projects"]
    assert [p["name"] for p in found] == [root]


def test_parent_without_shallow_search_finds_all_descendants(api):
    root = unique("proj")
    top = create_project(api, root)
    create_project(api, f"{root}/a/b")
    found = api.ok("projects.get_all", parent=[top])["projects"]
    assert sorted(p["name"] for p in found) == [f"{root}/a", f"{root}/a/b"]


def test_get_all_ex_sub_projects_stats_and_own_contents(api):
    root = unique("proj")
    top = create_project(api, root)
    child = create_project(api, f"{root}/child")
    api.ok("models.create", name="m", uri="file:///m.pt", project=top)
    project = api.ok("projects.get_all_ex", id=[top], include_stats=True, check_own_contents=True)["projects"][0]
    assert project["sub_projects"] == [{"id": child, "name": f"{root}/child"}]
    active = project["stats"]["active"]
    assert active["total_tasks"] == 0 and set(active["status_count"]) >= {"created", "in_progress", "completed"}
    assert (project["own_tasks"], project["own_models"]) == (0, 1)


# -- update / move / merge ---------------------------------------------------------------------------------
def test_update_description_and_tags(api):
    project = create_project(api, unique("proj"))
    result = api.ok("projects.update", project=project, description="new", tags=["x"])
    assert result["updated"] == 1 and result["fields"]["description"] == "new"
    assert (get(api, project)["description"], get(api, project)["tags"]) == ("new", ["x"])


def test_rename_renames_the_children_paths(api):
    root = unique("proj")
    a = create_project(api, f"{root}/a")
    c = create_project(api, f"{root}/a/b/c")
    api.ok("projects.update", project=a, name=f"{root}/a2")
    assert (get(api, a)["name"], get(api, a)["basename"]) == (f"{root}/a2", "a2")
    assert get(api, c)["name"] == f"{root}/a2/b/c"
    assert find(api, f"{root}/a2/b")[0]["id"] == get(api, c)["parent"]
    assert find(api, f"{root}/a") == []


def test_rename_to_an_existing_name(api):
    root = unique("proj")
    a = create_project(api, f"{root}/a")
    create_project(api, f"{root}/b")
    api.error("projects.update", (400, 801), project=a, name=f"{root}/b")


def test_update_cannot_move_via_name(api):
    root = unique("proj")
    a = create_project(api, f"{root}/a")
    api.error("projects.update", (400, 408), project=a, name=f"{unique('proj')}/a")


def test_update_with_a_bare_name_of_a_nested_project(api):
    root = unique("proj")
    a = create_project(api, f"{root}/a")
    api.error("projects.update", (400, 408), project=a, name="a2")


def test_move(api):
    root, destination = unique("proj"), unique("proj")
    b = create_project(api, f"{root}/a/b")
    c = create_project(api, f"{root}/a/b/c")
    assert api.ok("projects.move", project=b, new_location=destination)["moved"] == 2
    assert get(api, b)["name"] == f"{destination}/b"
    assert get(api, b)["parent"] == find(api, destination)[0]["id"]
    assert (get(api, c)["name"], get(api, c)["parent"]) == (f"{destination}/b/c", b)
    # The moved sub-tree's paths follow: a child of the moved project is found under its new ancestor.
    assert [p["id"] for p in api.ok("projects.get_all", parent=[b])["projects"]] == [c]


def test_move_errors(api):
    root = unique("proj")
    b = create_project(api, f"{root}/b")
    create_project(api, f"{root}/b/c")
    api.error("projects.move", (400, 411), project=b, new_location=f"{root}/b/c")
    api.error("projects.move", (400, 410), project=b, new_location=root)
    api.error("projects.move", (400, 401), project=uuid.uuid4().hex, new_location=root)


def test_merge(api):
    source, destination = create_project(api, unique("proj")), create_project(api, unique("proj"))
    source_name, destination_name = get(api, source)["name"], get(api, destination)["name"]
    child = create_project(api, f"{source_name}/kid")
    model = api.ok("models.create", name="m", uri="file:///m.pt", project=source)["id"]
    result = api.ok("projects.merge", project=source, destination_project=destination)
    assert result == {"moved_entities": 1, "moved_projects": 1}
    assert api.ok("models.get_by_id", model=model)["model"]["project"] == destination
    assert (get(api, child)["name"], get(api, child)["parent"]) == (f"{destination_name}/kid", destination)
    api.error("projects.get_by_id", (400, 401), project=source)


def test_merge_errors(api):
    root = unique("proj")
    top = create_project(api, root)
    child = create_project(api, f"{root}/child")
    api.error("projects.merge", (400, 412), project=top, destination_project=child)
    api.error("projects.merge", (400, 410), project=top, destination_project=top)
    api.error("projects.merge", (400, 401), project=top, destination_project=uuid.uuid4().hex)
    api.error("projects.merge", (400, 11), project=top)


# -- delete ------------------------------------------------------------------------------------------------
def test_delete_subtree(api):
    root = unique("proj")
    top = create_project(api, root)
    child = create_project(api, f"{root}/child")
    assert api.ok("projects.validate_delete", project=top) == {
        "tasks": 0, "non_archived_tasks": 0, "models": 0, "non_archived_models": 0,
    }
    assert api.ok("projects.delete", project=top)["deleted"] == 2
    api.error("projects.get_by_id", (400, 401), project=child)
    api.error("projects.delete", (400, 401), project=top)


def test_delete_refuses_a_project_with_models_unless_forced(api):
    root = unique("proj")
    top = create_project(api, root)
    child = create_project(api, f"{root}/child")
    model = api.ok("models.create", name="m", uri="file:///m.pt", project=child)["id"]
    assert api.ok("projects.validate_delete", project=top)["non_archived_models"] == 1
    api.error("projects.delete", (400, 405), project=top)
    assert api.ok("projects.delete", project=top, force=True)["deleted"] == 2
    assert api.ok("models.get_by_id", model=model)["model"]["project"] is None


def test_delete_archived_models_need_no_force(api):
    project = create_project(api, unique("proj"))
    model = api.ok("models.create", name="m", uri="file:///m.pt", project=project)["id"]
    api.ok("models.archive_many", ids=[model])
    assert api.ok("projects.delete", project=project)["deleted"] == 1


def test_delete_with_contents(api):
    project = create_project(api, unique("proj"))
    model = api.ok("models.create", name="m", uri="s3://b/m.pt", project=project)["id"]
    result = api.ok("projects.delete", project=project, force=True, delete_contents=True)
    assert result["deleted_models"] == 1 and result["urls"]["model_urls"] == ["s3://b/m.pt"]
    api.error("models.get_by_id", (400, 201), model=model)


def test_delete_refuses_a_project_with_tasks_unless_forced(api):
    project = create_project(api, unique("proj"))
    task = create_task(api, project)
    assert api.ok("projects.validate_delete", project=project)["non_archived_tasks"] == 1
    api.error("projects.delete", (400, 402), project=project)
    result = api.ok("projects.delete", project=project, force=True)
    assert result["deleted"] == 1 and result["disassociated_tasks"] == 1
    assert api.ok("tasks.get_by_id", task=task)["task"]["project"] is None


# -- tags and users ----------------------------------------------------------------------------------------
def test_get_model_tags(api):
    root = unique("proj")
    top = create_project(api, root)
    child = create_project(api, f"{root}/child")
    api.ok("models.create", name="m1", uri="file:///1", project=top, tags=["b", "a"])
    api.ok("models.create", name="m2", uri="file:///2", project=child, tags=["c"], system_tags=["s"])
    # System tags only on request (include_system), as in the reference.
    assert api.ok("projects.get_model_tags", projects=[top]) == {"tags": ["a", "b", "c"]}
    assert api.ok("projects.get_model_tags", projects=[child], include_system=True) == {"tags": ["c"],
                                                                                        "system_tags": ["s"]}
    filtered = api.ok("projects.get_model_tags", projects=[top], filter={"system_tags": ["s"]})
    assert filtered["tags"] == ["c"]


def test_get_task_tags(api):
    project = create_project(api, unique("proj"))
    assert api.ok("projects.get_task_tags", projects=[project], include_system=True) == {"tags": [], "system_tags": []}
    task = create_task(api, project)
    api.ok("tasks.edit", task=task, tags=["x"])
    assert api.ok("projects.get_task_tags", projects=[project])["tags"] == ["x"]


def test_get_user_names(api):
    project = create_project(api, unique("proj"))
    assert api.ok("projects.get_user_names", projects=[project]) == {"users": []}
    create_task(api, project)
    user = api.ok("users.get_current_user")["user"]
    assert api.ok("projects.get_user_names", projects=[project])["users"] == [{"id": user["id"], "name": user["name"]}]


# -- bad input ---------------------------------------------------------------------------------------------
def test_missing_required_field_names_it(api):
    reply = api.error("projects.create", (400, 11), description="no name")
    assert "name" in reply.meta["result_msg"]
    assert "project" in api.error("projects.get_by_id", (400, 11)).meta["result_msg"]


@pytest.mark.parametrize("endpoint,data,field", [
    ("projects.create", {"name": 5}, "name"),
    ("projects.create", {"name": "x", "tags": "not-a-list"}, "tags"),
    ("projects.create", {"name": "x", "description": {"a": 1}}, "description"),
    ("projects.get_all", {"page_size": "one"}, "page_size"),
    ("projects.get_all", {"search_hidden": "maybe"}, "search_hidden"),
    ("projects.delete", {"project": "x", "force": "sometimes"}, "force"),
])
def test_wrong_type_names_the_field(api, endpoint, data, field):
    reply = api.error(endpoint, (400, 12), **data)
    assert field in reply.meta["result_msg"]


def test_bad_query_values(api):
    api.error("projects.get_all", (400, 21), name="(unclosed")
    api.error("projects.get_all", (400, 12), page_size=0)  # the reference's validation error for paging
    api.error("projects.get_all", (400, 16), tags=["__$not"])


@pytest.mark.parametrize("endpoint,extra", [
    ("projects.get_by_id", {}), ("projects.update", {"description": "x"}), ("projects.delete", {}),
    ("projects.validate_delete", {}), ("projects.move", {"new_location": "x"}),
])
def test_unknown_id(api, endpoint, extra):
    missing = uuid.uuid4().hex
    reply = api.error(endpoint, (400, 401), project=missing, **extra)
    assert missing in reply.meta["result_msg"]


@pytest.mark.parametrize("endpoint", ["projects.get_all", "projects.create", "projects.get_all_ex"])
def test_requires_a_token(anon, endpoint):
    reply = anon.send(endpoint, {"name": "x"})
    assert reply.code == (401, 20) and reply.data == {}


@pytest.mark.parametrize("key", ["_any_", "_or_"])
def test_multi_field_search_is_case_insensitive(api, key):
    root = unique("Search")
    create_project(api, root, description="Needle in the HAYSTACK")
    found = api.ok("projects.get_all", **{key: {"pattern": "haystack", "fields": ["name", "description"]}},
                   name=f"^{root}$")["projects"]
    assert [p["name"] for p in found] == [root]
