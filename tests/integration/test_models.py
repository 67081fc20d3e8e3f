"""models.*: the model registry, against the real API process and Mongo-wire server."""
from __future__ import annotations

import copy
import re
import time
import uuid

import pytest

from support.names import unique
from support.objects import create_project

WEIGHTS = "file:///tmp/weights.pt"
ISO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
MODEL_FIELDS = {
    "id", "name", "user", "company", "created", "last_update", "task", "parent", "project", "comment", "tags",
    "system_tags", "framework", "design", "labels", "uri", "ready", "ui_cache", "metadata",
}


def new_model(api, **fields) -> str:
    return api.ok("models.create", **{"uri": WEIGHTS, "name": unique("model"), **fields})["id"]


def v2_13(api):
    """The client at 2.13: the last version serving models.update_for_task (later ones answer 301/1)."""
    client = copy.copy(api)
    client.version = "2.13"
    return client


def get_model(api, model_id: str) -> dict:
    return api.ok("models.get_by_id", model=model_id)["model"]


@pytest.fixture
def project(api) -> str:
    return create_project(api, unique("models"))


@pytest.fixture
def make_task(api, backend, project):
    """Create a task through tasks.create; extra fields (a status, models...) are then set in the database."""

    def make(**fields) -> str:
        task_id = api.ok("tasks.create", name=unique("task"), type="training", project=project)["id"]
        if fields:
            backend["tasks"].update_one({"_id": task_id}, {"$set": fields})
        return task_id

    return make


def task_doc(backend, task_id: str) -> dict:
    return backend["tasks"].find_one({"_id": task_id})


# -- create / get ------------------------------------------------------------------------------------------
def test_create_minimal_then_get_returns_the_full_shape(api):
    model_id = new_model(api, name="minimal-model")
    assert re.fullmatch(r"[0-9a-f]{32}", model_id)
    model = get_model(api, model_id)
    assert MODEL_FIELDS <= set(model)
    assert model["name"] == "minimal-model" and model["uri"] == WEIGHTS
    assert model["ready"] is False
    assert model["labels"] == {} and model["design"] == {} and model["metadata"] == {}
    assert model["tags"] == [] and model["system_tags"] == []
    assert ISO_DATETIME.match(model["created"]) and ISO_DATETIME.match(model["last_update"])
    assert model["user"] and model["company"]


def test_sdk_create_then_edit_flow(api, project, make_task):
    """The OutputModel.update_weights sequence: create a placeholder, read it, then edit it twice."""
    task = make_task()
    created = api.ok("models.create", uri="file:///uploading_file", name="Anonymous model", labels={}, ready=False,
                     public=False, project=project, method="get")
    assert created["created"] is True
    model_id = created["id"]
    assert get_model(api, model_id)["project"] == project
    edited = api.ok(
        "models.edit", model=model_id, uri="file:///tmp/final.pt", name="model.pt", comment="c", tags=["t1"],
        system_tags=[], framework="PyTorch", design={"design": ""}, labels={"cat": 1, "dog": 2},
        project=project, task=task, iteration=7,
    )
    assert edited["updated"] == 1 and edited["fields"]["uri"] == "file:///tmp/final.pt"
    model = get_model(api, model_id)
    assert model["uri"] == "file:///tmp/final.pt" and model["name"] == "model.pt"
    assert model["framework"] == "PyTorch" and model["design"] == {"design": ""}
    assert model["labels"] == {"cat": 1, "dog": 2} and model["task"] == task and model["tags"] == ["t1"]


def test_create_with_every_field(api, project):
    parent = new_model(api)
    model_id = new_model(
        api, comment="hello", tags=["a"], system_tags=["s"], framework="Keras", design={"layers": 3},
        labels={"x": 0}, ready=True, project=project, parent=parent,
        metadata=[{"key": "acc", "type": "float", "value": "0.9"}],
    )
    model = get_model(api, model_id)
    assert (model["comment"], model["tags"], model["system_tags"]) == ("hello", ["a"], ["s"])
    assert model["ready"] is True and model["parent"] == parent and model["project"] == project
    assert model["metadata"] == {"acc": {"key": "acc", "type": "float", "value": "0.9"}}


def test_create_accepts_metadata_keyed_by_key(api):
    model_id = new_model(api, metadata={"lr": {"type": "float", "value": "0.1"}})
    assert get_model(api, model_id)["metadata"] == {"lr": {"key": "lr", "type": "float", "value": "0.1"}}


