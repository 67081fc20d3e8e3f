"""webhooks.* (ours, 2.31) over raw HTTP: create/get_all/update/delete/rotate_secret/test/get_deliveries/
redeliver/get_event_types; bad values refused naming the field with nothing stored; the secret shown only by
create and rotate_secret (never by get_all, never in the API's log, stored sealed); company-scoped (another
company, a second API process on the same database, sees none of it); every endpoint refuses a caller
without a token."""
from __future__ import annotations

import uuid

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from trackside.shared import domain_events
from trackside.shared.webhooks import jobs, sealing, store

# A public address: creation resolves and checks the target, and a number needs no DNS.
PUBLIC_URL = "https://1.1.1.1/hooks/trackside"
ENDPOINTS = ("create", "get_all", "update", "delete", "rotate_secret", "test", "get_deliveries", "redeliver",
             "get_event_types")


@pytest.fixture(scope="module")
def api(api_server, backend):
    client = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    made: list[str] = []
    client.made = made
    yield client
    # The session's database is shared: leave no webhook that a webhooks service in the same run could send to.
    backend[store.WEBHOOKS].delete_many({"_id": {"$in": made}})
    backend[store.DELIVERIES].delete_many({"webhook": {"$in": made}})


@pytest.fixture(scope="module")
def other(other_company_api_server) -> ApiClient:
    """A client of another company (a second API process on the same database)."""
    server = other_company_api_server
    return ApiClient(server.url, server.key, server.secret).login()


def create(api, **fields) -> dict:
    body = {"name": unique("hook"), "url": PUBLIC_URL, "event_types": ["task.status_changed"], **fields}
    made = api.ok("webhooks.create", **body)
    api.made.append(made["id"])
    return made


def test_create_answers_the_secret_once_and_get_all_never(api, api_server, backend):
    project = create_project(api, unique("hooked"))
    made = create(api, projects=[project], statuses=["completed", "failed"],
                  payload_template='{"text": "${data.name} is ${data.status}"}')
    assert made["secret"].startswith("whsec_") and len(made["id"]) == 32
    listed = api.ok("webhooks.get_all", id=[made["id"]])["webhooks"]
    assert len(listed) == 1
    hook = listed[0]
    assert set(hook) == {"id", "name", "url", "event_types", "projects", "statuses", "payload_template", "enabled",
                         "disabled_reason", "failing_since", "created", "last_update", "user"}
    assert hook["projects"] == [project] and hook["statuses"] == ["completed", "failed"] and hook["enabled"] is True
    assert hook["disabled_reason"] is None and hook["created"].endswith("+00:00")
    assert made["secret"] not in str(api.ok("webhooks.get_all"))
    stored = backend[store.WEBHOOKS].find_one({"_id": made["id"]})
    assert made["secret"] not in str(stored)
    token_secret = (api_server.config_dir / "secure.conf").read_text().split('token_secret: "')[1].split('"')[0]
    assert sealing.unseal(stored["secret_sealed"], token_secret) == made["secret"]
    assert made["secret"] not in (api_server.config_dir.parent / "api.log").read_text(errors="replace")


def test_get_all_filters_by_enabled(api):
    on, off = create(api)["id"], create(api, enabled=False)["id"]
    enabled = {h["id"] for h in api.ok("webhooks.get_all", enabled=True)["webhooks"]}
    disabled = {h["id"] for h in api.ok("webhooks.get_all", enabled=False)["webhooks"]}
    assert on in enabled and off in disabled and on not in disabled and off not in enabled


@pytest.mark.parametrize("fields, field", [
    ({"url": "ftp://1.1.1.1/x"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "http://127.0.0.1:9/hook"}, "url"),  # loopback: refused unless allow_private_targets
    ({"url": "http://10.1.2.3/hook"}, "url"),
    ({"event_types": ["task.exploded"]}, "event_types"),
    ({"event_types": []}, "event_types"),
    ({"statuses": ["sleeping"]}, "statuses"),
    ({"payload_template": "{not json"}, "payload_template"),
    ({"payload_template": '{"x": "${nope.field}"}'}, "payload_template"),
    ({"name": "  "}, "name"),
])
def test_create_refuses_bad_values_naming_the_field_and_stores_nothing(api, backend, fields, field):
    name = unique("refused")
    body = {"name": name, "url": PUBLIC_URL, "event_types": ["task.created"], **fields}
    if field == "name":
        name = body["name"]
    reply = api.error("webhooks.create", (400, 12), **body)
    assert field in reply.meta["result_msg"] and reply.meta["error_data"]["fields"] == [field]
    assert backend[store.WEBHOOKS].count_documents({"name": name}) == 0


