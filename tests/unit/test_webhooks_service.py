"""The webhooks service's decisions without servers: retry delays and Retry-After, which webhooks want an
event, UI action placeholders, the consumer's delivery documents (body cap, template errors, per-object order),
and the sender: connected to the checked address with the URL's Host kept, redirects not followed."""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from trackside.webhooks import actions, sender
from trackside.webhooks.consumer import Consumer, _event
from trackside.webhooks.matching import wants
from trackside.webhooks.retry import next_delay, parse_retry_after
from trackside.webhooks.settings import Settings

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


# -- retries ---------------------------------------------------------------------------------------------------
def test_retry_steps_follow_the_schedule_with_jitter_then_stop():
    schedule = (5.0, 300.0)
    assert 5.0 <= next_delay(schedule, 1) <= 6.0
    assert 300.0 <= next_delay(schedule, 2) <= 360.0
    assert next_delay(schedule, 3) is None
    assert next_delay((), 1) is None


def test_retry_after_replaces_the_step_capped_at_the_longest():
    assert next_delay((5.0, 300.0), 1, "120") == 120.0
    assert next_delay((5.0, 300.0), 1, "99999") == 300.0
    assert 5.0 <= next_delay((5.0, 300.0), 1, "soon") <= 6.0  # unreadable: the schedule


def test_retry_after_as_an_http_date():
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=NOW) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=NOW) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None


# -- matching --------------------------------------------------------------------------------------------------
def _hook(**fields):
    return {"_id": "h1", "event_types": ["task.status_changed", "project.created", "queue.created"],
            "projects": [], "statuses": [], "created": NOW - timedelta(days=1), **fields}


def _change(status="completed", project="p1", at=NOW):
    return {"id": "e1", "type": "task.status_changed", "timestamp": at.isoformat(), "company": "c",
            "data": {"id": "t1", "project": project, "status": status}}


def test_a_webhook_wants_its_types_filtered_by_project_and_status():
    assert wants(_hook(), _change())
    assert not wants(_hook(event_types=["task.created"]), _change())
    assert wants(_hook(projects=["p1"]), _change()) and not wants(_hook(projects=["p2"]), _change())
    assert wants(_hook(statuses=["completed", "failed"]), _change())
    assert not wants(_hook(statuses=["failed"]), _change())
    project_event = {"id": "e2", "type": "project.created", "timestamp": NOW.isoformat(), "data": {"id": "p1"}}
    assert wants(_hook(projects=["p1"]), project_event) and not wants(_hook(projects=["p2"]), project_event)
    queue_event = {"id": "e3", "type": "queue.created", "timestamp": NOW.isoformat(), "data": {"id": "q"}}
    assert wants(_hook(projects=["p1"], statuses=["failed"]), queue_event)  # filters apply where they mean something


def test_a_webhook_hears_nothing_from_before_it_existed():
    assert not wants(_hook(created=NOW + timedelta(seconds=1)), _change())


# -- UI actions ------------------------------------------------------------------------------------------------
def test_ui_action_placeholders():
    action = {"method": "post", "url": "http://ci.internal/run/${id}?token=${secret.CI}",
              "headers": {"Authorization": "Bearer ${secret.CI}"}, "payload": '{"task": "${id}"}'}
    assert actions.prepare(action, "t1", {"CI": "s3"}) == (
        "POST", "http://ci.internal/run/t1?token=s3", {"Authorization": "Bearer s3"}, b'{"task": "t1"}')
    assert actions.prepare({"url": "http://x/${id}"}, "t2", {}) == ("GET", "http://x/t2", {}, None)
    assert actions.prepare({"url": "http://x", "payload": {"a": "${id}"}}, "t3", {})[3] == b'{"a":"t3"}'


@pytest.mark.parametrize("action, problem", [
    ({"url": "http://x", "headers": {"A": "${secret.NOPE}"}}, "'NOPE'"),
    ({"url": "http://x", "method": "TRACE"}, "method 'TRACE'"),
    ({"method": "GET"}, "no url"),
    ({"url": "http://x", "headers": ["A"]}, "headers must be an object"),
    ("not an object", "not an object"),
])
def test_bad_ui_actions_are_refused_without_leaking_secrets(action, problem):
    with pytest.raises(actions.ActionError, match=problem) as caught:
        actions.prepare(action, "t1", {"CI": "s3"})
    assert "s3" not in str(caught.value)


# -- the consumer's delivery documents ---------------------------------------------------------------------------
def _consumer(**settings) -> Consumer:
    return Consumer(SimpleNamespace(settings=Settings(**settings), db=None, redis=None))


def test_a_delivery_holds_the_rendered_body_and_waits_for_the_previous_one_about_its_object():
    consumer = _consumer()
    first = consumer._delivery(_hook(), _change("in_progress"))
    second = consumer._delivery(_hook(), _change("completed"))
    other_hook = consumer._delivery(_hook(_id="h2"), _change("completed"))
    assert first["status"] == "pending" and first["_id"].startswith("msg_") and first["after"] is None
    assert second["after"] == first["_id"] and other_hook["after"] is None
    assert json.loads(first["body"]) == {"type": "task.status_changed", "timestamp": NOW.isoformat(),
                                         "data": {"id": "t1", "project": "p1", "status": "in_progress"}}