@pytest.mark.parametrize("missing", ["name", "uri"])
def test_create_missing_required_field(api, missing):
    data = {"name": "x", "uri": WEIGHTS}
    del data[missing]
    reply = api.error("models.create", (400, 11), **data)
    assert missing in reply.meta["result_msg"]


@pytest.mark.parametrize("field,value", [
    ("labels", {"cat": "one"}), ("design", "not-an-object"), ("ready", "maybe"), ("tags", "t"),
    ("name", 5),
])
def test_create_wrong_type_names_the_field(api, field, value):
    data = {"name": "x", "uri": WEIGHTS, field: value}
    reply = api.error("models.create", (400, 12), **data)
    assert field in reply.meta["result_msg"]


def test_create_unknown_project_or_task(api):
    api.error("models.create", (400, 401), name="x", uri=WEIGHTS, project=uuid.uuid4().hex)
    api.error("models.create", (400, 101), name="x", uri=WEIGHTS, task=uuid.uuid4().hex)


def test_get_by_id_unknown_names_the_id(api):
    missing = uuid.uuid4().hex
    reply = api.error("models.get_by_id", (400, 201), model=missing)
    assert missing in reply.meta["result_msg"]
    api.error("models.get_by_id", (400, 11))


def test_requires_a_token(anon):
    reply = anon.send("models.get_all", {})
    assert reply.code == (401, 20) and reply.data == {}


# -- get_all -----------------------------------------------------------------------------------------------
@pytest.fixture
def three_models(api, project):
    prefix = unique("ga")
    ids = [
        new_model(api, name=f"{prefix}-a", project=project, framework="PyTorch", tags=["red", "big"], ready=True,
                  uri="s3://bucket/a.pt"),
        new_model(api, name=f"{prefix}-b", project=project, framework="Keras", tags=["red"]),
        new_model(api, name=f"{prefix}-c", project=project, framework="PyTorch", tags=["blue"]),
    ]
    return prefix, ids


def names(models: list[dict]) -> list[str]:
    return [m["name"].rsplit("-", 1)[-1] for m in models]


def test_get_all_filters(api, project, three_models):
    prefix, (a, b, c) = three_models

    def query(**params) -> list[str]:
        return sorted(names(api.ok("models.get_all", project=[project], **params)["models"]))

    assert query() == ["a", "b", "c"]
    assert query(name=f"^{re.escape(prefix)}-[ab]$") == ["a", "b"]
    assert query(framework=["Keras"]) == ["b"]
    assert query(ready=True) == ["a"]
    assert query(ready=False) == ["b", "c"]
    assert query(uri=["s3://bucket/a.pt"]) == ["a"]
    assert query(id=[b, c]) == ["b", "c"]
    assert query(tags=["red"]) == ["a", "b"]
    assert query(tags=["__$all", "red", "big"]) == ["a"]
    assert query(tags=["__$all", "red", "__$not", "big"]) == ["b"]
    assert query(tags=["-red"]) == ["c"]
    user = api.ok("users.get_current_user")["user"]["id"]
    assert query(user=[user]) == ["a", "b", "c"]
    assert query(user=[uuid.uuid4().hex]) == []
    assert api.ok("models.get_all", project=[uuid.uuid4().hex])["models"] == []


def test_get_all_only_fields_order_and_paging(api, project, three_models):
    models = api.ok("models.get_all", project=[project], only_fields=["name"], order_by=["-name"])["models"]
    assert names(models) == ["c", "b", "a"]
    assert all(set(m) == {"id", "name"} for m in models)
    pages = [
        names(api.ok("models.get_all", project=[project], order_by=["name"], page=page, page_size=2)["models"])
        for page in (0, 1, 2)
    ]
    assert pages == [["a", "b"], ["c"], []]


def test_get_all_archived_and_hidden(api, project, three_models):
    _, (a, b, c) = three_models
    api.ok("models.archive_many", ids=[a])
    new_model(api, project=project, system_tags=["hidden"])
    visible = api.ok("models.get_all", project=[project], system_tags=["-archived", "-hidden"])["models"]
    assert sorted(names(visible)) == ["b", "c"]
    # The reference lists hidden models too (it has no search_hidden rule for models).
    assert len(api.ok("models.get_all", project=[project])["models"]) == 4


def test_get_all_by_task_like_the_sdk(api, make_task):
    task = make_task()
    first = new_model(api, task=task)
    time.sleep(0.01)  # "created" has millisecond resolution: keep the two apart so the order is certain
    second = new_model(api, task=task)
    models = api.ok("models.get_all", task=[task], only_fields=["id"], order_by=["created"])["models"]
    assert [m["id"] for m in models] == [first, second]


