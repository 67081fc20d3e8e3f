"""Webhook deliveries end to end: the API publishes domain events, the real webhooks service turns them into
deliveries and real RQ workers send them to a loopback receiver, signed (checked with the independent
`standardwebhooks` package); retries, 410, long failure, private targets, server-side UI actions."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from support.client import ApiClient
from support.clients import client_env, run_client_script
from support.names import unique
from support.suite import start_api, stop_in_background
from support.users import company_of
from support.waiting import wait_for
from support.webhooks import Receiver, WebhooksStack, insert_webhook, token_secret, verify
from trackside.shared.storage import redis as redis_store
from trackside.shared.webhooks import jobs, store

UI_SECRET = "s3cret-value-for-tests"


@pytest.fixture(scope="module")
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(api_server, tmp_path_factory):
    stack = WebhooksStack(api_server, tmp_path_factory.mktemp("webhooks"), workers=2,
                          env={"CLEARML__SERVICES__WEBHOOKS__SECRETS": f'{{"CI_TOKEN": "{UI_SECRET}"}}'}).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def company(api_server):
    return company_of(ApiClient(api_server.url, api_server.key, api_server.secret).login())


@pytest.fixture(scope="module")
def private_api(api_server, mongo_server, redis_server, tmp_path_factory):
    """A second API on the suite's databases that lets webhooks target loopback (the receiver); it seals
    secrets with the first API's token secret, as every API of one installation does."""
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-private"), redis_port=redis_server.port,
                       extra_env={"CLEARML__SERVICES__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
                                  "CLEARML__SECURE__AUTH__TOKEN_SECRET": json.dumps(token_secret(api_server))})
    yield ApiClient(server.url, server.key, server.secret).login()
    stop_in_background(server.process)


def _hook(backend, api_server, company, receiver, event_types, **options):
    path = "/" + unique("hook")
    hook_id, secret = insert_webhook(backend, api_server, company, receiver.url(path), event_types, **options)
    return hook_id, secret, path


def _deliveries(backend, hook_id):
    return list(backend[store.DELIVERIES].find({"webhook": hook_id}).sort("created", 1))


def _settled(backend, hook_id, count):
    def check():
        docs = _deliveries(backend, hook_id)
        return docs if len(docs) >= count and all(d["status"] in ("succeeded", "failed") for d in docs) else None
    return check


def test_sdk_run_delivers_its_status_changes_in_order_signed(api_server, backend, company, receiver, stack,
                                                            tmp_path):
    hook_id, secret, path = _hook(backend, api_server, company, receiver, ["task.created", "task.status_changed"])
    env = client_env(api_server.url, api_server.key, api_server.secret, tmp_path / "home", thread_reporting=True)
    run = run_client_script("sdk_plain_script.py", [], env)
    assert run.returncode == 0, run.stderr[-3000:]
    task_id = run.result["task_id"]

    def task_deliveries():
        got = [r for r in receiver.at(path) if r.json()["data"]["id"] == task_id]
        return got if got and got[-1].json()["data"].get("status") == "completed" else None

    received = wait_for(task_deliveries, 30, "the task's deliveries", interval=0.1)
    bodies = [verify(secret, request) for request in received]  # raises unless every signature verifies
    assert bodies[0]["type"] == "task.created" and bodies[0]["data"]["name"] == "hello"
    changes = [b["data"] for b in bodies if b["type"] == "task.status_changed"]
    assert [c["status"] for c in changes][-1] == "completed" and "in_progress" in [c["status"] for c in changes]
    for before, after in zip(changes, changes[1:]):  # in order: each change starts where the previous ended
        assert after["previous_status"] == before["status"]
    assert all(set(b) == {"type", "timestamp", "data"} for b in bodies)
    ids = [r.headers["webhook-id"] for r in received]
    assert len(set(ids)) == len(ids) and all(i.startswith("msg_") for i in ids)
    assert all(r.headers["content-type"] == "application/json" for r in received)
    stored = {d["_id"]: d for d in _deliveries(backend, hook_id)}
    assert all(stored[i]["status"] == "succeeded" and stored[i]["attempts"][0]["status_code"] == 200 for i in ids)


