"""Dispatch by subscription on a real stack (Valkey with ACL users, API, watchdog): subscribing, claims with
priority, fairness and gating, leases, moves while queued, and the Redis ACL an agent gets."""
from __future__ import annotations

import time

import pytest
import redis

from support.client import ApiClient
from support.dispatch import SubscriberThread, start_dispatch_stack
from support.names import unique
from support.objects import create_queue, get_task
from support.waiting import wait_for
from trackside.shared.dispatch.client import ApiError
from trackside.shared.dispatch.keys import stream_key
from trackside.shared.dispatch.subscriber import LeaseLost

MISSING = "f" * 32


@pytest.fixture(scope="module")
def stack(mongo_server, tmp_path_factory):
    stack = start_dispatch_stack(mongo_server.port, tmp_path_factory.mktemp("dispatch"))
    yield stack
    stack.stop()


@pytest.fixture
def api(stack) -> ApiClient:
    return ApiClient(stack.api.url, stack.api.key, stack.api.secret).login()


@pytest.fixture(scope="module")
def quiet_stack(mongo_server, tmp_path_factory):
    """No watchdog: for tests that count tokens, which its reconcile adds and trims every 0.5 s."""
    stack = start_dispatch_stack(mongo_server.port, tmp_path_factory.mktemp("dispatch-quiet"), watchdog=False)
    yield stack
    stack.stop()


@pytest.fixture
def company(api) -> str:
    return api.ok("users.get_current_user")["user"]["company"]["id"]


def new_task(api) -> str:
    return api.ok("tasks.create", name=unique("task"), type="training")["id"]


def enqueue(api, queue: str, count: int = 1) -> list[str]:
    tasks = [new_task(api) for _ in range(count)]
    for task in tasks:
        api.ok("tasks.enqueue", task=task, queue=queue)
    return tasks


def claim(api, queues: list[str], worker: str = "w", **extra) -> dict:
    return api.ok("dispatch.claim", worker=worker, queues=queues, **extra)


# -- subscribing ---------------------------------------------------------------------------------------------
def test_subscribe_hands_out_the_agent_user_and_one_stream_per_queue(api, company):
    first, second = create_queue(api, unique("q")), create_queue(api, unique("q"))
    reply = api.ok("dispatch.subscribe", worker="w", queues=[first, second])
    assert reply["group"] == "agents" and reply["block_ms"] == 1000 and reply["lease_sec"] == 2
    assert reply["streams"] == [{"queue": q, "stream": stream_key(company, q)} for q in (first, second)]
    assert reply["redis"]["username"] == "trackside-agent" and reply["redis"]["password"]
    api.error("dispatch.subscribe", (400, 701), worker="w", queues=[first, MISSING])
    assert "queues" in api.error("dispatch.subscribe", (400, 11), worker="w").meta["result_msg"]
    api.error("dispatch.subscribe", (400, 12), worker="w", queues=[])
    api.error("dispatch.subscribe", (400, 12), worker="", queues=[first])