def test_get_all_include_subprojects(api, project):
    name = api.ok("projects.get_by_id", project=project)["project"]["name"]
    child = create_project(api, f"{name}/child")
    in_child = new_model(api, project=child)
    assert api.ok("models.get_all", project=[project])["models"] == []
    found = api.ok("models.get_all", project=[project], include_subprojects=True)["models"]
    assert [m["id"] for m in found] == [in_child]


def test_get_all_bad_query_values(api):
    api.error("models.get_all", (400, 21), name="(")
    # A single string is a one-item list and "5" an integer, as the reference reads them; other types are not.
    assert api.ok("models.get_all", project="not-an-id", page_size="5")["models"] == []
    api.error("models.get_all", (400, 12), project={"not": "a list"})
    api.error("models.get_all", (400, 12), page_size="five")


def test_get_all_ex_joins_stats_and_by_id_ex(api, project, make_task):
    task = make_task()
    model_id = new_model(api, project=project, task=task, labels={"a": 1, "b": 2})
    models = api.ok("models.get_all_ex", id=[model_id], only_fields=["name", "project.name", "task.name"],
                    include_stats=True)["models"]
    assert len(models) == 1
    model = models[0]
    project_name = api.ok("projects.get_by_id", project=project)["project"]["name"]
    assert model["project"] == {"id": project, "name": project_name}
    assert model["task"]["id"] == task and model["task"]["name"].startswith("task-")
    assert model["stats"] == {"labels_count": 2}
    by_id = api.ok("models.get_by_id_ex", id=[model_id])["models"]
    assert [m["id"] for m in by_id] == [model_id]
    api.error("models.get_by_id_ex", (400, 11))


def test_get_frameworks(api, project, three_models):
    assert api.ok("models.get_frameworks", projects=[project])["frameworks"] == ["Keras", "PyTorch"]
    assert {"Keras", "PyTorch"} <= set(api.ok("models.get_frameworks")["frameworks"])


# -- edit / update -----------------------------------------------------------------------------------------
def test_edit_unknown_model_and_bad_values(api):
    api.error("models.edit", (400, 201), model=uuid.uuid4().hex, name="x")
    model_id = new_model(api)
    api.error("models.edit", (400, 401), model=model_id, project=uuid.uuid4().hex)
    api.error("models.edit", (400, 101), model=model_id, task=uuid.uuid4().hex)
    api.error("models.edit", (400, 12), model=model_id, iteration="seven")


def test_edit_without_changes_updates_nothing(api):
    assert api.ok("models.edit", model=new_model(api)) == {"updated": 0, "fields": {}}


def test_edit_new_uri_clears_ui_cache(api):
    model_id = new_model(api, ui_cache={"view": 1})
    assert get_model(api, model_id)["ui_cache"] == {"view": 1}
    api.ok("models.edit", model=model_id, uri="file:///other.pt")
    assert get_model(api, model_id)["ui_cache"] == {}


def test_edit_iteration_raises_the_task_iteration(api, backend, make_task):
    task = make_task(last_iteration=5)
    model_id = new_model(api, task=task)
    api.ok("models.edit", model=model_id, iteration=9)
    assert task_doc(backend, task)["last_iteration"] == 9
    api.ok("models.edit", model=model_id, iteration=3)  # a max: never lowers it
    assert task_doc(backend, task)["last_iteration"] == 9


def test_update(api, project):
    model_id = new_model(api)
    result = api.ok("models.update", model=model_id, name="renamed", comment="note", project=project,
                    created="2024-01-02T03:04:05.000+00:00")
    assert result["updated"] == 1
    model = get_model(api, model_id)
    assert (model["name"], model["comment"], model["project"]) == ("renamed", "note", project)
    assert model["created"] == "2024-01-02T03:04:05.000+00:00"
    api.error("models.update", (400, 201), model=uuid.uuid4().hex, name="x")


# -- publishing and archiving ------------------------------------------------------------------------------
def test_set_ready(api):
    model_id = new_model(api)
    assert api.ok("models.set_ready", model=model_id)["updated"] == 1
    assert get_model(api, model_id)["ready"] is True
    api.error("models.set_ready", (400, 203), model=model_id)
    api.error("models.set_ready", (400, 201), model=uuid.uuid4().hex)