def test_a_receiver_failing_twice_gets_the_same_delivery_on_the_retry_schedule(api, api_server, backend, company,
                                                                              receiver, stack):
    hook_id, secret, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    receiver.plan(path, [503, 500])
    name = unique("q")
    api.ok("queues.create", name=name)
    received = wait_for(lambda: (got := receiver.at(path)) and len(got) >= 3 and got, 30, "three attempts")
    assert [r.status for r in received] == [503, 500, 200]
    assert len({r.headers["webhook-id"] for r in received}) == 1  # one message, retried
    assert verify(secret, received[-1])["data"]["name"] == name
    gaps = [b.at - a.at for a, b in zip(received, received[1:])]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0  # RETRY_SCHEDULE [0.5, 1, 2] (jitter only adds)
    delivery = wait_for(_settled(backend, hook_id, 1), 10, "the delivery to settle")[0]
    assert delivery["status"] == "succeeded" and delivery["attempt"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 500, 200]
    assert delivery["attempts"][0]["error"] == "HTTP 503" and delivery["attempts"][-1]["error"] is None
    assert backend[store.WEBHOOKS].find_one({"_id": hook_id})["failing_since"] is None


def test_a_delivery_fails_when_the_schedule_is_spent(api, api_server, backend, company, receiver, stack):
    hook_id, _, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    receiver.plan(path, [502] * 5)
    api.ok("queues.create", name=unique("q"))
    delivery = wait_for(_settled(backend, hook_id, 1), 30, "the delivery to fail")[0]
    assert delivery["status"] == "failed" and delivery["attempt"] == 4  # the first try and 3 retries
    assert len(receiver.at(path)) == 4 and delivery["next_attempt_at"] is None
    hook = backend[store.WEBHOOKS].find_one({"_id": hook_id})
    assert hook["enabled"] is True and hook["failing_since"] is not None  # failing, not yet for disable_after


def test_retry_after_is_honoured(api, api_server, backend, company, receiver, stack):
    hook_id, _, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    receiver.plan(path, [429], headers={"Retry-After": "2"})
    api.ok("queues.create", name=unique("q"))
    received = wait_for(lambda: (got := receiver.at(path)) and len(got) >= 2 and got, 30, "the retry")
    assert received[1].at - received[0].at >= 2.0


def test_410_disables_the_webhook_with_the_reason(api, api_server, backend, company, receiver, stack):
    hook_id, _, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    receiver.plan(path, [410])
    api.ok("queues.create", name=unique("q"))
    delivery = wait_for(_settled(backend, hook_id, 1), 30, "the delivery to fail")[0]
    assert delivery["status"] == "failed" and delivery["attempts"][0]["status_code"] == 410
    hook = backend[store.WEBHOOKS].find_one({"_id": hook_id})
    assert hook["enabled"] is False and "410" in hook["disabled_reason"]
    api.ok("queues.create", name=unique("q"))  # a disabled webhook gets nothing more
    assert len(receiver.at(path)) == 1


def test_other_4xx_fails_at_once(api, api_server, backend, company, receiver, stack):
    hook_id, _, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    receiver.plan(path, [400])
    api.ok("queues.create", name=unique("q"))
    delivery = wait_for(_settled(backend, hook_id, 1), 30, "the delivery to fail")[0]
    assert delivery["status"] == "failed" and delivery["attempt"] == 1 and len(receiver.at(path)) == 1


def test_a_webhook_failing_for_disable_after_is_disabled_and_says_why(api, api_server, backend, company,
                                                                     receiver, stack):
    hook_id, _, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    long_ago = datetime.now(timezone.utc) - timedelta(days=2)
    backend[store.WEBHOOKS].update_one({"_id": hook_id}, {"$set": {"failing_since": long_ago}})
    receiver.plan(path, [503])
    api.ok("queues.create", name=unique("q"))
    delivery = wait_for(_settled(backend, hook_id, 1), 30, "the delivery to fail")[0]
    assert delivery["status"] == "failed" and delivery["attempt"] == 1
    hook = backend[store.WEBHOOKS].find_one({"_id": hook_id})
    assert hook["enabled"] is False
    assert hook["disabled_reason"].startswith("deliveries have failed since") and "HTTP 503" in hook["disabled_reason"]