@pytest.mark.parametrize("endpoint, body, code", [
    ("webhooks.create", {"url": PUBLIC_URL, "event_types": ["task.created"]}, (400, 11)),
    ("webhooks.create", {"name": "x", "event_types": ["task.created"]}, (400, 11)),
    ("webhooks.create", {"name": "x", "url": PUBLIC_URL}, (400, 11)),
    ("webhooks.create", {"name": "x", "url": 5, "event_types": ["task.created"]}, (400, 12)),
    ("webhooks.create", {"name": "x", "url": PUBLIC_URL, "event_types": "task.created"}, (400, 12)),
    ("webhooks.create", {"name": "x", "url": PUBLIC_URL, "event_types": ["task.created"], "enabled": "maybe"},
     (400, 12)),
    ("webhooks.get_all", {"enabled": "maybe"}, (400, 12)),
    ("webhooks.update", {}, (400, 11)),
    ("webhooks.update", {"webhook": ["x"]}, (400, 12)),
    ("webhooks.delete", {}, (400, 11)),
    ("webhooks.rotate_secret", {}, (400, 11)),
    ("webhooks.test", {}, (400, 11)),
    ("webhooks.get_deliveries", {}, (400, 11)),
    ("webhooks.get_deliveries", {"webhook": "x", "size": "many"}, (400, 12)),
    ("webhooks.get_deliveries", {"webhook": "x", "status": ["lost"]}, (400, 12)),
    ("webhooks.redeliver", {}, (400, 11)),
    ("webhooks.redeliver", {"delivery": 7}, (400, 12)),
])
def test_missing_and_wrong_typed_fields(api, endpoint, body, code):
    api.error(endpoint, code, **body)


@pytest.mark.parametrize("endpoint, key", [
    ("webhooks.update", "webhook"), ("webhooks.delete", "webhook"), ("webhooks.rotate_secret", "webhook"),
    ("webhooks.test", "webhook"), ("webhooks.get_deliveries", "webhook"), ("webhooks.redeliver", "delivery"),
])
def test_unknown_ids_are_refused(api, endpoint, key):
    reply = api.error(endpoint, (400, 10), **{key: uuid.uuid4().hex})
    assert key in reply.meta["result_msg"]


def test_unknown_project_is_refused(api):
    api.error("webhooks.create", (400, 401), name="x", url=PUBLIC_URL, event_types=["task.created"],
              projects=[uuid.uuid4().hex])


def test_update_checks_what_it_changes_and_enabling_clears_the_disabled_reason(api, backend):
    hook = create(api)["id"]
    api.error("webhooks.update", (400, 12), webhook=hook, url="gopher://1.1.1.1")
    api.error("webhooks.update", (400, 12), webhook=hook, event_types=["nope"])
    assert api.ok("webhooks.update", webhook=hook) == {"updated": 0}
    assert api.ok("webhooks.update", webhook=hook, name="renamed", event_types=["task.created", "task.deleted"],
                  payload_template='{"t": "${type}"}') == {"updated": 1}
    shown = api.ok("webhooks.get_all", id=[hook])["webhooks"][0]
    assert shown["name"] == "renamed" and shown["event_types"] == ["task.created", "task.deleted"]
    assert shown["url"] == PUBLIC_URL and shown["payload_template"] == '{"t": "${type}"}'
    api.ok("webhooks.update", webhook=hook, payload_template="")
    assert api.ok("webhooks.get_all", id=[hook])["webhooks"][0]["payload_template"] is None

    backend[store.WEBHOOKS].update_one({"_id": hook}, {"$set": {
        "enabled": False, "disabled_reason": "the endpoint answered 410 Gone", "failing_since": None}})
    assert api.ok("webhooks.get_all", id=[hook])["webhooks"][0]["disabled_reason"] == "the endpoint answered 410 Gone"
    api.ok("webhooks.update", webhook=hook, enabled=True)
    shown = api.ok("webhooks.get_all", id=[hook])["webhooks"][0]
    assert shown["enabled"] is True and shown["disabled_reason"] is None


def test_rotate_secret_keeps_the_previous_one_for_a_day(api, api_server, backend):
    made = create(api)
    rotated = api.ok("webhooks.rotate_secret", webhook=made["id"])
    assert set(rotated) == {"secret"} and rotated["secret"] != made["secret"]
    stored = backend[store.WEBHOOKS].find_one({"_id": made["id"]})
    token_secret = (api_server.config_dir / "secure.conf").read_text().split('token_secret: "')[1].split('"')[0]
    assert sealing.unseal(stored["secret_sealed"], token_secret) == rotated["secret"]
    assert sealing.unseal(stored["previous_secret_sealed"], token_secret) == made["secret"]
    hours = (stored["previous_secret_expires"] - stored["last_update"]).total_seconds() / 3600
    assert 23.9 < hours < 24.1


