"""The watchdog's task jobs on a real stack (Mongo-wire server, Valkey, API, a ``trackside-watchdog`` process
with short intervals): non-responsive in-progress tasks are stopped unless something vouches for them, and a
task left ``queued`` in no queue goes back to its queue. The stack has a database of its own, so its short
threshold never touches other modules' tasks."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from support.client import ApiClient
from support.dispatch import start_dispatch_stack
from support.names import unique
from support.objects import create_queue, get_task
from support.suite import REDIS_SERVER_USER
from support.waiting import wait_for
from trackside.shared.config import ConfigError
from trackside.shared.dispatch.reconcile import PassReport, Reconciler
from trackside.shared.dispatch.settings import DispatchSettings
from trackside.shared.ids import new_id
from trackside.shared.storage import mongo, redis as redis_store
from trackside.shared.timeutil import utcnow
from trackside.watchdog.non_responsive import FORCED_STOP, NonResponsiveTasks, Settings

DB = "watchdog_backend"
THRESHOLD_SEC = 60
WATCHDOG_ENV = {
    "CLEARML__SERVICES__TASKS__NON_RESPONSIVE_TASKS_WATCHDOG__THRESHOLD_SEC": str(THRESHOLD_SEC),
    "CLEARML__SERVICES__TASKS__NON_RESPONSIVE_TASKS_WATCHDOG__WATCH_INTERVAL_SEC": "0.3",
    # Each job's result is logged at debug: the tests count passes in the watchdog's log.
    "CLEARML__LOGGING__ROOT__LEVEL": '"DEBUG"',
    "CLEARML__LOGGING__HANDLERS__CONSOLE__LEVEL": '"DEBUG"',
}
LONG_AGO = timedelta(hours=3)
DISABLED_PASS = "non-responsive tasks: PassReport(stale=0, vouched=0, stopped=[], reported_in=0, skipped='disabled')"


@pytest.fixture(scope="module")
def stack(mongo_server, tmp_path_factory):
    db_uri = f'"mongodb://127.0.0.1:{mongo_server.port}/{DB}?retryWrites=false"'
    stack = start_dispatch_stack(mongo_server.port, tmp_path_factory.mktemp("watchdog"),
                                 extra_env={**WATCHDOG_ENV, "CLEARML__HOSTS__MONGO__BACKEND__HOST": db_uri})
    yield stack
    stack.stop()


@pytest.fixture
def api(stack) -> ApiClient:
    return ApiClient(stack.api.url, stack.api.key, stack.api.secret).login()


@pytest.fixture(scope="module")
def db(mongo_server, stack):
    return mongo.connect(f"mongodb://127.0.0.1:{mongo_server.port}/{DB}?retryWrites=false")


@pytest.fixture(scope="module")
def scratch(mongo_server):
    """A database no watchdog process looks at, for driving the jobs in this process."""
    return mongo.connect(f"mongodb://127.0.0.1:{mongo_server.port}/watchdog_scratch?retryWrites=false")


@pytest.fixture(scope="module")
def server_redis(stack):
    return redis_store.connect({"host": "127.0.0.1", "port": stack.redis.port, "username": REDIS_SERVER_USER.name,
                                "password": REDIS_SERVER_USER.password})


def watchdog_log(stack) -> str:
    return (stack.work_dir / "watchdog.log").read_text(errors="replace")


def running_task(api) -> str:
    task = api.ok("tasks.create", name=unique("run"), type="training")["id"]
    api.ok("tasks.started", task=task)
    return task


def make_stale(db, *tasks: str) -> None:
    db["tasks"].update_many({"_id": {"$in": list(tasks)}}, {"$set": {"last_update": utcnow() - LONG_AGO}})


# -- non-responsive tasks ----------------------------------------------------------------------------------------
def test_stale_tasks_stop_unless_something_vouches_for_them(stack, api, db):
    silent, fresh, on_worker, pinged = (running_task(api) for _ in range(4))
    worker = unique("vm")
    api.ok("workers.status_report", worker=worker, timestamp=int(time.time() * 1000), task=on_worker)
    # Close to the threshold, then the SDK's ping: tasks.ping must move last_update.
    db["tasks"].update_one({"_id": pinged}, {"$set": {"last_update": utcnow() - timedelta(seconds=THRESHOLD_SEC - 5)}})
    before_ping = utcnow()
    api.ok("tasks.ping", task=pinged)
    assert db["tasks"].find_one({"_id": pinged})["last_update"] >= before_ping
    make_stale(db, silent, on_worker)

    wait_for(lambda: get_task(api, silent)["status"] == "stopped", what="the silent task to stop")
    stopped = get_task(api, silent)
    assert (stopped["status_reason"], stopped["status_message"]) == (FORCED_STOP, FORCED_STOP)
    assert stopped["last_changed_by"] == "__apiserver__"
    # The pass that stopped the silent task judged the worker's task too (both went stale together).
    wait_for(lambda: f"but worker {worker} reports running it" in watchdog_log(stack), what="the worker's word")
    for task in (fresh, on_worker, pinged):
        assert get_task(api, task)["status"] == "in_progress", task


def test_disabled_stops_nothing_and_settings_are_read_each_pass(stack, api, db):
    override = Path(stack.api.config_dir) / "services" / "tasks.conf"
    override.parent.mkdir(exist_ok=True)
    override.write_text("non_responsive_tasks_watchdog { enabled: false }\n")
    try:
        disabled = watchdog_log(stack).count(DISABLED_PASS)
        wait_for(lambda: watchdog_log(stack).count(DISABLED_PASS) > disabled, what="a disabled pass")
        task = running_task(api)
        make_stale(db, task)
        seen = watchdog_log(stack).count(DISABLED_PASS)
        wait_for(lambda: watchdog_log(stack).count(DISABLED_PASS) >= seen + 2, what="two more disabled passes")
        assert get_task(api, task)["status"] == "in_progress"
    finally:
        override.unlink()
    # Enabled again by the same running process: the task that was spared is stopped now.
    wait_for(lambda: get_task(api, task)["status"] == "stopped", what="the stop once enabled again")


def test_a_task_that_reports_in_after_being_judged_keeps_running(scratch, server_redis):
    company = new_id()
    task = new_id()
    scratch["tasks"].insert_one({"_id": task, "company": company, "status": "in_progress",
                                 "last_update": utcnow() - LONG_AGO})
    job = NonResponsiveTasks(scratch, server_redis, lambda: Settings(threshold_sec=THRESHOLD_SEC))
    [judged] = [t for t in job.stale_tasks(utcnow() - timedelta(seconds=THRESHOLD_SEC)) if t["_id"] == task]
    scratch["tasks"].update_one({"_id": task}, {"$set": {"last_update": utcnow()}})  # a ping lands meanwhile
    assert not job.stop(judged)
    assert scratch["tasks"].find_one({"_id": task})["status"] == "in_progress"


def test_nothing_is_stopped_while_the_worker_registry_is_unreadable(scratch):
    company, task = new_id(), new_id()
    scratch["tasks"].insert_one({"_id": task, "company": company, "status": "in_progress",
                                 "last_update": utcnow() - LONG_AGO})
    nowhere = redis_store.connect({"host": "127.0.0.1", "port": 1}, retry=None)  # refused at once
    job = NonResponsiveTasks(scratch, nowhere, lambda: Settings(threshold_sec=THRESHOLD_SEC))
    report = job.run_pass()
    assert report.skipped == "worker registry unavailable" and not report.stopped
    assert scratch["tasks"].find_one({"_id": task})["status"] == "in_progress"
    scratch["tasks"].delete_one({"_id": task})


def test_a_bad_setting_stops_the_start_and_a_bad_edit_keeps_the_last_settings(scratch, server_redis):
    env = {**os.environ, "CLEARML__SERVICES__TASKS__NON_RESPONSIVE_TASKS_WATCHDOG__THRESHOLD_SEC": '"soon"'}
    started = subprocess.run([sys.executable, "-m", "trackside.watchdog"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert started.returncode == 2
    assert "non_responsive_tasks_watchdog.threshold_sec must be a number of seconds, not 'soon'" in started.stderr
    readings = [Settings(threshold_sec=5), ConfigError("a bad edit")]

    def read() -> Settings:
        reading = readings.pop(0)
        if isinstance(reading, Exception):
            raise reading
        return reading

    job = NonResponsiveTasks(scratch, server_redis, read)
    job.run_pass()  # reads the bad edit
    assert job.settings == Settings(threshold_sec=5)


# -- orphaned queued tasks ---------------------------------------------------------------------------------------
def test_an_orphaned_queued_task_goes_back_to_the_tail_and_is_claimable(stack, api, db):
    queue = create_queue(api, unique("orphans"))
    waiting = api.ok("tasks.create", name=unique("waiting"), type="training")["id"]
    api.ok("tasks.enqueue", task=waiting, queue=queue)
    orphan, leased = (api.ok("tasks.create", name=unique("orphan"), type="training")["id"] for _ in range(2))
    me = api.ok("users.get_current_user")["user"]["company"]["id"]
    # The API died inside tasks.enqueue: status changed, entry never pushed.
    db["tasks"].update_many({"_id": {"$in": [orphan, leased]}},
                            {"$set": {"status": "queued", "execution.queue": queue, "status_changed": utcnow(),
                                      "enqueue_status": "created"}})
    # A task under a claim is not in its queue either, and is not an orphan.
    now = utcnow()
    db["queue_leases"].insert_one({"_id": new_id(), "company": me, "task": leased, "queue": queue, "worker": "vm",
                                   "entry": {"task": leased, "added": now}, "claimed": now,
                                   "expires": now + timedelta(hours=1), "state": "held"})

    def entries() -> list[str]:
        return [e["task"] for e in api.ok("queues.get_by_id", queue=queue)["queue"]["entries"]]

    wait_for(lambda: entries() == [waiting, orphan], what="the orphan back in its queue")
    wait_for(lambda: f"task {orphan} was queued in no queue" in watchdog_log(stack), what="the re-queue logged")
    assert api.ok("queues.get_next_task", queue=queue)["entry"]["task"] == waiting
    assert api.ok("queues.get_next_task", queue=queue)["entry"]["task"] == orphan
    assert get_task(api, leased)["status"] == "queued" and entries() == []


def test_an_orphan_is_requeued_only_when_two_passes_in_a_row_see_it(scratch, server_redis):
    company, queue = new_id(), new_id()
    scratch["queues"].insert_one({"_id": queue, "company": company, "name": unique("q"), "entries": []})
    orphan, in_flight, requeued_meanwhile = new_id(), new_id(), new_id()
    scratch["tasks"].insert_many([{"_id": task, "company": company, "status": "queued", "execution": {"queue": queue},
                                   "status_changed": utcnow()} for task in (orphan, in_flight, requeued_meanwhile)])
    reconciler = Reconciler(scratch, server_redis, DispatchSettings())

    def one_pass() -> PassReport:
        report = PassReport()
        reconciler.requeue_orphans(report)
        return report

    first = one_pass()
    assert (first.orphans_seen, first.orphans_requeued) == (3, 0)
    # Meanwhile the enqueue in flight pushes its entry, and the other task is enqueued again (a new sighting).
    scratch["queues"].update_one({"_id": queue}, {"$push": {"entries": {"task": in_flight, "added": utcnow()}}})
    scratch["tasks"].update_one({"_id": requeued_meanwhile},
                                {"$set": {"status_changed": utcnow() + timedelta(seconds=1)}})
    second = one_pass()
    assert (second.orphans_seen, second.orphans_requeued) == (2, 1)
    assert [e["task"] for e in scratch["queues"].find_one({"_id": queue})["entries"]] == [in_flight, orphan]
    third = one_pass()
    assert (third.orphans_seen, third.orphans_requeued) == (1, 1)
    assert [e["task"] for e in scratch["queues"].find_one({"_id": queue})["entries"]] == [
        in_flight, orphan, requeued_meanwhile]