def test_filters_and_payload_template(api, api_server, backend, company, receiver, stack):
    template = '{"text": "queue ${data.name} (${type})", "raw": "${data}"}'
    hook_id, secret, path = _hook(backend, api_server, company, receiver, ["queue.created", "queue.deleted"],
                                  payload_template=template)
    other_id, _, other_path = _hook(backend, api_server, company, receiver, ["task.created"])
    name = unique("q")
    queue_id = api.ok("queues.create", name=name)["id"]
    api.ok("queues.delete", queue=queue_id)
    received = wait_for(lambda: (got := receiver.at(path)) and len(got) >= 2 and got, 30, "two deliveries")
    assert [verify(secret, r) for r in received] == [
        {"text": f"queue {name} (queue.created)", "raw": {"id": queue_id, "name": name}},
        {"text": f"queue {name} (queue.deleted)", "raw": {"id": queue_id, "name": name}},
    ]
    assert receiver.at(other_path) == []  # not subscribed to queue events


def test_a_webhook_made_through_the_api_delivers_signed_rotates_redelivers_and_tests(private_api, receiver, stack):
    path = "/" + unique("api-hook")
    made = private_api.ok("webhooks.create", name=unique("hook"), url=receiver.url(path), event_types=["queue.created"])
    name = unique("q")
    private_api.ok("queues.create", name=name)
    first = wait_for(lambda: receiver.at(path), 30, "the delivery")[0]
    assert verify(made["secret"], first)["data"]["name"] == name
    deliveries = wait_for(lambda: (got := private_api.ok("webhooks.get_deliveries", webhook=made["id"])["deliveries"])
                          and got[0]["status"] == "succeeded" and got, 10, "the delivery log")
    assert deliveries[0]["id"] == first.headers["webhook-id"] and deliveries[0]["attempts"][0]["status_code"] == 200

    new_secret = private_api.ok("webhooks.rotate_secret", webhook=made["id"])["secret"]
    private_api.ok("webhooks.redeliver", delivery=deliveries[0]["id"])
    again = wait_for(lambda: (got := receiver.at(path)) and len(got) >= 2 and got[1], 30, "the redelivery")
    assert again.headers["webhook-id"] == first.headers["webhook-id"]  # the same message, a new attempt
    assert len(again.headers["webhook-signature"].split()) == 2  # new and previous secret during rotation
    assert verify(new_secret, again) == verify(made["secret"], again)

    private_api.ok("webhooks.test", webhook=made["id"])
    test = wait_for(lambda: (got := receiver.at(path)) and len(got) >= 3 and got[2], 30, "the test delivery")
    assert verify(new_secret, test)["type"] == "webhook.test"


def test_a_private_target_is_refused_at_creation_without_allow_private_targets(api):
    reply = api.send("webhooks.create", {"name": unique("hook"), "url": "http://127.0.0.1:9/x",
                                         "event_types": ["queue.created"]})
    assert reply.status == 400 and "url" in reply.meta["result_msg"] and "loopback" in reply.meta["result_msg"]


