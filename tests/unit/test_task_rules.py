"""Task status rules, document shaping and parameter maps: pure functions, no server."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from trackside.api import errors
from trackside.api.bll import task_documents as documents, task_params as params
from trackside.api.bll.task_status import (
    ALLOWED_TRANSITIONS, TASK_STATUSES, check_editable, check_not_published, check_transition,
)
from trackside.api.context import Identity

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ME = Identity(user="u1", company="c1", role="user", user_name="Me")


# -- statuses ---------------------------------------------------------------------------------------------
def test_every_known_status_has_rules_except_unknown():
    assert set(ALLOWED_TRANSITIONS) == set(TASK_STATUSES) - {"unknown"}


@pytest.mark.parametrize("current, new", [("created", "in_progress"), ("in_progress", "completed"),
                                          ("completed", "published"), ("failed", "queued")])
def test_allowed_transitions_pass(current, new):
    check_transition("t", current, new, force=False)


def test_same_status_and_forced_transitions_always_pass():
    for status in TASK_STATUSES:
        check_transition("t", status, status, force=False)
        check_transition("t", status, "created", force=True)


def test_refused_transitions_name_both_statuses():
    with pytest.raises(errors.InvalidTaskStatus) as refused:
        check_transition("t1", "created", "completed", force=False)
    assert "created" in refused.value.message and "completed" in refused.value.message
    with pytest.raises(errors.TaskPublished):
        check_transition("t1", "published", "created", force=False)


def test_editable_statuses():
    check_editable("t", "created", force=False)
    check_editable("t", "in_progress", force=True)
    with pytest.raises(errors.InvalidTaskStatus):
        check_editable("t", "queued", force=False)
    # As the reference: force opens a running task, not a queued one (the agent is about to start it).
    for status in ("queued", "completed"):
        with pytest.raises(errors.InvalidTaskStatus):
            check_editable("t", status, force=True)
    with pytest.raises(errors.TaskPublished):
        check_not_published("t", "published", force=False)
    check_not_published("t", "published", force=True)


# -- documents --------------------------------------------------------------------------------------------
def test_prepare_fields_normalizes_what_clients_send():
    fields = documents.prepare_fields({
        "name": "n", "comment": None, "output_dest": "s3://b", "script": {"binary": " python ", "diff": " x "},
        "models": {"input": [{"name": "i", "model": "m"}]}, "execution": {"artifacts": [{"key": "k", "type": "t"}]},
        "task": "ignored",
    }, NOW)
    assert fields["output"] == {"destination": "s3://b"} and "comment" not in fields and "task" not in fields
    assert fields["script"] == {"binary": "python", "diff": " x "}
    assert fields["models"] == {"input": [{"name": "i", "model": "m", "updated": NOW}]}
    assert fields["execution"]["artifacts"][0]["mode"] == "output"


def test_edit_writes_merge_known_subdocuments():
    task = {"script": {"repository": "r"}, "execution": None}
    writes = documents.edit_writes(task, {"script": {"entry_point": "e"}, "execution": {"parameters": {}},
                                          "runtime": {"a": 1}})
    # A missing sub-document is written whole: a dotted $set into null would fail.
    assert writes == {"script.entry_point": "e", "execution": {"parameters": {}}, "runtime": {"a": 1}}


def test_new_task_defaults():
    doc = documents.new_task(ME, {"name": "n", "type": "training", "execution": {"parameters": {"p": 1}}}, NOW)
    assert doc["execution"] == {**documents.default_execution(), "parameters": {"p": 1}}
    assert doc["status"] == "created" and doc["user"] == "u1" and doc["company"] == "c1"
    assert doc["models"] == {"input": [], "output": []} and doc["runtime"] == {} and len(doc["_id"]) == 32


def test_clone_fields_copy_the_definition():
    source = {
        "id": "src", "name": "n", "type": "testing", "parent": None, "project": "p", "tags": ["t"],
        "system_tags": ["development", "archived", "keep"], "script": {"repository": "r"},
        "execution": {"queue": "q", "parameters": {"a": "1"},
                      "artifacts": [{"key": "i", "mode": "input"}, {"key": "o", "mode": "output"}]},
        "models": {"input": [{"name": "i", "model": "m"}], "output": [{"name": "o", "model": "m2"}]},
        "output": {"destination": "d", "result": "x"}, "hyperparams": {"S": {}}, "configuration": {},
        "container": {"image": "i"}, "comment": "c",
    }
    fields = documents.clone_fields(source, {"name": "copy", "execution": {"parameters": {"a": "2"}}}, NOW)
    assert fields["name"] == "copy" and fields["parent"] == "src" and fields["system_tags"] == ["keep"]
    assert fields["execution"] == {"queue": None, "parameters": {"a": "2"},
                                   "artifacts": [{"key": "i", "mode": "input"}]}
    assert fields["models"]["output"] == [] and fields["output"] == {"destination": "d"}
    assert documents.clone_fields({**source, "parent": "grand"}, {}, NOW)["parent"] == "grand"


# -- hyper-parameters and configuration -------------------------------------------------------------------
def item(section, name, value):
    return {"section": section, "name": name, "value": value}


def test_params_updates_touch_only_what_they_name():
    new = [item("A", "x", "9"), item("a.b", "c$d", "1")]
    assert params.params_update(new, params.REPLACE_NONE) == {"$set": {
        "hyperparams.A.x": item("A", "x", "9"), "hyperparams.a%2Eb.c%24d": item("a.b", "c$d", "1")}}
    assert params.params_update(new[:1], params.REPLACE_SECTION) == {"$set": {"hyperparams.A": {"x": new[0]}}}
    assert params.params_update(new[:1], params.REPLACE_ALL) == {"$set": {"hyperparams": {"A": {"x": new[0]}}}}


def test_params_delete_update_drops_names_inside_a_deleted_section():
    keys = [{"section": "A", "name": "x"}, {"section": "B"}, {"section": "B", "name": "y"}]
    assert params.params_delete_update(keys) == {"$unset": {"hyperparams.A.x": "", "hyperparams.B": ""}}


def test_configuration_updates():
    assert params.configuration_update([{"name": "c.1", "value": "v"}], replace=False) == {
        "$set": {"configuration.c%2E1": {"name": "c.1", "value": "v"}}}
    assert params.configuration_update([], replace=True) == {"$set": {"configuration": {}}}
    assert params.configuration_delete_update(["c.1"]) == {"$unset": {"configuration.c%2E1": ""}}


@pytest.mark.parametrize("name", ["plain", "a.b", "$x", "100%", "%2E", "a.%24.$"])
def test_escaped_keys_round_trip(name):
    escaped = params.escape_key(name)
    assert "." not in escaped and not escaped.startswith("$")
    assert params.unescape_key(escaped) == name


def test_empty_names_are_refused():
    with pytest.raises(errors.ValidationError):
        params.escape_key(" ")


def test_storage_paths_escape_only_names():
    assert params.storage_path("hyperparams.Args.lr.value") == "hyperparams.Args.lr.value"
    assert params.storage_path("-hyperparams.my$sec.x") == "-hyperparams.my%24sec.x"
    assert params.storage_path("configuration.a$b.value") == "configuration.a%24b.value"
    assert params.storage_path("last_metrics.x$y") == "last_metrics.x$y"


def test_properties_section():
    normalized = params.normalize_sections([item("Properties", "n", "v")])
    assert normalized[0]["section"] == "properties" and params.only_properties(normalized)
    assert not params.only_properties([])


def test_params_list_is_sorted():
    current = {"B": {"b": item("B", "b", "1")}, "A": {"z": item("A", "z", "2"), "a": item("A", "a", "3")}}
    assert [(p["section"], p["name"]) for p in params.params_list(current)] == [("A", "a"), ("A", "z"), ("B", "b")]


def test_configuration_helpers():
    current = {"b": {"name": "b", "value": "1"}, "a": {"name": "a", "value": ""}}
    assert params.configuration_names(current, skip_empty=True) == ["b"]
    assert params.configuration_names(current, skip_empty=False) == ["a", "b"]
    assert [c["name"] for c in params.configuration_list(current)] == ["a", "b"]