def test_publish_many_reports_each_id(api):
    first, second, missing = new_model(api), new_model(api), uuid.uuid4().hex
    result = api.ok("models.publish_many", ids=[first, second, missing])
    assert result["succeeded"] == [{"id": first, "updated": True, "published_task": None},
                                   {"id": second, "updated": True, "published_task": None}]
    assert [f["id"] for f in result["failed"]] == [missing]
    assert result["failed"][0]["error"]["codes"] == [400, 201]
    assert get_model(api, second)["ready"] is True


def test_archive_and_unarchive_many(api):
    model_id, missing = new_model(api, system_tags=["keep"]), uuid.uuid4().hex
    result = api.ok("models.archive_many", ids=[model_id, missing])
    assert result["succeeded"] == [{"id": model_id, "archived": True}]
    assert result["failed"][0]["id"] == missing and result["failed"][0]["error"]["codes"] == [400, 201]
    assert sorted(get_model(api, model_id)["system_tags"]) == ["archived", "keep"]
    result = api.ok("models.unarchive_many", ids=[model_id])
    assert result == {"succeeded": [{"id": model_id, "unarchived": True}], "failed": []}
    assert get_model(api, model_id)["system_tags"] == ["keep"]


# -- delete ------------------------------------------------------------------------------------------------
def test_delete(api):
    model_id = new_model(api, uri="s3://bucket/gone.pt")
    assert api.ok("models.delete", model=model_id) == {"deleted": True, "url": "s3://bucket/gone.pt"}
    api.error("models.get_by_id", (400, 201), model=model_id)
    api.error("models.delete", (400, 201), model=model_id)


def test_delete_many(api):
    model_id, missing = new_model(api), uuid.uuid4().hex
    result = api.ok("models.delete_many", ids=[model_id, missing])
    assert result["succeeded"] == [{"id": model_id, "deleted": True, "url": WEIGHTS}]
    assert result["failed"][0]["error"]["codes"] == [400, 201]


def test_delete_refuses_a_model_used_as_input_unless_forced(api, backend, make_task):
    model_id = new_model(api)
    consumer = make_task(models={"input": [{"name": "in", "model": model_id}], "output": []})
    api.error("models.delete", (400, 205), model=model_id)
    assert api.ok("models.delete", model=model_id, force=True)["deleted"] is True
    assert task_doc(backend, consumer)["models"]["input"][0]["model"] == f"__DELETED__{model_id}"


def test_delete_refuses_the_output_of_a_published_task_unless_forced(api, backend, make_task):
    task = make_task(status="published")
    model_id = new_model(api, task=task)
    backend["tasks"].update_one({"_id": task}, {"$set": {"models.output": [{"name": "out", "model": model_id}]}})
    api.error("models.delete", (400, 206), model=model_id)  # model_creating_task_exists
    api.ok("models.delete", model=model_id, force=True)
    assert task_doc(backend, task)["models"]["output"][0]["model"] == f"__DELETED__{model_id}"


def test_delete_drops_the_output_item_of_a_draft_task(api, backend, make_task):
    task = make_task()
    result = v2_13(api).ok("models.update_for_task", task=task, uri=WEIGHTS)
    assert api.ok("models.delete", model=result["id"])["deleted"] is True
    assert task_doc(backend, task)["models"]["output"] == []


# -- update_for_task / get_by_task_id ----------------------------------------------------------------------
def test_update_for_task_creates_then_updates_the_output_model(api, backend, project, make_task):
    task = make_task(execution={"framework": "PyTorch", "model_labels": {"a": 1}, "model_desc": {"d": 1}})
    result = v2_13(api).ok("models.update_for_task", task=task, uri="file:///v1.pt", iteration=3)
    assert result["created"] is True
    model = get_model(api, result["id"])
    doc = task_doc(backend, task)
    assert model["task"] == task and model["project"] == project and model["name"] == doc["name"]
    assert model["comment"] == f"Created by task `{doc['name']}` ({task})"
    assert (model["framework"], model["labels"], model["design"]) == ("PyTorch", {"a": 1}, {"d": 1})
    assert [(o["name"], o["model"]) for o in doc["models"]["output"]] == [("Output Model", result["id"])]
    assert doc["last_iteration"] == 3
    assert api.ok("models.get_by_task_id", task=task)["model"]["id"] == result["id"]

    again = v2_13(api).ok("models.update_for_task", task=task, uri="file:///v2.pt", iteration=8)
    assert again["id"] == result["id"] and again["created"] is False and again["updated"] == 1
    assert get_model(api, result["id"])["uri"] == "file:///v2.pt"
    assert task_doc(backend, task)["last_iteration"] == 8


