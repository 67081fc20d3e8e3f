"""Redis (Valkey) killed with SIGKILL under load and started again on the same port, at the API's level:
clients enqueue tasks and a stock-agent-style claimer takes them through REST (``queues.get_next_task``)
the whole time, each call sent once. During the outage the API keeps answering (queue entries live in
MongoDB; Redis only wakes subscribed agents): enqueues and claims succeed or answer 503, never a 500 or a
hang, and sign-in goes on. After it, every acknowledged enqueue is claimed exactly once, and the sign-in
throttle (429) and key revocation work again, in the same API process.

Subscribed agents (``dispatch.claim``) across a Redis restart are proven by tests/stress/test_dispatch_stress.py.
The quick version runs in ``make test``; ``make stress-faults`` (TRACKSIDE_STRESS=full) runs the full one.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter

import pytest

from support.client import ApiClient
from support.faults import Outcomes
from support.names import unique
from support.objects import create_queue
from support.suite import start_api, start_redis
from support.waiting import wait_for

FULL = os.environ.get("TRACKSIDE_STRESS") == "full"
SIZE = dict(tasks=400, restarts=3, before=2.0, down=3.0) if FULL else dict(tasks=60, restarts=1, before=1.0, down=1.5)
REFRESH_SEC = 1
SERVER_ENV = {
    "CLEARML__APISERVER__AUTH__REVOCATION_REFRESH_SEC": str(REFRESH_SEC),
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_KEY_AND_ADDRESS": "3",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__LOCK_SEC": "30",
}
PROMPT_SEC = 5.0  # the slowest answer allowed while Redis is down (its clients time out in 1-2 s)


@pytest.fixture
def stack(mongo_server, tmp_path):
    """A Valkey and an API of this test's own."""
    redis_server = start_redis(tmp_path / "redis")
    api = start_api(mongo_server.port, tmp_path / "api", redis_port=redis_server.port, extra_env=SERVER_ENV)
    yield redis_server, api
    api.process.stop()
    redis_server.stop()


def _client(server, token: str) -> ApiClient:
    client = ApiClient(server.url)
    client.token = token
    return client


def test_enqueues_claims_and_sign_in_across_a_redis_restart(stack):
    redis_server, server = stack
    api = ApiClient(server.url, server.key, server.secret).login()
    queue = create_queue(api, unique("faults-redis"))
    tasks = [api.ok("tasks.create", name=unique("faults-redis"), type="training")["id"] for _ in range(SIZE["tasks"])]
    phase = {"now": "before"}
    outcomes = {name: Outcomes() for name in ("before", "during", "after")}
    acked, claimed = [], Counter()
    done = threading.Event()

    def enqueue() -> None:
        client = _client(server, api.token)
        for task in tasks:
            resp = outcomes[phase["now"]].call(client, "tasks.enqueue", {"task": task, "queue": queue})
            if resp is not None and resp.status_code == 200:
                acked.append(task)
            time.sleep(SIZE["before"] * SIZE["restarts"] * 2 / SIZE["tasks"])  # spread over the restarts
        done.set()

    def claim() -> None:
        client = _client(server, api.token)
        while True:
            resp = outcomes[phase["now"]].call(client, "queues.get_next_task", {"queue": queue})
            entry = resp.json()["data"].get("entry") if resp is not None and resp.status_code == 200 else None
            if entry:
                claimed[entry["task"]] += 1
            elif done.is_set() and resp is not None and resp.status_code == 200:
                return  # the queue is empty and nothing more comes
            else:
                time.sleep(0.05)

    threads = [threading.Thread(target=enqueue, daemon=True), threading.Thread(target=claim, daemon=True)]
    for thread in threads:
        thread.start()
    signin, recoveries = Counter(), []
    for _ in range(SIZE["restarts"]):
        time.sleep(SIZE["before"])
        phase["now"] = "during"
        redis_server.proc.send_signal(signal.SIGKILL)
        redis_server.proc.wait(10)
        deadline = time.monotonic() + SIZE["down"]
        while time.monotonic() < deadline:  # sign-in and a token's checks go on without Redis
            signin[ApiClient(server.url, server.key, server.secret).send(
                "auth.login", auth=(server.key, server.secret), version=None).status] += 1
            signin[_client(server, api.token).send("users.get_current_user", {}).status] += 1
        served = outcomes["after"].counts["ok"]
        redis_server.start(timeout=30)
        back = time.monotonic()
        phase["now"] = "after"
        wait_for(lambda: outcomes["after"].counts["ok"] > served, timeout=30, what="calls to succeed again")
        recoveries.append(round(time.monotonic() - back, 2))
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)

    throttled = _throttle_locks(server)
    revoked_in = _revocation_seconds(server, api)
    report = {"tasks": len(tasks), "restarts": SIZE["restarts"], "down_sec": SIZE["down"],
              "acked_enqueues": len(acked), "claimed": len(claimed),
              **{phase: dict(o.counts) for phase, o in outcomes.items()},
              "slowest_during": outcomes["during"].slowest, "signin_during": dict(signin),
              "recovery_sec": recoveries, "throttled_after_failures": throttled, "revoked_within_sec": revoked_in}
    print("\nredis restart:", json.dumps(report))
    assert set(acked) <= set(claimed) and max(claimed.values()) == 1  # none lost, none handed out twice
    assert set(claimed) <= set(tasks)
    for phase, seen in outcomes.items():
        assert set(seen.counts) <= {"ok", "HTTP 503"}, (phase, seen.counts)
    assert max(outcomes["during"].slowest.values()) < PROMPT_SEC
    assert set(signin) == {200}
    assert throttled <= 6  # 3 per key and address; each worker counts in memory while it backs off Redis
    assert revoked_in <= REFRESH_SEC + 2


def _throttle_locks(server) -> int:
    """Failed sign-ins of a new key from one address until the throttle answers 429 with Retry-After."""
    admin = ApiClient(server.url, server.key, server.secret).login()
    created = admin.ok("auth.create_credentials", label=unique("faults"))["credentials"]
    address = "203.0.113.18"
    for failures in range(1, 20):
        reply = admin.send("auth.login", None, version=None, auth=(created["access_key"], "wrong"),
                           headers={"X-Forwarded-For": address})
        if reply.code == (429, 1):
            return failures - 1
        assert reply.code == (401, 22), reply.body
    raise AssertionError("20 failed sign-ins and no 429")


def _revocation_seconds(server, api: ApiClient) -> float:
    """Seconds from auth.revoke_credentials until a token of that key is refused."""
    created = api.ok("auth.create_credentials", label=unique("faults"))["credentials"]
    keyed = ApiClient(server.url, created["access_key"], created["secret_key"]).login()
    assert keyed.send("users.get_current_user", {}).code == (200, 0)
    api.ok("auth.revoke_credentials", access_key=created["access_key"])
    revoked = time.monotonic()
    wait_for(lambda: keyed.send("users.get_current_user", {}).code == (401, 30), timeout=REFRESH_SEC + 10,
             what="the revoked key's token to be refused")
    return round(time.monotonic() - revoked, 2)
