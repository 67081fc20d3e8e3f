"""Dispatch survives Redis: a FLUSHALL, a restart (with enqueues while it is down), lost tokens and consumers
that die holding one. MongoDB is the record; subscribers drain on reconnect and the watchdog tops up."""
from __future__ import annotations

import time

import pytest
import redis

from support.client import ApiClient
from support.dispatch import SubscriberThread, start_dispatch_stack
from support.names import unique
from support.objects import create_queue
from support.suite import REDIS_SERVER_USER
from trackside.shared.dispatch.acl import accepts_anonymous, check_production_redis
from trackside.shared.dispatch.keys import WATCHDOG_LOCK, stream_key
from trackside.shared.embedded.servers import valkey_server
from trackside.shared.timeutil import utcnow
from trackside.watchdog.lock import RedisLock


@pytest.fixture(scope="module")
def stack(mongo_server, tmp_path_factory):
    stack = start_dispatch_stack(mongo_server.port, tmp_path_factory.mktemp("dispatch-recovery"))
    yield stack
    stack.stop()


@pytest.fixture
def api(stack) -> ApiClient:
    return ApiClient(stack.api.url, stack.api.key, stack.api.secret).login()


def enqueue(api, queue: str, count: int = 1) -> list[str]:
    tasks = [api.ok("tasks.create", name=unique("task"), type="training")["id"] for _ in range(count)]
    for task in tasks:
        api.ok("tasks.enqueue", task=task, queue=queue)
    return tasks


def test_flushall_loses_no_task(stack, api):
    queue = create_queue(api, unique("flushed"))
    waiting = enqueue(api, queue, 2)  # queued with nobody subscribed: only tokens in Redis
    stack.admin().flushall()
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        assert {worker.next().task for _ in waiting} == set(waiting)  # drained from MongoDB
        stack.admin().flushall()  # now while it is blocked on its streams
        [later] = enqueue(api, queue)
        assert worker.next(timeout=10).task == later
    finally:
        worker.stop()


def test_redis_restart_with_enqueues_while_it_is_down(stack, api):
    queue = create_queue(api, unique("restarted"))
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        assert worker.nothing_within(0.3)
        stack.redis.stop()
        [during] = enqueue(api, queue)  # Redis is down: the enqueue still succeeds
        time.sleep(0.5)
        stack.redis.start(timeout=30)
        assert worker.next(timeout=15).task == during
        [after] = enqueue(api, queue)
        assert worker.next(timeout=10).task == after
    finally:
        worker.stop()


def test_the_watchdog_tops_up_a_lost_token(stack, api, backend):
    queue = create_queue(api, unique("lost"))
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        assert worker.nothing_within(0.5)
        # An entry written without its token (as when an enqueue found Redis down and nobody reconnected).
        task = api.ok("tasks.create", name=unique("task"), type="training")["id"]
        backend["tasks"].update_one({"_id": task}, {"$set": {"status": "queued", "execution.queue": queue}})
        backend["queues"].update_one({"_id": queue}, {"$push": {"entries": {"task": task, "added": utcnow()}}})
        assert worker.next(timeout=10).task == task  # woken by the reconcile's token, not by a drain
    finally:
        worker.stop()


def test_a_consumer_that_dies_holding_a_token_is_dropped_and_its_token_reissued(stack, api):
    queue = create_queue(api, unique("dead"))
    params = api.ok("dispatch.subscribe", worker="ghost", queues=[queue])
    creds, key = params["redis"], params["streams"][0]["stream"]
    ghost = redis.Redis(host=creds["host"], port=creds["port"], username=creds["username"],
                        password=creds["password"], decode_responses=True)
    try:
        ghost.xgroup_create(key, "agents", id="0", mkstream=True)
    except redis.ResponseError:
        pass
    ghost.xreadgroup("agents", "ghost:1", {key: ">"}, count=1, block=10)  # registers, reads nothing
    [task] = enqueue(api, queue)
    assert ghost.xreadgroup("agents", "ghost:1", {key: ">"}, count=1, block=1000)  # takes the token, dies
    admin = stack.admin()
    # consumer_timeout_sec is 3: the watchdog drops the ghost; a live subscriber then claims the task.
    deadline = time.monotonic() + 15
    while any(c["name"] == "ghost:1" for c in admin.xinfo_consumers(key, "agents")):
        assert time.monotonic() < deadline, "dead consumer never dropped"
        time.sleep(0.2)
    worker = SubscriberThread(stack, unique("agent"), [queue], idle_claim_sec=3600)
    try:
        assert worker.next(timeout=10).task == task
    finally:
        worker.stop()
        ghost.close()


def test_streams_are_trimmed_and_groups_recreated(stack, api):
    queue = create_queue(api, unique("trim"))
    company = api.ok("users.get_current_user")["user"]["company"]["id"]
    key = stream_key(company, queue)
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        enqueue(api, queue, 3)
        for _ in range(3):
            worker.next()
    finally:
        worker.stop()
    admin = stack.admin()
    deadline = time.monotonic() + 10
    while admin.xlen(key) > 0:  # acknowledged tokens are trimmed by the reconcile
        assert time.monotonic() < deadline, f"stream still holds {admin.xlen(key)} tokens"
        time.sleep(0.2)
    admin.delete(key)
    deadline = time.monotonic() + 10
    while not admin.exists(key):  # the reconcile recreates the stream and its group
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert [g["name"] for g in admin.xinfo_groups(key)] == ["agents"]


def test_watchdog_lock_is_held_by_one_process(stack):
    admin = stack.admin()
    assert admin.get(WATCHDOG_LOCK)  # the stack's watchdog holds it
    client = redis.Redis(port=stack.redis.port, username=REDIS_SERVER_USER.name, password=REDIS_SERVER_USER.password)
    key = unique("trackside:locks:test")
    first, second = RedisLock(client, key, ttl_ms=300), RedisLock(client, key, ttl_ms=300)
    assert first.hold() and not second.hold()
    assert first.hold()  # renewed
    first.release()
    assert second.hold() and not first.hold()
    time.sleep(0.4)  # second stops renewing: its lock expires and another takes over
    assert first.hold()


def test_redis_credentials_are_required(stack, tmp_path):
    assert accepts_anonymous("127.0.0.1", stack.redis.port) is False
    open_server = valkey_server(tmp_path / "open", persistent=False).start(timeout=30)
    try:
        assert accepts_anonymous("127.0.0.1", open_server.port) is True
        assert check_production_redis("127.0.0.1", open_server.port) is None  # loopback: a developer's own
    finally:
        open_server.stop()
    assert accepts_anonymous("127.0.0.1", open_server.port) is None  # not reachable
