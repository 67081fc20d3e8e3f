"""The shared webhooks library without servers: signatures (checked with the independent `standardwebhooks`
package), secrets sealed at rest, the SSRF guard, payload templates, delivery ids."""
from __future__ import annotations

import ipaddress
import json
import re
import socket
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from trackside.shared.webhooks import sealing, signing, store, targets, templates

EVENT = {"id": "e1", "type": "task.status_changed", "timestamp": "2026-01-01T00:00:00.000+00:00",
         "company": "c1", "data": {"id": "t1", "name": 'say "hi"', "status": "completed",
                                   "previous_status": "in_progress", "project": None}}


# -- signing -------------------------------------------------------------------------------------------------
def _headers(secrets, msg_id="msg_abc", body=b'{"a":1}', timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(secrets, msg_id, timestamp, body)}


def test_signature_verifies_with_the_standardwebhooks_package():
    secret = sealing.new_secret()
    body = templates.render(None, EVENT)
    assert Webhook(secret).verify(body, _headers([secret], body=body)) == json.loads(body)


def test_rotation_signs_with_both_secrets_and_each_verifies():
    old, new = sealing.new_secret(), sealing.new_secret()
    headers = _headers([new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(b'{"a":1}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(sealing.new_secret()).verify(b'{"a":1}', headers)


def test_signature_covers_id_timestamp_and_body():
    secret = sealing.new_secret()
    headers = _headers([secret])
    for changed in ({"webhook-id": "msg_other"}, {"webhook-timestamp": str(int(time.time()) - 1)}):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(b'{"a":1}', {**headers, **changed})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)


def test_signing_without_a_secret_is_an_error():
    with pytest.raises(ValueError):
        signing.signature_header([], "msg_x", 1, b"")


# -- sealing -------------------------------------------------------------------------------------------------
def test_new_secret_has_the_standard_webhooks_form():
    secret = sealing.new_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", secret)
    assert secret != sealing.new_secret()


def test_sealed_secret_opens_only_with_the_same_token_secret():
    secret = sealing.new_secret()
    sealed = sealing.seal(secret, "token-secret-1")
    assert secret not in sealed and sealed != sealing.seal(secret, "token-secret-1")  # random nonce
    assert sealing.unseal(sealed, "token-secret-1") == secret
    with pytest.raises(sealing.SealError):
        sealing.unseal(sealed, "token-secret-2")
    with pytest.raises(sealing.SealError):
        sealing.unseal(sealed[:-4] + "AAAA", "token-secret-1")
    with pytest.raises(sealing.SealError):
        sealing.unseal("plain", "token-secret-1")


# -- SSRF guard ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, problem", [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://localhost/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),       # IPv4-mapped IPv6
    ("http://[::ffff:10.0.0.1]/hook", "private"),
    ("http://[2002:a00:1::]/hook", "private"),             # 6to4 carrying 10.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/hook", "link-local"),    # NAT64 carrying 169.254.169.254
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://[fd00::1]/hook", "private"),                  # unique-local
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[ff02::1]/hook", "multicast"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://100.64.0.1/hook", "not a public address"),
])
def test_private_targets_are_refused(url, problem):
    with pytest.raises(targets.TargetRefused, match=problem):
        targets.check_url(url, allow_private=False)
    targets.check_url(url, allow_private=True)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1"])
def test_numeric_spellings_of_loopback_are_refused_when_the_resolver_accepts_them(host):
    try:
        socket.getaddrinfo(host, 80)
    except socket.gaierror:
        pytest.skip(f"this resolver does not accept {host}")
    with pytest.raises(targets.TargetRefused, match="loopback"):
        targets.check_url(f"http://{host}/", allow_private=False)


def test_a_host_resolving_to_public_and_private_addresses_is_refused(monkeypatch):
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 80)) for ip in ("93.184.216.34", "10.0.0.5")]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(targets.TargetRefused, match="10.0.0.5"):
        targets.check_url("https://rebind.example/hook", allow_private=False)
    assert targets.resolve_checked("rebind.example", 443, allow_private=True) == [
        ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.5")]


def test_public_address_passes(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1", 443, 0, 0))])
    targets.check_url("https://hooks.example.com/x?y=1", allow_private=False)


@pytest.mark.parametrize("url, problem", [
    ("ftp://example.com/x", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("example.com/hook", "http or https"),
    ("http:///hook", "no host"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://example.com:99999/", "not valid"),
    ("", "empty"),
    ("http://name.invalid/", "does not resolve"),
])
def test_malformed_urls_are_refused_with_the_problem_named(url, problem):
    with pytest.raises(targets.TargetRefused, match=problem):
        targets.check_url(url, allow_private=True)


# -- templates -----------------------------------------------------------------------------------------------
def test_default_body_is_type_timestamp_and_data():
    body = templates.render(None, EVENT)
    assert json.loads(body) == {k: EVENT[k] for k in ("type", "timestamp", "data")}
    assert b" " not in body.replace(b"say \\\"hi\\\"", b"")  # compact


def test_template_substitutes_inside_strings_and_whole_values():
    template = ('{"text": "Task ${data.name} is ${data.status} (was ${data.previous_status})", '
                '"task": "${data}", "project": "${data.project}", "literal": "$${type}", "${type}": 1}')
    templates.validate(template)
    rendered = json.loads(templates.render(template, EVENT))
    assert rendered == {"text": 'Task say "hi" is completed (was in_progress)', "task": EVENT["data"],
                        "project": None, "literal": "${type}", "task.status_changed": 1}


def test_a_field_the_event_lacks_renders_empty():
    event = {**EVENT, "data": {"id": "q1", "name": "default"}}
    assert json.loads(templates.render('{"m": "queue ${data.queue_name}!", "q": "${data.queue}"}', event)) == {
        "m": "queue !", "q": None}


@pytest.mark.parametrize("template, problem", [
    ('{"a": ', "not valid JSON"),
    ('{"a": "${nope}"}', r"\$\{nope\} is unknown"),
    ('{"a": "${data.secret_field}"}', "is unknown"),
    ('{"a": "x ${data.name"}', "never closed"),
    ('{"a": "${data..name}"}', "not a field name"),
    ('{"a": "${}"}', "not a field name"),
    ("x" * (templates.MAX_TEMPLATE_CHARS + 1), "longer than"),
])
def test_bad_templates_are_refused_with_the_reason(template, problem):
    with pytest.raises(templates.TemplateError, match=problem):
        templates.validate(template)


def test_non_string_template_is_refused():
    with pytest.raises(templates.TemplateError, match="must be a string"):
        templates.validate({"a": 1})


# -- store ---------------------------------------------------------------------------------------------------
def test_delivery_ids_are_msg_and_26_url_safe_characters():
    ids = {store.new_delivery_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"msg_[A-Za-z0-9_-]{26}", i) for i in ids)