def test_test_and_redeliver_enqueue_one_delivery_with_a_stable_id(api, backend, redis_server):
    from support.suite import redis_admin

    hook = create(api, payload_template='{"hello": "${data.webhook}", "kind": "${type}"}')["id"]
    delivery = api.ok("webhooks.test", webhook=hook)["delivery"]
    assert delivery.startswith("msg_") and len(delivery) == 30
    stored = backend[store.DELIVERIES].find_one({"_id": delivery})
    assert stored["company"] and stored["webhook"] == hook and stored["event_type"] == "webhook.test"
    assert stored["body"] == f'{{"hello":"{hook}","kind":"webhook.test"}}' and stored["status"] == "pending"
    admin = redis_admin(redis_server.port)
    assert admin.lpos(f"rq:queue:{jobs.QUEUE}", delivery) is not None

    page = api.ok("webhooks.get_deliveries", webhook=hook)
    assert [d["id"] for d in page["deliveries"]] == [delivery] and page["scroll_id"]
    assert set(page["deliveries"][0]) == {"id", "event_id", "event_type", "status", "attempt", "attempts",
                                          "next_attempt_at", "created", "last_update"}
    assert "body" not in page["deliveries"][0]

    backend[store.DELIVERIES].update_one({"_id": delivery}, {"$set": {"status": "failed", "attempt": 3}})
    assert api.ok("webhooks.redeliver", delivery=delivery) == {"delivery": delivery}
    again = backend[store.DELIVERIES].find_one({"_id": delivery})
    assert again["status"] == "pending" and again["attempt"] == 3 and again["event_id"] == stored["event_id"]
    assert backend[store.DELIVERIES].count_documents({"webhook": hook}) == 1


def test_get_deliveries_pages_with_scroll_id_and_filters_by_status(api, backend):
    hook = create(api)["id"]
    ids = [api.ok("webhooks.test", webhook=hook)["delivery"] for _ in range(5)]
    backend[store.DELIVERIES].update_one({"_id": ids[0]}, {"$set": {"status": "succeeded"}})
    first = api.ok("webhooks.get_deliveries", webhook=hook, size=2)
    second = api.ok("webhooks.get_deliveries", webhook=hook, size=2, scroll_id=first["scroll_id"])
    third = api.ok("webhooks.get_deliveries", webhook=hook, size=2, scroll_id=second["scroll_id"])
    seen = [d["id"] for page in (first, second, third) for d in page["deliveries"]]
    assert sorted(seen) == sorted(ids) and len(third["deliveries"]) == 1
    assert seen[0] == ids[-1]  # newest first
    succeeded = api.ok("webhooks.get_deliveries", webhook=hook, status=["succeeded"])["deliveries"]
    assert [d["id"] for d in succeeded] == [ids[0]]


def test_get_event_types_lists_the_stream_contract(api):
    listed = api.ok("webhooks.get_event_types")["event_types"]
    assert [e["type"] for e in listed] == list(domain_events.EVENT_TYPES)
    assert all(e["description"] for e in listed)


def test_delete_removes_the_webhook_and_its_deliveries(api, backend):
    hook = create(api)["id"]
    api.ok("webhooks.test", webhook=hook)
    assert api.ok("webhooks.delete", webhook=hook) == {"deleted": 1}
    assert api.ok("webhooks.get_all", id=[hook])["webhooks"] == []
    assert backend[store.DELIVERIES].count_documents({"webhook": hook}) == 0
    api.error("webhooks.delete", (400, 10), webhook=hook)


def test_another_company_sees_and_touches_nothing(api, other):
    made = create(api)
    delivery = api.ok("webhooks.test", webhook=made["id"])["delivery"]
    assert made["id"] not in {h["id"] for h in other.ok("webhooks.get_all")["webhooks"]}
    assert other.ok("webhooks.get_all", id=[made["id"]])["webhooks"] == []
    for endpoint in ("webhooks.update", "webhooks.delete", "webhooks.rotate_secret", "webhooks.test",
                     "webhooks.get_deliveries"):
        other.error(endpoint, (400, 10), webhook=made["id"])
    other.error("webhooks.redeliver", (400, 10), delivery=delivery)
    assert api.ok("webhooks.get_all", id=[made["id"]])["webhooks"][0]["name"]


@pytest.mark.parametrize("name", ENDPOINTS)
def test_unauthenticated_calls_are_refused(anon, name):
    reply = anon.send(f"webhooks.{name}", {})
    assert reply.code == (401, 20) and reply.data == {}


def test_older_versions_do_not_serve_webhooks(api):
    assert api.send("webhooks.get_event_types", {}, version="2.30").code[0] in (400, 404)