def test_update_for_task_override_model(api, backend, make_task):
    task = make_task()
    first = v2_13(api).ok("models.update_for_task", task=task, uri=WEIGHTS)["id"]
    other = new_model(api)
    result = v2_13(api).ok("models.update_for_task", task=task, override_model_id=other)
    assert result == {"id": other, "created": False, "updated": 1}
    outputs = task_doc(backend, task)["models"]["output"]
    assert [(o["name"], o["model"]) for o in outputs] == [("Output Model", other)]
    assert first != other


def test_update_for_task_errors(api, make_task):
    task = make_task()
    v2_13(api).error("models.update_for_task", (400, 11), task=task)
    v2_13(api).error("models.update_for_task", (400, 11), task=task, uri=WEIGHTS, override_model_id=uuid.uuid4().hex)
    v2_13(api).error("models.update_for_task", (400, 101), task=uuid.uuid4().hex, uri=WEIGHTS)
    v2_13(api).error("models.update_for_task", (400, 201), task=task, override_model_id=uuid.uuid4().hex)
    v2_13(api).error("models.update_for_task", (400, 110), task=make_task(status="completed"), uri=WEIGHTS)
    v2_13(api).error("models.update_for_task", (400, 11), uri=WEIGHTS)


def test_get_by_task_id_errors(api, make_task):
    api.error("models.get_by_task_id", (400, 101), task=uuid.uuid4().hex)
    api.error("models.get_by_task_id", (400, 122), task=make_task())


# -- metadata ----------------------------------------------------------------------------------------------
def item(key: str, value: str, type_: str = "str") -> dict:
    return {"key": key, "type": type_, "value": value}


def test_add_update_and_delete_metadata(api):
    model_id = new_model(api)
    api.ok("models.add_or_update_metadata", model=model_id, metadata=[item("a", "1"), item("b.c", "2")])
    api.ok("models.add_or_update_metadata", model=model_id, metadata=[item("a", "10", "int")])
    assert get_model(api, model_id)["metadata"] == {"a": item("a", "10", "int"), "b.c": item("b.c", "2")}
    assert api.ok("models.delete_metadata", model=model_id, keys=["b.c"])["updated"] == 1
    assert get_model(api, model_id)["metadata"] == {"a": item("a", "10", "int")}
    api.ok("models.add_or_update_metadata", model=model_id, metadata=[item("z", "0")], replace_metadata=True)
    assert get_model(api, model_id)["metadata"] == {"z": item("z", "0")}


def test_metadata_errors(api):
    model_id = new_model(api)
    api.error("models.add_or_update_metadata", (400, 201), model=uuid.uuid4().hex, metadata=[item("a", "1")])
    api.error("models.add_or_update_metadata", (400, 12), model=model_id, metadata=[])
    api.error("models.add_or_update_metadata", (400, 11), model=model_id)
    api.error("models.add_or_update_metadata", (400, 11), model=model_id, metadata=[{"value": "1"}])
    api.error("models.delete_metadata", (400, 201), model=uuid.uuid4().hex, keys=["a"])


# -- move / tags -------------------------------------------------------------------------------------------
def test_move_to_project_id_name_and_root(api, project):
    first, second = new_model(api), new_model(api)
    assert api.ok("models.move", ids=[first, second], project=project)["project_id"] == project
    assert get_model(api, second)["project"] == project
    target = unique("moved-models")
    moved_to = api.ok("models.move", ids=[first], project_name=target)["project_id"]
    assert api.ok("projects.get_by_id", project=moved_to)["project"]["name"] == target
    assert get_model(api, first)["project"] == moved_to
    assert api.ok("models.move", ids=[first], project=None)["project_id"] is None
    assert get_model(api, first)["project"] is None


def test_move_errors(api):
    model_id = new_model(api)
    api.error("models.move", (400, 11), ids=[model_id])
    api.error("models.move", (400, 401), ids=[model_id], project=uuid.uuid4().hex)
    api.error("models.move", (400, 201), ids=[uuid.uuid4().hex], project_name=unique("nowhere"))


def test_update_tags(api):
    first, second = new_model(api, tags=["old"]), new_model(api, tags=["old", "keep"])
    assert api.ok("models.update_tags", ids=[first, second], add_tags=["new"], remove_tags=["old"])["updated"] == 4
    assert get_model(api, first)["tags"] == ["new"]
    assert sorted(get_model(api, second)["tags"]) == ["keep", "new"]
    api.error("models.update_tags", (400, 12), ids=[first])
    api.error("models.update_tags", (400, 11), add_tags=["x"])
