"""Worker liveness: a worker that stops reporting disappears after services.workers.default_worker_timeout_sec
(2 s for the API process started here), and a task whose worker is gone is stopped at once."""
from __future__ import annotations

import time

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_queue, get_task
from support.suite import start_api, stop_in_background

TIMEOUT_SEC = 2


@pytest.fixture(scope="module")
def fast_api(mongo_server, redis_server, tmp_path_factory) -> ApiClient:
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-fast-workers"), redis_port=redis_server.port,
                       extra_env={"CLEARML__SERVICES__WORKERS__DEFAULT_WORKER_TIMEOUT_SEC": str(TIMEOUT_SEC)})
    yield ApiClient(server.url, server.key, server.secret).login()
    stop_in_background(server.process)


def listed(api: ApiClient, **query) -> set[str]:
    return {w["id"] for w in api.ok("workers.get_all", **query)["workers"]}


def wait_until_gone(api: ApiClient, worker: str, while_waiting=lambda: None, limit: float = 8) -> float:
    started = time.monotonic()
    while worker in listed(api, last_seen=0):
        assert time.monotonic() - started < limit, f"{worker} still listed after {limit} s"
        while_waiting()
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_silent_worker_disappears_and_a_reporting_one_stays(fast_api):
    queue = create_queue(fast_api, unique("expiring"))
    silent, reporting, patient = unique("silent"), unique("reporting"), unique("patient")
    registered_at = time.monotonic()
    fast_api.ok("workers.register", worker=silent, queues=[queue])
    fast_api.ok("workers.register", worker=reporting, queues=[queue])
    fast_api.ok("workers.register", worker=patient, timeout=60)  # a worker may ask for a longer timeout
    timeouts = {w["id"]: w["register_timeout"] for w in fast_api.ok("workers.get_all")["workers"]}
    assert (timeouts[silent], timeouts[patient]) == (TIMEOUT_SEC, 60)

    def report():
        fast_api.ok("workers.status_report", worker=reporting, timestamp=int(time.time() * 1000))

    wait_until_gone(fast_api, silent, while_waiting=report)
    assert time.monotonic() - registered_at >= TIMEOUT_SEC - 0.1
    assert {reporting, patient} <= listed(fast_api, last_seen=0)
    # The queue is still watched by the reporting worker, and no longer once it falls silent too.
    task_id = fast_api.ok("tasks.create", name=unique("t"), type="training")["id"]
    assert fast_api.ok("tasks.enqueue", task=task_id, queue=queue, verify_watched_queue=True)["queue_watched"]
    wait_until_gone(fast_api, reporting)
    fast_api.ok("tasks.dequeue", task=task_id)
    assert not fast_api.ok("tasks.enqueue", task=task_id, queue=queue, verify_watched_queue=True)["queue_watched"]
    # last_seen filters on the last activity: the patient worker has been quiet for over a second.
    assert patient not in listed(fast_api, last_seen=1) and patient in listed(fast_api, last_seen=0)


def test_stop_a_task_whose_worker_is_gone_stops_it_now(fast_api):
    task_id = fast_api.ok("tasks.create", name=unique("orphan"), type="training")["id"]
    fast_api.ok("tasks.started", task=task_id)
    worker = unique("vm")
    fast_api.ok("workers.status_report", worker=worker, timestamp=int(time.time() * 1000), task=task_id)
    wait_until_gone(fast_api, worker)
    reply = fast_api.ok("tasks.stop", task=task_id)
    assert reply["fields"]["status"] == "stopped"
    assert get_task(fast_api, task_id)["status_message"] == "Stopped by Test User"
