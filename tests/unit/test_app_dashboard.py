"""Instance dashboards (issue 17 item 4 groundwork): element types and html resolved against the task."""
import pytest

from support.app_packages import SIMPLE_APP_ASSETS, SIMPLE_APP_CONF, app_conf
from trackside.shared.apps import html_references, resolve_html
from trackside.shared.apps.assets import resolve_assets
from trackside.shared.apps.package import load_conf

TASK = {
    "hyperparams": {"General": {"num_tasks": {"section": "General", "name": "num_tasks", "value": "12"},
                                "name": {"section": "General", "name": "name", "value": "<b>x</b> & y"}},
                    "Args": {"lr.max": {"section": "Args", "name": "lr.max", "value": "0.5"}}},
    "configuration": {"notes": {"name": "notes", "value": "hello"}},
}


@pytest.mark.parametrize("element", [
    '{type: html, title: Count, text: "<h2>${hyperparams.General.num_tasks.value}</h2>"}',
    '{type: plot, title: Loss, metric: loss, variant: [train, val], hide_legend: true}',
    '{type: scalar, metric: acc, variant: [val]}',
    '{type: scalar-histogram, metric: acc, variant: [val], key: iter}',
    '{type: scalar-histogram, metric: acc, key: timestamp}',
    '{type: scalar-histogram, metric: acc, key: iso_time, hide_legend: false}',
    '{type: debug-images, title: Samples, metric: images, variant: [a]}',
    '{type: log, title: Log}',
    '{type: hyperparameter, title: Params}',
    '{type: hyperparameter, section: General, name: num_tasks}',
    '{type: configuration, title: Config, name: notes}',
], ids=lambda e: e.split(",")[0][7:])
def test_every_element_type_is_accepted(element):
    conf = app_conf(dashboard='{style: {height: "initial"}, contents: [' + element + ']}')
    app = load_conf("t.app.conf", conf, {}).app
    assert app["task"]["script"]["entry_point"] == "main.py"


def test_css_string_style_is_accepted():
    load_conf("t.app.conf", app_conf(dashboard='{style: "height: 300px", contents: [{type: log}]}'), {})


@pytest.mark.parametrize("text, expected", [
    ("<h2>Tasks: ${hyperparams.General.num_tasks.value}</h2>", "<h2>Tasks: 12</h2>"),
    ("${hyperparams.General.name.value}", "&lt;b&gt;x&lt;/b&gt; &amp; y"),
    ("${hyperparams.Args.lr.max.value}", "0.5"),
    ("${configuration.notes.value}", "hello"),
    ("[${hyperparams.General.missing.value}][${hyperparams.Nope.x.value}]", "[][]"),
    ("no references", "no references"),
    ("${hyperparams.General.num_tasks}", "${hyperparams.General.num_tasks}"),
], ids=["documented", "escaped", "dotted-name", "configuration", "missing", "plain", "not-a-value-ref"])
def test_resolve_html(text, expected):
    assert resolve_html(text, TASK) == expected


def test_resolve_html_with_assets_and_an_empty_task():
    text = '<img src="${ASSET:a.png}">${hyperparams.General.num_tasks.value}'
    assert resolve_html(text, {}, asset_url=lambda f: f"/apps/x/{f}") == '<img src="/apps/x/a.png">'
    assert resolve_assets("${ASSET:a.png}", lambda f: "u:" + f) == "u:a.png"


def test_html_references():
    assert html_references("${hyperparams.General.n.value} ${configuration.c.value}") == [
        ("hyperparams", "General.n"), ("configuration", "c")]


def test_documented_simple_app_dashboard():
    app = load_conf("simple-app.app.conf", SIMPLE_APP_CONF, SIMPLE_APP_ASSETS).app
    (line,) = app["dashboard"]["lines"]
    assert line["style"] == {"height": "initial"}
    (element,) = line["contents"]
    assert element["type"] == "html"
    assert resolve_html(element["text"], TASK) == "<h2>Tasks: 12</h2>"