def test_an_oversized_body_is_stored_failed_and_never_sent():
    doc = _consumer(max_body_bytes=50)._delivery(_hook(payload_template='{"x": "' + "y" * 100 + '"}'), _change())
    assert doc["status"] == "failed" and len(doc["body"]) == 50 and doc["next_attempt_at"] is None
    assert "larger than max_body_bytes (50)" in doc["attempts"][0]["error"]


def test_a_template_that_no_longer_renders_fails_the_delivery_with_the_reason():
    doc = _consumer()._delivery(_hook(payload_template='{"x": "${nope}"}'), _change())
    assert doc["status"] == "failed" and "does not render" in doc["attempts"][0]["error"]


@pytest.mark.parametrize("fields", [None, {}, {"event": "not json"}, {"event": '{"id": "x"}'}, {"event": "[1]"}])
def test_unreadable_stream_entries_are_skipped(fields):
    assert _event("1-0", fields) is None


# -- the sender ------------------------------------------------------------------------------------------------
@pytest.fixture
def http_server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(dict(self.headers))
            status = 302 if self.path == "/moved" else 204
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "http://169.254.169.254/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()


def test_the_sender_connects_to_the_checked_address_keeping_the_host(http_server, monkeypatch):
    port, seen = http_server
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == "hooks.example"
                                                                          else host, *a, **k))
    answer = sender.send("POST", f"http://hooks.example:{port}/in", {"X-A": "1"}, b"{}", timeout=5,
                         allow_private=True)
    assert answer.status == 204 and seen[0]["Host"] == f"hooks.example:{port}" and seen[0]["X-A"] == "1"
    with pytest.raises(sender.SendError, match="loopback") as refused:
        sender.send("POST", f"http://hooks.example:{port}/in", {}, b"{}", timeout=5, allow_private=False)
    assert refused.value.retryable is False and len(seen) == 1


def test_redirects_are_answers_not_followed(http_server):
    port, seen = http_server
    answer = sender.send("POST", f"http://127.0.0.1:{port}/moved", {}, b"{}", timeout=5, allow_private=True)
    assert answer.status == 302 and len(seen) == 1


def test_a_closed_port_is_a_retryable_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(sender.SendError, match="cannot connect") as caught:
        sender.send("POST", f"http://127.0.0.1:{port}/", {}, b"{}", timeout=2, allow_private=True)
    assert caught.value.retryable is True


# -- settings --------------------------------------------------------------------------------------------------
def test_settings_from_defaults_and_environment_overrides():
    from trackside.shared.config import load_config

    defaults = Settings.from_config(load_config({}))
    assert defaults.allow_private_targets is False and defaults.request_timeout == 15
    assert defaults.retry_schedule[:3] == (5.0, 300.0, 1800.0) and defaults.max_body_bytes == 262144
    tuned = Settings.from_config(load_config({
        "CLEARML__SERVICES__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
        "CLEARML__SERVICES__WEBHOOKS__RETRY_SCHEDULE": "[1, 2.5]",
        "CLEARML__SERVICES__WEBHOOKS__REQUEST_TIMEOUT": "600",
        "CLEARML__SERVICES__WEBHOOKS__SECRETS": '{"CI": "s3"}',
    }))
    assert tuned.allow_private_targets is True and tuned.retry_schedule == (1.0, 2.5)
    assert tuned.request_timeout == 60.0  # capped below the RQ job timeout
    assert tuned.secrets == {"CI": "s3"} and "s3" not in repr(tuned)


def _dripping_server(head: bytes):
    """A server that sends ``head`` and then one byte every 0.1 s (no single wait reaches a 0.5 s timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def drip():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(head)
        while not stop.is_set():
            try:
                conn.sendall(b"x")
            except OSError:
                break
            stop.wait(0.1)
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    return server, stop


def test_a_receiver_dripping_its_headers_is_cut_off_at_twice_the_timeout():
    server, stop = _dripping_server(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    started = time.monotonic()
    try:
        with pytest.raises(sender.SendError, match="no complete answer within 1 s") as caught:
            sender.send("POST", f"http://127.0.0.1:{server.getsockname()[1]}/", {}, b"{}", timeout=0.5,
                        allow_private=True)
    finally:
        stop.set()
        server.close()
    assert caught.value.retryable is True and time.monotonic() - started < 3


def test_a_status_followed_by_a_dripping_body_is_the_answer_within_twice_the_timeout():
    server, stop = _dripping_server(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    started = time.monotonic()
    try:
        answer = sender.send("POST", f"http://127.0.0.1:{server.getsockname()[1]}/", {}, b"{}", timeout=0.5,
                             allow_private=True)
    finally:
        stop.set()
        server.close()
    assert answer.status == 200 and time.monotonic() - started < 3
