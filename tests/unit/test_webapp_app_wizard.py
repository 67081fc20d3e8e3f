"""The launch wizard's rules (static/js/views/apps/wizard_model.js) and the asset URL mapping (assets.js), run in
Node as the browser runs them: typed values, the API's loose comparison for conditionals, defaults that follow
another field, list item titles, and API asset paths turned into /app-assets URLs."""
from __future__ import annotations

import json
from pathlib import Path

from support.node import needs_node, run_module_script

APPS = Path(__file__).resolve().parents[2] / "services" / "webapp" / "trackside" / "webapp" / "static" / "js" / "views" \
    / "apps"
pytestmark = needs_node


def run(expressions: dict) -> dict:
    """Each expression evaluated with the modules' exports in scope; their values as JSON."""
    body = ",".join(f"{json.dumps(k)}: ({v})" for k, v in expressions.items())
    script = (f"import * as m from {json.dumps((APPS / 'wizard_model.js').as_uri())};"
              f"import {{assetUrl}} from {json.dumps((APPS / 'assets.js').as_uri())};"
              "const {parseValue, sameValue, conditionsHold, currentDefault, fillTitle, options} = m;"
              f"console.log(JSON.stringify({{{body}}}, (k, v) => (v === undefined ? '<undefined>' : v)));")
    return run_module_script(script)


def test_values_conditions_defaults_and_titles():
    out = run({
        "int": "parseValue('integer', ' 42 ')", "bad_int": "parseValue('integer', '4.5')",
        "float": "parseValue('float', '1e-3')", "bad_float": "parseValue('float', '0.1.2')",
        "empty": "parseValue('float', '  ')", "check": "parseValue('checkbox', true)",
        "text": "parseValue('string', ' keep spaces ')",
        "loose": "[sameValue(true, 'true'), sameValue(2, '2.0'), sameValue('a', 'b'), sameValue(undefined, '')]",
        "shown": "conditionsHold({conditional: [{name: 'kind', value: 'polynomial'}]}, () => 'polynomial')",
        "hidden": "conditionsHold({conditional: [{name: 'kind', value: 'polynomial'}]}, () => undefined)",
        "follows": "currentDefault({default: 0.4, default_conditional_on: {name: 'kind', value: {linear: 0.8}}},"
                   " () => 'linear')",
        "fallback": "currentDefault({default: 0.4, default_conditional_on: {name: 'kind', value: {linear: 0.8}}},"
                    " () => 'other')",
        "title": "fillTitle('From ${at} x${factor}', {at: 10, factor: undefined})",
        "options": "options([1, {value: 'a', label: 'A'}, {value: true}])",
    })
    assert out["int"] == {"value": 42} and "whole number" in out["bad_int"]["problem"]
    assert out["float"] == {"value": 0.001} and "number" in out["bad_float"]["problem"]
    assert out["empty"] == {"value": "<undefined>"} and out["check"] == {"value": True}
    assert out["text"] == {"value": " keep spaces "}
    assert out["loose"] == [True, True, False, False]
    assert out["shown"] is True and out["hidden"] is False
    assert out["follows"] == 0.8 and out["fallback"] == 0.4
    assert out["title"] == "From 10 x…"
    assert out["options"] == [{"value": 1, "label": "1"}, {"value": "a", "label": "A"},
                              {"value": True, "label": "true"}]


def test_asset_urls_go_through_the_web_app():
    out = run({
        "asset": "assetUrl('/apps.get_asset?app=numpy-trainer&version=1.0.0&file=numpy-trainer.svg')",
        "quoted": "assetUrl('/apps.get_asset?app=my%20app&version=2.0&file=img%2Fa%20b.png')",
        "escaped": "assetUrl('/apps.get_asset?app=a&amp;version=1&amp;file=x.html')",
        "public": "assetUrl('https://cdn.example.com/icon.png')",
        "none": "assetUrl(null)",
    })
    assert out["asset"] == "/app-assets/numpy-trainer/1.0.0/numpy-trainer.svg"
    assert out["quoted"] == "/app-assets/my%20app/2.0/img/a%20b.png"
    assert out["escaped"] == "/app-assets/a/1/x.html"
    assert out["public"] == "https://cdn.example.com/icon.png" and out["none"] is None
