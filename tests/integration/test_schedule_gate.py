"""Working hours on the server: when a claim gate opens (a worker's ``force`` property, a queue's
``force_workers`` tag), the worker it opened for takes the waiting task at once, even among other
subscribers of the queue that are still gated. The session API runs no watchdog, so nothing here is rescued
by a reconcile pass: the wake-up comes from the change itself."""
from __future__ import annotations

import queue
import threading
import time

import pytest

from support.names import unique
from support.objects import create_queue
from support.suite import redis_admin
from support.waiting import wait_for
from trackside.shared.dispatch.client import ApiSession
from trackside.shared.dispatch.keys import GROUP, stream_key
from trackside.shared.dispatch.subscriber import ClaimedTask, Subscriber

GATED_WORKERS = 4


class GatedWorker:
    """A registered worker out of its working hours, subscribed in a thread; claims arrive on ``claimed``."""

    def __init__(self, api_server, api, queue_id: str):
        self.name = unique("gated")
        api.ok("workers.register", worker=self.name, queues=[queue_id])
        self.session = ApiSession(api_server.url, api_server.key, api_server.secret)
        self.subscriber = Subscriber(self.session.call, self.name, [queue_id], schedule_active=lambda: False)
        self.claimed: "queue.Queue[ClaimedTask]" = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for claimed in self.subscriber.claims():
            self.claimed.put(claimed)

    def join(self) -> None:
        self.thread.join(15)
        self.session.close()


@pytest.fixture
def gated(api_server, redis_server, api):
    """A queue with one task waiting and several gated workers blocked on it."""
    queue_id = create_queue(api, unique("gate"))
    company = api.ok("users.get_current_user")["user"]["company"]["id"]
    workers = [GatedWorker(api_server, api, queue_id) for _ in range(GATED_WORKERS)]
    admin = redis_admin(redis_server.port)
    try:
        key = stream_key(company, queue_id)
        wait_for(lambda: admin.exists(key) and len(admin.xinfo_consumers(key, GROUP)) == GATED_WORKERS)
        task = api.ok("tasks.create", name=unique("waits"), type="training")["id"]
        api.ok("tasks.enqueue", task=task, queue=queue_id)
        time.sleep(0.5)  # the enqueue's token reached some gated worker, which took nothing
        assert all(w.claimed.empty() for w in workers)
        yield queue_id, task, workers
    finally:
        for worker in workers:  # closing the connection ends a blocked read now, not after block_ms
            worker.subscriber.close()
        for worker in workers:
            worker.join()
        admin.close()


def test_forcing_one_worker_on_wakes_that_worker(api, gated):
    queue_id, task, workers = gated
    chosen = workers[-1]
    api.ok("workers.set_runtime_properties", worker=chosen.name,
           runtime_properties=[{"key": "force", "value": "on", "expiry": 600}])
    assert chosen.claimed.get(timeout=3).task == task
    assert all(w.claimed.empty() for w in workers[:-1])


def test_a_force_workers_on_tag_wakes_a_worker(api, gated):
    queue_id, task, workers = gated
    api.ok("queues.update", queue=queue_id, tags=["force_workers:on"])
    deadline = time.monotonic() + 3
    taken = []
    while not taken and time.monotonic() < deadline:
        taken = [w.claimed.get_nowait().task for w in workers if not w.claimed.empty()]
        time.sleep(0.05)
    assert taken == [task]
