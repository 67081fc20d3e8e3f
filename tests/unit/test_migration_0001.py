"""Migration 0001 on single task documents: the previous layout's keys become escaped, legacy execution
fields become typed items, and a task already in today's layout is left alone."""
from __future__ import annotations

from trackside.api.migrations.m0001_escape_param_keys import migrated


def item(section, name, value="v"):
    return {"section": section, "name": name, "value": value}


def test_dotted_nested_percent_and_dollar_names_are_escaped():
    task = {"_id": "t", "hyperparams": {
        "Args": {"a.b": item("Args", "a.b"), "c": {"d": item("Args", "c.d")}, "50%": item("Args", "50%")},
        "sec.x": {"$y": item("sec.x", "$y")}},
        "configuration": {"cfg.v1": {"name": "cfg.v1", "value": "x"}}}
    changes = migrated(task)
    assert set(changes["hyperparams"]) == {"Args", "sec%2Ex"}
    assert set(changes["hyperparams"]["Args"]) == {"a%2Eb", "c%2Ed", "50%25"}
    assert changes["hyperparams"]["sec%2Ex"] == {"%24y": item("sec.x", "$y")}
    assert changes["configuration"] == {"cfg%2Ev1": {"name": "cfg.v1", "value": "x"}}
    assert migrated({**task, **changes}) == {}  # idempotent: the result maps onto itself


def test_todays_layout_and_plain_names_are_not_rewritten():
    assert migrated({"_id": "t", "hyperparams": {"Args": {"lr": item("Args", "lr")}},
                     "configuration": {"c": {"name": "c"}}, "execution": {"parameters": {}, "model_desc": {}}}) == {}
    assert migrated({"_id": "t"}) == {}


def test_items_without_names_are_named_by_their_keys():
    changes = migrated({"_id": "t", "hyperparams": {"Args": {"a.b": {"value": "1"}, "x%2Ey": {"value": "2"},
                                                             "p": {"q": {"value": "3"}}}}})
    # A raw dotted key is escaped, a key that already reads as escaped stays, a nested path is joined.
    assert set(changes["hyperparams"]["Args"]) == {"a%2Eb", "x%2Ey", "p%2Eq"}


def test_legacy_execution_fields_become_typed_items():
    changes = migrated({"_id": "t", "hyperparams": {"Args": {"kept": item("Args", "kept")}}, "configuration": {},
                        "execution": {"parameters": {"lr": 0.1, "TF_DEFINE/steps": 5, "n": {"m": 1}, "": 2},
                                      "model_desc": {"layers": "3"}}})
    assert changes["hyperparams"]["Args"] == {
        "kept": item("Args", "kept"),
        "lr": {"section": "Args", "name": "lr", "type": "legacy", "value": "0.1"},
        "n%2Em": {"section": "Args", "name": "n.m", "type": "legacy", "value": "1"},
    }
    assert changes["hyperparams"]["TF_DEFINE"] == {
        "steps": {"section": "TF_DEFINE", "name": "steps", "type": "legacy", "value": "5"}}
    assert changes["configuration"] == {"layers": {"name": "layers", "type": "legacy", "value": "3"}}
    assert changes["execution.parameters"] == {} and changes["execution.model_desc"] == {}
