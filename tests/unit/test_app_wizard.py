"""Launch wizard semantics (issue 17 item 3): every field type, conditionals, default_conditional_on,
choices (fixed and from a source, with their query bodies), targets and formats."""
import json

import pytest

from support.app_packages import SIMPLE_APP_CONF, SIMPLE_APP_ASSETS, app_conf
from trackside.shared.apps import LaunchError, apply_targets, choices_query, validate_launch
from trackside.shared.apps.choices import options_from_rows
from trackside.shared.apps.package import load_conf
from trackside.shared.apps.targets import base_task_fields

ENTRIES = """
{name: s, type: string, required: true, placeholder: "a name", target: {field: hyperparams, section: General, name: s}},
{name: n, type: integer, default: 3, target: {field: hyperparams, section: General, name: n}},
{name: f, type: float, target: {field: hyperparams, section: General, name: f}},
{name: mode, type: dropdown, default: fast, choices: [fast, {value: slow, label: Slow}],
 target: {field: hyperparams, section: General, name: mode}},
{name: debug, type: checkbox, default: false, target: {field: hyperparams, section: General, name: debug}},
{name: notes, type: multiline_text, target: {field: configuration, name: notes}},
{name: level, type: integer, required: true, conditional: {entries: [{name: mode, value: slow}]},
 target: {field: hyperparams, section: General, name: level}},
{name: workers, type: integer, default: 2, default_conditional_on: {name: mode, value: {fast: 8, slow: 1}},
 target: {field: hyperparams, section: General, name: workers}},
{name: project, type: dropdown, choices: {source: project}, autocomplete: true,
 target: {field: hyperparams, section: General, name: project}},
{name: opt, type: group, title: Optimizer, collapsible: true, item_template: [
  {name: lr, type: float, default: 0.1, target: {field: hyperparams, section: Opt, name: lr}},
  {name: momentum, type: float, conditional: {entries: [{name: debug, value: true}]},
   target: {field: hyperparams, section: Opt, name: momentum}}
]},
{name: layers, type: list, collapsible: true, collapsibleTitleTemplate: "Layer ${size}",
 target: {field: configuration, name: layers, format: json}, item_template: [
  {name: size, type: integer, required: true},
  {name: act, type: dropdown, choices: [relu, tanh], default: relu}
]},
{name: tags, type: list, item_template: {name: tag, type: string},
 target: {field: hyperparams, section: General, name: tags}},
{name: extra, type: group, target: {field: configuration, name: extra}, item_template: [
  {name: k, type: string, default: v}
]}
"""
APP = load_conf("t.app.conf", app_conf(ENTRIES), {}).app
DEFAULTS = {"n": 3, "mode": "fast", "debug": False, "workers": 8, "opt": {"lr": 0.1}, "extra": {"k": "v"}}

