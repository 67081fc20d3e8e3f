"""Webhook deliveries under fire: while the API writes a stream of task status changes, an RQ worker is killed
with SIGKILL (mid-delivery: the receiver answers slowly), Redis restarts (no persistence: the stream, the
consumer group, the queued and scheduled jobs are gone) and the webhooks service is killed and started again.
Every status change must reach the receiver, and no change may arrive under two webhook-ids; the killed
worker's request arrives again under its webhook-id (at-least-once).

Recovery paths exercised: the service's own pending entries (re-read after its restart), the watchdog's replay
of status changes whose published marker is missing (Redis lost them), the unique (webhook, event_id) index
(the replay's duplicates insert nothing), and the service's sweep of open deliveries whose job was lost.

The quick version runs in ``make test``; ``TRACKSIDE_STRESS=full`` runs 300 tasks.
"""
from __future__ import annotations

import os
import threading
import time
from collections import defaultdict

import psutil
import pytest

from support.client import ApiClient
from support.dispatch import start_dispatch_stack
from support.names import unique
from support.users import company_of
from support.waiting import wait_for
from support.webhooks import Receiver, WebhooksStack, insert_webhook, verify
from trackside.shared.webhooks import store

FULL = os.environ.get("TRACKSIDE_STRESS") == "full"
TASKS = 300 if FULL else 30
STATUSES = ("in_progress", "completed")
# The watchdog replays unmarked status changes quickly (the API's defaults: every 60 s, 30 s grace).
FAST_REPLAY = {
    "CLEARML__SERVICES__WEBHOOKS__REPLAY_INTERVAL_SEC": "1",
    "CLEARML__SERVICES__WEBHOOKS__REPLAY_GRACE_SEC": "2",
}


@pytest.fixture(scope="module")
def stack(mongo_server, tmp_path_factory):
    stack = start_dispatch_stack(mongo_server.port, tmp_path_factory.mktemp("webhooks-stress"),
                                 extra_env=FAST_REPLAY)
    yield stack
    stack.stop()


def test_no_status_change_is_lost_or_duplicated_through_kills_and_a_redis_restart(stack, backend, tmp_path):
    api = ApiClient(stack.api.url, stack.api.key, stack.api.secret).login()
    receiver = Receiver().start()
    hooks = WebhooksStack(stack.api, tmp_path / "webhooks", workers=3).start()
    try:
        path = "/" + unique("stress")
        receiver.hold(path, 0.15)  # deliveries stay in flight a while: the kill catches one mid-request
        hook_id, secret = insert_webhook(backend, stack.api, company_of(api), receiver.url(path),
                                         ["task.status_changed"])
        project = api.ok("projects.create", name=unique("hooks-stress"), description="")["id"]
        tasks: list[str] = []
        disruptions = {TASKS // 4: "kill a worker", TASKS // 2: "restart redis", 3 * TASKS // 4: "restart service"}
        done = []

        def disrupt(what: str) -> None:
            if what == "kill a worker":
                hooks.kill_worker(_sending_worker(hooks, receiver))
                hooks.add_worker()
            elif what == "restart redis":
                stack.restart_redis(down_sec=1.0)
            else:
                hooks.service.proc.kill()  # no goodbye: what it read and did not acknowledge stays pending
                hooks.service.proc.wait(10)
                hooks.start_service()
            done.append(what)

        for number in range(TASKS):
            if number in disruptions:
                # In a thread: the API keeps writing while the disruption happens.
                threading.Thread(target=disrupt, args=(disruptions[number],), daemon=True).start()
            task = _call(api, "tasks.create", name=f"t{number}", type="training", project=project)["id"]
            tasks.append(task)
            _call(api, "tasks.started", task=task)
            _call(api, "tasks.completed", task=task, force=True)
        wait_for(lambda: len(done) == len(disruptions), 60, "the disruptions to finish")

        expected = {(task, status) for task in tasks for status in STATUSES}

        def arrived():
            got = {(r.json()["data"]["id"], r.json()["data"]["status"]) for r in receiver.at(path) if r.status == 200}
            return got >= expected

        wait_for(arrived, 120, f"all {len(expected)} status changes at the receiver", interval=0.5)
        ids_by_change = defaultdict(set)
        for request in receiver.at(path):
            body = verify(secret, request)
            ids_by_change[(body["data"]["id"], body["data"]["status"])].add(request.headers["webhook-id"])
        duplicated = {change: ids for change, ids in ids_by_change.items() if len(ids) > 1}
        assert not duplicated, f"changes delivered under several webhook-ids: {duplicated}"
        deliveries = list(backend[store.DELIVERIES].find({"webhook": hook_id}))
        assert len(deliveries) == len(expected)
        wait_for(lambda: backend[store.DELIVERIES].count_documents({"webhook": hook_id, "status": "succeeded"})
                 == len(expected), 30, "every delivery to be marked succeeded")
        requests = len(receiver.at(path))
        assert requests > len(expected), "the killed worker's delivery was not sent again"
        print(f"\nwebhooks stress: {len(expected)} status changes, {requests} requests "
              f"({requests - len(expected)} retries of one webhook-id), disruptions: {', '.join(done)}")
    except AssertionError:
        print(hooks.logs())
        raise
    finally:
        hooks.stop()
        receiver.stop()


def _sending_worker(hooks: WebhooksStack, receiver: Receiver) -> int:
    """The index of a worker with a request open to the receiver (the receiver holds each a while)."""
    port = int(receiver.base_url.rsplit(":", 1)[1])

    def sending():
        for index, worker in enumerate(hooks.worker_processes):
            try:
                connections = psutil.Process(worker.pid).net_connections("tcp") if worker.running() else []
            except psutil.Error:
                continue
            if any(c.raddr and c.raddr.port == port for c in connections):
                return str(index)
        return None

    return int(wait_for(sending, 30, "a worker in the middle of a delivery", interval=0.005))


def _call(api: ApiClient, endpoint: str, /, **data):
    """An API call that rides out the Redis restart (the API answers; a dispatch-side hiccup is retried)."""
    deadline = time.monotonic() + 30
    while True:
        reply = api.send(endpoint, data)
        if reply.status == 200 and reply.code == (200, 0):
            return reply.data
        if time.monotonic() > deadline:
            raise AssertionError(f"{endpoint}: {reply.body['meta']}")
        time.sleep(0.2)