def test_the_agent_user_can_only_subscribe(stack, api, company):
    queue = create_queue(api, unique("acl"))
    params = api.ok("dispatch.subscribe", worker="w", queues=[queue])
    creds = params["redis"]
    agent = redis.Redis(host=creds["host"], port=creds["port"], username=creds["username"],
                        password=creds["password"], decode_responses=True)
    key = params["streams"][0]["stream"]
    assert agent.ping()
    try:
        agent.xgroup_create(key, "agents", id="0", mkstream=True)
    except redis.ResponseError as exc:
        assert "BUSYGROUP" in str(exc)
    agent.xreadgroup("agents", "c", {key: ">"}, count=1, block=10)
    for forbidden in (lambda: agent.xadd(key, {"queue": queue}), lambda: agent.get("trackside:locks:watchdog"),
                      lambda: agent.xreadgroup("agents", "c", {"other:key": ">"}, count=1),
                      lambda: agent.flushall(), lambda: agent.keys("*"), lambda: agent.publish("ch", "x")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()
    anonymous = redis.Redis(host=creds["host"], port=creds["port"])
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        anonymous.ping()


def test_dispatch_endpoints_need_a_token(stack):
    anon = ApiClient(stack.api.url)
    for name in ("dispatch.subscribe", "dispatch.claim", "dispatch.start", "dispatch.release"):
        reply = anon.send(name, {"worker": "w", "queues": ["q"], "task": "t", "lease": "l"})
        assert reply.code == (401, 20) and reply.data == {}


def test_claim_and_start_bad_input(api):
    queue = create_queue(api, unique("q"))
    api.error("dispatch.claim", (400, 701), worker="w", queues=[MISSING])
    api.error("dispatch.claim", (400, 12), worker="w", queues=queue)
    api.error("dispatch.claim", (400, 12), worker="w", queues=[queue], schedule_active="sometimes")
    assert "worker" in api.error("dispatch.claim", (400, 11), queues=[queue]).meta["result_msg"]
    assert "lease" in api.error("dispatch.start", (400, 11), task="t").meta["result_msg"]
    api.error("dispatch.start", (400, 121), task=MISSING, lease=MISSING)
    api.error("dispatch.release", (400, 121), task=MISSING, lease=MISSING)


# -- the path of a task --------------------------------------------------------------------------------------
def test_an_idle_subscriber_gets_an_enqueued_task_at_once(stack, api):
    queue = create_queue(api, unique("fast"))
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        assert worker.nothing_within(0.3)
        sent = time.monotonic()
        [task] = enqueue(api, queue)
        claimed = worker.next(timeout=5)
        assert claimed.task == task and claimed.queue == queue and claimed.lease
        assert time.monotonic() - sent < 2.0  # milliseconds in practice; bench_dispatch measures it
        assert get_task(api, task)["status"] == "queued"  # until the agent starts it
        started = worker.subscriber.start(claimed, status_message="started by test")
        assert started["started"] == 1 and get_task(api, task)["status"] == "in_progress"
        with pytest.raises(LeaseLost):
            worker.subscriber.start(claimed)  # a lease serves one start
    finally:
        worker.stop()


def test_a_subscriber_drains_what_was_queued_before_it_came(stack, api):
    queue = create_queue(api, unique("drain"))
    tasks = enqueue(api, queue, 3)
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        assert [worker.next().task for _ in tasks] == tasks
    finally:
        worker.stop()


def test_a_queue_filter_holds_back_a_queue_until_wake(stack, api):
    """What dynamic GPUs and schedules rely on: a queue the worker cannot serve now is not claimed from, and
    ``wake()`` claims it the moment it can, although its token was answered long ago."""
    open_queue, held_queue = create_queue(api, unique("open")), create_queue(api, unique("held"))
    allowed = {open_queue}
    worker = SubscriberThread(stack, unique("agent"), [held_queue, open_queue],
                              queue_filter=lambda queues: [q for q in queues if q in allowed])
    try:
        [held] = enqueue(api, held_queue)
        [ready] = enqueue(api, open_queue)
        assert worker.next(timeout=5).task == ready
        assert worker.nothing_within(0.5)
        allowed.add(held_queue)
        worker.subscriber.wake()
        assert worker.next(timeout=5).task == held  # within one block_ms (1 s here), not the 60 s idle claim
    finally:
        worker.stop()


def test_a_worker_out_of_hours_takes_work_once_forced_on(stack, api):
    queue = create_queue(api, unique("hours"))
    name = unique("agent")
    worker = SubscriberThread(stack, name, [queue], schedule_active=lambda: False)
    try:
        api.ok("workers.register", worker=name, queues=[queue])
        [task] = enqueue(api, queue)
        assert worker.nothing_within(1.0)
        api.ok("workers.set_runtime_properties", worker=name, runtime_properties=[{"key": "force", "value": "on"}])
        assert worker.next(timeout=5).task == task  # the property nudges the queue: no restart, no polling
    finally:
        worker.stop()


def test_strict_priority_across_queues(api):
    high, low = create_queue(api, unique("high")), create_queue(api, unique("low"))
    low_tasks = enqueue(api, low, 2)
    high_tasks = enqueue(api, high, 2)
    order = [claim(api, [high, low])["entry"]["task"] for _ in range(4)]
    assert order == high_tasks + low_tasks
    assert claim(api, [high, low]) == {}


def test_order_fairness_rotates_between_queues(stack, api):
    first, second = create_queue(api, unique("a")), create_queue(api, unique("b"))
    a_tasks, b_tasks = enqueue(api, first, 3), enqueue(api, second, 3)
    fair = SubscriberThread(stack, unique("fair"), [first, second], order_fairness=True)
    try:
        got = [fair.next().task for _ in range(6)]
    finally:
        fair.stop()
    assert got == [a_tasks[0], b_tasks[0], a_tasks[1], b_tasks[1], a_tasks[2], b_tasks[2]]


def test_tokens_for_queues_not_taken_from_are_handed_on(quiet_stack):
    api = ApiClient(quiet_stack.api.url, quiet_stack.api.key, quiet_stack.api.secret).login()
    company = api.ok("users.get_current_user")["user"]["company"]["id"]
    stack = quiet_stack
    high, low = create_queue(api, unique("high")), create_queue(api, unique("low"))
    api.ok("dispatch.subscribe", worker="w", queues=[high, low])
    admin = stack.admin()
    enqueue(api, low)
    [urgent] = enqueue(api, high)
    low_key = stream_key(company, low)
    before = admin.xlen(low_key)
    # Woken by the low queue's token, the agent takes the high queue's task: low's wake-up goes to another.
    assert claim(api, [high, low], tokens=[low])["entry"]["task"] == urgent
    assert admin.xlen(low_key) == before + 1


def test_moves_removals_and_stops_while_queued_are_never_undone(stack, api):
    queue = create_queue(api, unique("moves"))
    first, second, third, fourth = enqueue(api, queue, 4)  # four tokens now wait in the stream
    api.ok("queues.move_task_to_front", queue=queue, task=third)
    api.ok("queues.remove_task", queue=queue, task=first, update_task_status=True)
    api.ok("tasks.stop", task=second)
    worker = SubscriberThread(stack, unique("agent"), [queue])
    try:
        assert [worker.next().task for _ in range(2)] == [third, fourth]
        assert worker.nothing_within(1.0)  # the extra tokens found nothing
    finally:
        worker.stop()
    assert get_task(api, first)["status"] == "created" and get_task(api, second)["status"] == "stopped"


# -- gating --------------------------------------------------------------------------------------------------
def test_gating_precedence_queue_tag_then_runtime_property_then_schedule(api):
    queue = create_queue(api, unique("gated"))
    worker = unique("gated-agent")
    enqueue(api, queue)

    def takes(schedule_active: bool) -> bool:
        reply = claim(api, [queue], worker=worker, schedule_active=schedule_active)
        if reply:  # put it back for the next question
            api.ok("dispatch.release", task=reply["entry"]["task"], lease=reply["lease"]["id"])
        return bool(reply)

    def runtime_force(value: str | None) -> None:
        api.ok("workers.set_runtime_properties", worker=worker,
               runtime_properties=[{"key": "force", "value": value or "", "expiry": 0 if value is None else 3600}])

    assert takes(True) and not takes(False)  # only the schedule
    runtime_force("on")
    assert takes(False)
    runtime_force("OFF")
    assert not takes(True)
    api.ok("queues.update", queue=queue, tags=["force_workers:on"])
    assert takes(False)  # the queue tag beats the property
    api.ok("queues.update", queue=queue, tags=["force_workers:off", "force_workers:on"])
    runtime_force("on")
    assert not takes(True)  # off wins
    api.ok("queues.update", queue=queue, tags=[])
    runtime_force(None)
    assert takes(True) and not takes(False)


def test_a_runtime_property_stops_gating_when_it_expires(api):
    queue = create_queue(api, unique("expiring"))
    worker = unique("expiring-agent")
    [task] = enqueue(api, queue)
    api.ok("workers.set_runtime_properties", worker=worker,
           runtime_properties=[{"key": "force", "value": "off", "expiry": 1}])
    assert claim(api, [queue], worker=worker) == {}
    time.sleep(1.5)
    assert claim(api, [queue], worker=worker)["entry"]["task"] == task


# -- leases --------------------------------------------------------------------------------------------------
def test_an_unstarted_claim_goes_back_to_the_head_after_its_lease(api):
    queue = create_queue(api, unique("lease"))
    first, second = enqueue(api, queue, 2)
    lost = claim(api, [queue], worker="crashed")
    assert lost["entry"]["task"] == first
    assert api.ok("queues.peek_task", queue=queue)["task"] == second
    # lease 2 s + reconcile every 0.5 s (the watchdog): back at the head, ahead of the second task.
    wait_for(lambda: api.ok("queues.peek_task", queue=queue)["task"] == first, timeout=8)
    api.error("dispatch.start", (400, 121), task=first, lease=lost["lease"]["id"])
    again = claim(api, [queue], worker="healthy")
    assert again["entry"]["task"] == first
    assert api.ok("dispatch.start", task=first, lease=again["lease"]["id"])["started"] == 1
    assert get_task(api, first)["status"] == "in_progress"


def test_stopping_dequeueing_resetting_or_starting_clears_the_lease(api):
    ways = ("tasks.dequeue", "tasks.stop", "tasks.reset", "tasks.started")
    claims = {}
    for how in ways:
        queue = create_queue(api, unique("cleared"))
        [task] = enqueue(api, queue)
        claims[how] = (queue, task, claim(api, [queue])["lease"]["id"])
        api.ok(how, task=task, **({"force": True} if how != "tasks.dequeue" else {}))
    time.sleep(3.0)  # past the 2 s lease and a reconcile pass: nothing comes back
    for how, (queue, task, lease) in claims.items():
        api.error("dispatch.start", (400, 121), task=task, lease=lease)
        assert api.ok("queues.get_num_entries", queue=queue)["num"] == 0, how


def test_release_puts_the_task_back_at_the_head(api):
    queue = create_queue(api, unique("release"))
    first, second = enqueue(api, queue, 2)
    reply = claim(api, [queue])
    assert api.ok("dispatch.release", task=first, lease=reply["lease"]["id"]) == {"released": 1}
    assert api.ok("queues.peek_task", queue=queue)["task"] == first
    api.error("dispatch.release", (400, 121), task=first, lease=reply["lease"]["id"])
    del second


def test_reenqueue_of_a_claimed_task_supersedes_the_claim(api):
    queue, other = create_queue(api, unique("q")), create_queue(api, unique("q"))
    [task] = enqueue(api, queue)
    lease = claim(api, [queue])["lease"]["id"]
    api.ok("tasks.enqueue", task=task, queue=other)
    api.error("dispatch.start", (400, 121), task=task, lease=lease)
    assert claim(api, [other])["entry"]["task"] == task


def test_the_rest_claim_of_the_stock_agent_is_leased_too(api):
    queue = create_queue(api, unique("rest"))
    [task] = enqueue(api, queue)
    assert api.ok("queues.get_next_task", queue=queue)["entry"]["task"] == task
    # The stock agent died before tasks.started: the task comes back.
    wait_for(lambda: api.ok("queues.peek_task", queue=queue)["task"] == task, timeout=8)
    assert api.ok("queues.get_next_task", queue=queue)["entry"]["task"] == task
    api.ok("tasks.started", task=task, force=True)
    time.sleep(3.0)
    assert api.ok("queues.get_num_entries", queue=queue)["num"] == 0


def test_subscriber_errors_surface_as_api_errors(stack):
    session = stack.session()
    with pytest.raises(ApiError) as caught:
        session.call("dispatch.claim", {"worker": "w", "queues": [MISSING]})
    assert (caught.value.code, caught.value.subcode) == (400, 701)