GOOD = [
    ("defaults", {"s": "x"}, None, {"s": "x", **DEFAULTS}),
    ("form-strings", {"s": "x", "n": "5", "f": "2.5", "debug": "true", "notes": "a\nb"}, None,
     {**DEFAULTS, "s": "x", "n": 5, "f": 2.5, "debug": True, "notes": "a\nb"}),
    ("numbers", {"s": "x", "n": 7.0, "f": 1}, None, {**DEFAULTS, "s": "x", "n": 7, "f": 1.0}),
    ("empty-means-default", {"s": "x", "n": "", "f": None}, None, {"s": "x", **DEFAULTS}),
    ("conditional-shown", {"s": "x", "mode": "slow", "level": "2"}, None,
     {**DEFAULTS, "s": "x", "mode": "slow", "level": 2, "workers": 1}),
    ("hidden-field-dropped", {"s": "x", "level": 9}, None, {"s": "x", **DEFAULTS}),
    ("default-conditional-overridden", {"s": "x", "mode": "slow", "level": 1, "workers": 5}, None,
     {**DEFAULTS, "s": "x", "mode": "slow", "level": 1, "workers": 5}),
    ("fixed-choice-dict-option", {"s": "x", "mode": "slow", "level": 1}, None,
     {**DEFAULTS, "s": "x", "mode": "slow", "level": 1, "workers": 1}),
    ("source-choice-allowed", {"s": "x", "project": "p1"}, {"project": ["p1", "p2"]},
     {**DEFAULTS, "s": "x", "project": "p1"}),
    ("source-choice-unchecked", {"s": "x", "project": "anything"}, None,
     {**DEFAULTS, "s": "x", "project": "anything"}),
    ("group-conditional-on-outer-field", {"s": "x", "debug": True, "opt": {"momentum": "0.9"}}, None,
     {**DEFAULTS, "s": "x", "debug": True, "opt": {"lr": 0.1, "momentum": 0.9}}),
    ("group-hidden-child-dropped", {"s": "x", "opt": {"lr": 1, "momentum": 0.9}}, None,
     {**DEFAULTS, "s": "x", "opt": {"lr": 1.0}}),
    ("list-of-groups", {"s": "x", "layers": [{"size": 4}, {"size": "8", "act": "tanh"}]}, None,
     {**DEFAULTS, "s": "x", "layers": [{"size": 4, "act": "relu"}, {"size": 8, "act": "tanh"}]}),
    ("list-of-values", {"s": "x", "tags": ["a", "b"]}, None, {**DEFAULTS, "s": "x", "tags": ["a", "b"]}),
    ("empty-list", {"s": "x", "tags": []}, None, {**DEFAULTS, "s": "x", "tags": []}),
]


