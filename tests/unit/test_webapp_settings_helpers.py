"""The settings pages' pure helpers (static/js/views/settings/*.js), run in Node as the browser runs them:
the public address of a service named only inside the server's network, the clearml.conf and trackside-agent
snippets (a secret starting with '-' stays the flag's value), which field an API refusal names, the webhook
dialog's checks and update body, and a webhook's state badge. One Node process for all."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.node import needs_node, run_module_script

SETTINGS = (Path(__file__).resolve().parents[2] / "services" / "webapp" / "trackside" / "webapp" / "static" / "js"
            / "views" / "settings")
pytestmark = needs_node

SCRIPT = """
import {publicAddress, clearmlConf, agentInit} from %(credentials)s;
import {refusedField, refusalText, webhookProblems} from %(form)s;
import {webhookBody, webhookState} from %(webhooks)s;
import {attemptText} from %(deliveries)s;
const here = {hostname: 'ml.example.com'};
const hosts = {web: 'http://ml.example.com:8080', api: 'http://ml.example.com:8008',
  files: 'http://ml.example.com:8081'};
const cred = {access_key: 'AK1', secret_key: "-s3cr'et", label: 'ci box'};
const blank = {name: '', url: '', event_types: [], projects: [], statuses: [], payload_template: '', enabled: true};
const before = {name: 'a', url: 'https://x.example/h', event_types: ['task.created'], projects: [], statuses: [],
  payload_template: null, enabled: true};
console.log(JSON.stringify({
  service: publicAddress('http://apiserver:8008', here),
  loopback: publicAddress('http://127.0.0.1:8008/', here),
  localhost: publicAddress('http://localhost:8008', here),
  dotted: publicAddress('https://api.example.org', here),
  conf: clearmlConf(hosts, cred),
  agent: agentInit(hosts, cred),
  byFields: refusedField({data: {fields: ['event_types.0']}, message: 'x'}),
  byKey: refusedField({data: {url: 'ftp://x'}, message: 'refused'}),
  byMessage: refusedField({data: {}, message: "payload_template is not valid JSON"}),
  byUrlMessage: refusedField({data: {}, message: "url host '127.0.0.1' resolves to 127.0.0.1, a loopback address"}),
  unknown: refusedField({data: {}, message: 'general server error'}),
  quotedName: refusedField({data: {}, message: "url host 'name.example' does not resolve"}),
  blank: webhookProblems(blank),
  badUrl: webhookProblems({...blank, name: 'n', url: 'ftp://x', event_types: ['a'], payload_template: '{'}),
  good: webhookProblems({...blank, name: 'n', url: 'https://x.example/h', event_types: ['a']}),
  created: webhookBody({...blank, name: ' n ', url: ' https://x.example/h ', event_types: ['a']}),
  changed: webhookBody({...before, payload_template: '', name: 'b', statuses: ['failed']}, before),
  cleared: webhookBody({...before, payload_template: ' '}, {...before, payload_template: '{}'}),
  templated: webhookBody({...before, payload_template: '{"a": 1}'}, before),
  unwrapped: refusalText({message: "Validation error (url: url host 'x' does not resolve)"}, 'url'),
  kept: refusalText({message: 'something else'}, 'url'),
  enabled: webhookState({enabled: true}).label,
  failing: webhookState({enabled: true, failing_since: '2026-01-01T00:00:00Z'}).kind,
  disabled: webhookState({enabled: false, disabled_reason: 'HTTP 410 Gone'}),
  attempt: attemptText({status_code: 503, duration_ms: 12.4, error: 'Service Unavailable'}),
  noAnswer: attemptText({status_code: null, duration_ms: 15000, error: 'timed out'}),
  sameAsStatus: attemptText({status_code: 500, duration_ms: 6, error: 'HTTP 500'}),
  statusAndReason: attemptText({status_code: 502, duration_ms: 6, error: 'HTTP 502: Bad Gateway'}),
}));
"""


@pytest.fixture(scope="module")
def out() -> dict:
    names = {"credentials": "credentials.js", "form": "webhook_form.js", "webhooks": "webhooks.js",
             "deliveries": "webhook_deliveries.js"}
    script = SCRIPT % {key: json.dumps((SETTINGS / name).as_uri()) for key, name in names.items()}
    return run_module_script(script)


def test_a_service_name_becomes_the_pages_host_and_real_hosts_stay(out):
    assert out["service"] == "http://ml.example.com:8008"
    assert out["loopback"] == "http://127.0.0.1:8008"
    assert out["localhost"] == "http://localhost:8008"
    assert out["dotted"] == "https://api.example.org"


def test_snippets_carry_the_hosts_and_the_key_and_keep_a_dash_secret_a_value(out):
    conf = out["conf"]
    assert "  api_server: http://ml.example.com:8008" in conf and "  files_server: http://ml.example.com:8081" in conf
    assert '"access_key" = "AK1"' in conf and '"secret_key" = "-s3cr\'et"' in conf and "# ci box" in conf
    agent = out["agent"]
    assert "--access-key AK1" in agent and "--api-host http://ml.example.com:8008" in agent
    assert "--secret-key='-s3cr'\\''et'" in agent  # '=' and shell quoting: never read as a flag


def test_a_refusal_lands_on_the_field_it_names(out):
    assert out["byFields"] == "event_types" and out["byKey"] == "url"
    assert out["byMessage"] == "payload_template" and out["byUrlMessage"] == "url"
    assert out["unknown"] is None and out["quotedName"] == "url"
    assert out["unwrapped"] == "url host 'x' does not resolve" and out["kept"] == "something else"


def test_dialog_checks_and_bodies(out):
    assert set(out["blank"]) == {"name", "url", "event_types"}
    assert set(out["badUrl"]) == {"url", "payload_template"} and out["good"] == {}
    assert out["created"] == {"name": "n", "url": "https://x.example/h", "event_types": ["a"], "projects": [],
                              "statuses": [], "enabled": True}
    assert out["changed"] == {"name": "b", "statuses": ["failed"]}  # only what changed; empty and null alike
    assert out["cleared"] == {"payload_template": ""} and out["templated"] == {"payload_template": '{"a": 1}'}


def test_state_badge_and_attempt_text(out):
    assert out["enabled"] == "Enabled" and out["failing"] == "failing"
    assert out["disabled"] == {"label": "Disabled", "kind": "disabled", "detail": "HTTP 410 Gone"}
    assert out["attempt"] == "HTTP 503 in 12 ms: Service Unavailable"
    assert out["noAnswer"] == "no answer in 15000 ms: timed out"
    assert out["sameAsStatus"] == "HTTP 500 in 6 ms" and out["statusAndReason"] == "HTTP 502 in 6 ms: Bad Gateway"
