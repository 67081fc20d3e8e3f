"""The custom UI actions' browser side (static/js/components/ui_actions.js), run in Node with a recording
fetch(): `${id}` replaced in the URL, headers and payload; no body on GET; a connection failure explained
(unreachable or CORS); the toast's summary for one and for many objects."""
from __future__ import annotations

import json
from pathlib import Path

from support.node import needs_node, run_module_script

MODULE = (Path(__file__).resolve().parents[2] / "services" / "webapp" / "trackside" / "webapp" / "static" / "js"
          / "components" / "ui_actions.js")
pytestmark = needs_node

# A fetch() that records what it was asked and answers by the URL's path: /down/ throws as an unreachable
# (or CORS-blocked) target does, /status/<n>/ answers n.
PRELUDE = """
globalThis.location = {href: 'http://app.example/projects'};
globalThis.sent = [];
globalThis.fetch = async (url, init) => {
  sent.push({url: String(url), method: init.method, headers: init.headers, body: init.body ?? null,
    credentials: init.credentials, mode: init.mode});
  if (url.pathname.startsWith('/down/')) throw new TypeError('Failed to fetch');
  const status = Number((url.pathname.match(/^\\/status\\/(\\d+)\\//) || [0, 200])[1]);
  return {ok: status < 300, status, statusText: status === 500 ? 'Internal Server Error' : ''};
};
"""


def run(body: str):
    script = f"import * as ui from {json.dumps(MODULE.as_uri())};{PRELUDE}{body}"
    return run_module_script(script)


def test_id_is_replaced_in_url_headers_and_payload():
    out = run("""
      const result = await ui.browserRequest({method: 'post', url: 'https://ci.example/run/${id}?again=${id}',
        headers: {'X-Task': '${id}', 'Content-Type': 'application/json'}, payload: '{"task": "${id}"}'}, 'abc123');
      console.log(JSON.stringify({result, sent}));""")
    assert out["result"] == {"id": "abc123", "ok": True, "status_code": 200, "error": None}
    [request] = out["sent"]
    assert request["url"] == "https://ci.example/run/abc123?again=abc123"
    assert request["method"] == "POST"
    assert request["headers"] == {"X-Task": "abc123", "Content-Type": "application/json"}
    assert json.loads(request["body"]) == {"task": "abc123"}
    assert request["credentials"] == "omit" and request["mode"] == "cors"


def test_object_payload_is_sent_as_json_and_get_sends_no_body():
    out = run("""
      await ui.browserRequest({method: 'PUT', url: 'https://x.example/${id}', payload: {id: '${id}', n: 1}}, 'm1');
      await ui.browserRequest({url: 'https://x.example/${id}', payload: 'ignored'}, 'm2');
      console.log(JSON.stringify(sent));""")
    assert json.loads(out[0]["body"]) == {"id": "m1", "n": 1}
    assert out[1]["method"] == "GET" and out[1]["body"] is None


def test_failures_name_the_status_or_the_unreachable_host():
    out = run("""
      const a = await ui.browserRequest({method: 'POST', url: 'https://hooks.example/status/500/${id}'}, 't1');
      const b = await ui.browserRequest({method: 'POST', url: 'https://hooks.example/down/${id}'}, 't2');
      const c = await ui.browserRequest({url: 'http://[bad'}, 't3');
      console.log(JSON.stringify([a, b, c]));""")
    assert out[0] == {"id": "t1", "ok": False, "status_code": 500, "error": "HTTP 500 Internal Server Error"}
    assert out[1]["ok"] is False and out[1]["status_code"] is None
    assert "could not reach hooks.example" in out[1]["error"] and "CORS" in out[1]["error"]
    assert out[2]["ok"] is False and "invalid URL" in out[2]["error"]


def test_summary_for_one_and_for_many():
    out = run("""
      const ok = (id) => ({id, ok: true, status_code: 200, error: null});
      const bad = (id) => ({id, ok: false, status_code: 500, error: 'HTTP 500'});
      console.log(JSON.stringify([
        ui.summary('Notify', [ok('a')]),
        ui.summary('Notify', [bad('a')]),
        ui.summary('Notify', [ok('a'), ok('b'), ok('c'), bad('0123456789abcdef')]),
        ui.summary('Notify', ['a', 'b', 'c', 'd', 'e'].map(bad)),
      ]));""")
    assert out[0] == '"Notify" succeeded (HTTP 200)'
    assert out[1] == '"Notify" failed: HTTP 500'
    assert out[2] == '"Notify": 3 of 4 succeeded; failed: 01234567 (HTTP 500)'
    assert out[3] == '"Notify": 0 of 5 succeeded; failed: a (HTTP 500), b (HTTP 500), c (HTTP 500) and 2 more'