@pytest.mark.parametrize("params, allowed, expected", [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_launch_resolves(params, allowed, expected):
    assert validate_launch(APP, params, allowed) == expected


BAD = [
    ("required-missing", {}, None, {"s": "is required"}),
    ("required-empty", {"s": ""}, None, {"s": "is required"}),
    ("conditional-required", {"s": "x", "mode": "slow"}, None, {"level": "is required"}),
    ("wrong-types", {"s": 3, "n": "x", "f": "y", "debug": "maybe", "notes": ["a"]}, None,
     {"s": "must be a string", "n": "must be an integer", "f": "must be a number", "debug": "must be true or false",
      "notes": "must be a string"}),
    ("bool-is-not-integer", {"s": "x", "n": True}, None, {"n": "must be an integer"}),
    ("not-a-choice", {"s": "x", "mode": "medium"}, None, {"mode": "'medium' is not one of the choices"}),
    ("source-choice-refused", {"s": "x", "project": "p9"}, {"project": ["p1"]},
     {"project": "'p9' is not one of the choices"}),
    ("unknown-field", {"s": "x", "zzz": 1}, None, {"zzz": "unknown field"}),
    ("group-shape", {"s": "x", "opt": [1]}, None, {"opt": "must be an object keyed by field name"}),
    ("group-fields", {"s": "x", "opt": {"lr": "bad", "x": 1}}, None,
     {"opt.x": "unknown field", "opt.lr": "must be a number"}),
    ("list-shape", {"s": "x", "layers": "x"}, None, {"layers": "must be a list"}),
    ("list-items", {"s": "x", "layers": [{"act": "sigmoid"}, 3]}, None,
     {"layers[0].size": "is required", "layers[0].act": "'sigmoid' is not one of the choices",
      "layers[1]": "must be an object keyed by field name"}),
    ("list-values", {"s": "x", "tags": ["a", 1, ""]}, None, {"tags[1]": "must be a string", "tags[2]": "is empty"}),
    ("not-an-object", ["s"], None, {"launch_params": "must be an object keyed by field name"}),
]


@pytest.mark.parametrize("params, allowed, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_launch_names_each_bad_field(params, allowed, expected):
    with pytest.raises(LaunchError) as exc:
        validate_launch(APP, params, allowed)
    assert exc.value.problems == expected


def test_required_list_needs_an_item():
    app = load_conf("t.app.conf", app_conf("{name: l, type: list, required: true, item_template: {name: i, "
                                           "type: integer}, target: {field: configuration, name: l}}"), {}).app
    with pytest.raises(LaunchError) as exc:
        validate_launch(app, {"l": []})
    assert exc.value.problems == {"l": "is required (at least one item)"}
    assert validate_launch(app, {"l": ["1", 2]}) == {"l": [1, 2]}


def test_numeric_fixed_choices_resolve_to_the_option():
    app = load_conf("t.app.conf", app_conf("{name: k, type: dropdown, choices: [1, 2, {value: 3, label: Three}], "
                                           "target: {field: hyperparams, section: S, name: k}}"), {}).app
    assert validate_launch(app, {"k": "2"}) == {"k": 2}
    assert validate_launch(app, {"k": 3}) == {"k": 3}
    with pytest.raises(LaunchError) as exc:
        validate_launch(app, {"k": "4"})
    assert exc.value.problems == {"k": "'4' is not one of the choices"}


def test_targets_and_formats():
    values = validate_launch(APP, {"s": "x", "notes": "hi", "debug": True, "opt": {"momentum": 0.5},
                                   "layers": [{"size": 4}], "tags": ["a"]})
    task = apply_targets(base_task_fields(APP), APP["wizard"]["entries"], values)
    general = {k: v["value"] for k, v in task["hyperparams"]["General"].items()}
    assert general == {"s": "x", "n": "3", "mode": "fast", "debug": "True", "workers": "8", "tags": '["a"]'}
    assert task["hyperparams"]["General"]["s"] == {"section": "General", "name": "s", "value": "x"}
    assert {k: v["value"] for k, v in task["hyperparams"]["Opt"].items()} == {"lr": "0.1", "momentum": "0.5"}
    assert task["configuration"]["notes"] == {"name": "notes", "value": "hi", "type": "str"}
    assert json.loads(task["configuration"]["layers"]["value"]) == [{"size": 4, "act": "relu"}]
    assert task["configuration"]["layers"]["type"] == "json"
    assert json.loads(task["configuration"]["extra"]["value"]) == {"k": "v"}


def test_documented_simple_app_launch():
    app = load_conf("simple-app.app.conf", SIMPLE_APP_CONF, SIMPLE_APP_ASSETS).app
    allowed = {"project": ["p1"]}
    values = validate_launch(app, {"project": "p1"}, allowed)
    assert values == {"project": "p1", "task_name": "my task"}
    task = apply_targets(base_task_fields(app), app["wizard"]["entries"], values)
    assert task["script"]["entry_point"] == "main.py"
    assert {k: v["value"] for k, v in task["hyperparams"]["General"].items()} == {
        "project": "p1", "task_name": "my task", "num_tasks": ""}
    with pytest.raises(LaunchError) as exc:
        validate_launch(app, {"task_name": "t"}, allowed)
    assert exc.value.problems == {"project": "is required"}


@pytest.mark.parametrize("choices, expected", [
    ({"source": "project", "display_field": "name", "value_field": "id",
      "filter": {"fields": {"name": "^(?i)(?!example).*$"}}},
     ("projects.get_all", {"name": "^(?i)(?!example).*$", "only_fields": ["id", "name"], "order_by": ["name"]})),
    ({"source": "task", "filter": {"fields": {"status": ["completed"], "type": ["training"]}}},
     ("tasks.get_all", {"status": ["completed"], "type": ["training"], "only_fields": ["id", "name"],
                        "order_by": ["name"]})),
    ({"source": "model", "display_field": "name", "value_field": "uri"},
     ("models.get_all", {"only_fields": ["name", "uri"], "order_by": ["name"]})),
    ({"source": "queue"}, ("queues.get_all", {"only_fields": ["id", "name"], "order_by": ["name"]})),
    ({"source": "dataset_version"},
     ("tasks.get_all", {"system_tags": ["dataset"], "only_fields": ["id", "name"], "order_by": ["name"]})),
], ids=["project-documented-filter", "task", "model", "queue", "dataset_version"])
def test_choice_source_query_bodies(choices, expected):
    assert choices_query(choices) == expected


def test_options_from_rows():
    rows = [{"id": "a", "name": "A", "project": {"name": "P"}}]
    assert options_from_rows({"source": "task", "display_field": "project.name"}, rows) == [
        {"label": "P", "value": "a"}]