def test_a_private_target_is_refused_when_sending_without_allow_private_targets(api_server, backend, company,
                                                                               receiver, redis_server, monkeypatch):
    """The worker's check on the connected address (in this process: the service's job with its setting off)."""
    from trackside.shared.config import load_config
    from trackside.webhooks import deliver, resources

    monkeypatch.setattr("os.environ", {**api_server.env, "CLEARML__SERVICES__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "false"})
    res = resources.build(load_config())
    assert res.settings.allow_private_targets is False
    hook_id, _, path = _hook(backend, api_server, company, receiver, ["queue.created"])
    delivery_id = store.new_delivery_id()
    now = datetime.now(timezone.utc)
    backend[store.DELIVERIES].insert_one({
        "_id": delivery_id, "company": company, "webhook": hook_id, "event_id": unique("e"),
        "event_type": "queue.created", "body": "{}", "status": "pending", "attempts": [], "attempt": 0,
        "next_attempt_at": now, "created": now, "last_update": now})
    previous = resources._resources
    resources.use(res)
    try:
        assert deliver.deliver(delivery_id) == "failed"
    finally:
        resources.use(previous)
    delivery = backend[store.DELIVERIES].find_one({"_id": delivery_id})
    assert "127.0.0.1, a loopback address" in delivery["attempts"][0]["error"]
    assert receiver.at(path) == []


def test_the_sweep_enqueues_a_lost_delivery_again_and_gives_up_on_one_that_keeps_dying(api_server, backend, stack,
                                                                                     monkeypatch):
    """Deliveries whose job vanished (overdue, nothing queued) are enqueued again; after MAX_SWEEPS, failed."""
    from trackside.shared.config import load_config
    from trackside.webhooks import resources, sweeper

    monkeypatch.setattr("os.environ", {**api_server.env, "CLEARML__SERVICES__WEBHOOKS__SWEEP_OVERDUE_SEC": "0"})
    res = resources.build(load_config())
    long_ago = datetime.now(timezone.utc) - timedelta(minutes=5)
    lost, dying = store.new_delivery_id(), store.new_delivery_id()
    for delivery_id, swept in ((lost, 0), (dying, sweeper.MAX_SWEEPS)):
        backend[store.DELIVERIES].insert_one({
            "_id": delivery_id, "company": "c", "webhook": unique("gone"), "event_id": unique("e"),
            "event_type": "queue.created", "body": "{}", "status": "pending", "attempts": [], "attempt": 0,
            "next_attempt_at": long_ago, "created": long_ago, "last_update": long_ago, "swept": swept})
    wait_for(lambda: sweeper.sweep(res) or backend[store.DELIVERIES].find_one({"_id": dying})["status"] == "failed",
             20, "a sweep with the workers idle")
    given_up = backend[store.DELIVERIES].find_one({"_id": dying})
    assert given_up["status"] == "failed" and given_up["attempts"][-1]["error"] == "its job failed again and again"
    # The other one's new job ran on the stack's workers: its webhook is gone, so it failed saying so.
    again = wait_for(lambda: (d := backend[store.DELIVERIES].find_one({"_id": lost}))["status"] == "failed" and d,
                     20, "the re-enqueued delivery to run")
    assert again["attempts"][-1]["error"] == "the webhook was deleted" and again["swept"] == 0


def test_server_side_ui_action_substitutes_id_and_secret(api_server, receiver, stack):
    client = redis_store.connect(_redis_settings(api_server))
    path = "/" + unique("action")
    action = {"method": "POST", "url": receiver.url(path + "/${id}"), "payload": '{"task": "${id}"}',
              "headers": {"Authorization": "Bearer ${secret.CI_TOKEN}", "Content-Type": "application/json"}}
    result = jobs.run_ui_action(client, action, "abc123", timeout=20)
    assert result["ok"] is True and result["status_code"] == 200 and result["error"] is None
    request = receiver.at(path + "/abc123")[0]
    assert request.headers["authorization"] == f"Bearer {UI_SECRET}" and request.json() == {"task": "abc123"}
    receiver.plan(path + "/bad", [500])
    failed = jobs.run_ui_action(client, {**action, "url": receiver.url(path + "/${id}")}, "bad", timeout=20)
    assert failed == {**failed, "ok": False, "status_code": 500, "error": "HTTP 500"}
    unknown = jobs.run_ui_action(client, {**action, "headers": {"X": "${secret.NOPE}"}}, "x", timeout=20)
    assert unknown["ok"] is False and "NOPE" in unknown["error"] and UI_SECRET not in str(unknown)


def _redis_settings(api_server) -> dict:
    env = api_server.env
    return {"host": env["CLEARML_REDIS_SERVICE_HOST"], "port": int(env["CLEARML_REDIS_SERVICE_PORT"]),
            "username": env["CLEARML__HOSTS__REDIS__APISERVER__USERNAME"].strip('"'),
            "password": env["CLEARML__HOSTS__REDIS__APISERVER__PASSWORD"].strip('"')}
