"""Domain events on the Redis stream (trackside.shared.domain_events), on the real stack: each write the API
makes appears on ``trackside:domain-events`` with its contracted data; a Redis that is down neither fails nor
slows the write, and what was buffered goes out once Redis is back; the watchdog's replay fills a lost status
change once, with the id the API would have used."""
from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project, create_queue
from support.suite import redis_admin, start_api, start_redis, stop_in_background
from support.waiting import wait_for
from trackside.shared import domain_events
from trackside.shared.domain_events import STREAM
from trackside.shared.embedded.process import free_port
from trackside.shared.storage import mongo
from trackside.shared.timeutil import utcnow
from trackside.watchdog.event_replay import EventReplay


@pytest.fixture(scope="module")
def admin_redis(redis_server):
    return redis_admin(redis_server.port)


@pytest.fixture(scope="module")
def api(api_server) -> ApiClient:
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


class Stream:
    """The stream's entries written after this object was made."""

    def __init__(self, client):
        self.client = client
        last = client.xrevrange(STREAM, count=1)
        self.start = last[0][0] if last else "0-0"

    def events(self) -> list[dict]:
        return [json.loads(fields["event"]) for _, fields in self.client.xrange(STREAM, min=f"({self.start}")]

    def wait(self, event_type: str, object_id: str, timeout: float = 10.0) -> dict:
        found = wait_for(lambda: [e for e in self.events() if e["type"] == event_type and e["data"]["id"] == object_id],
                         timeout, f"{event_type} for {object_id}")
        return found[0]

    def of(self, object_id: str) -> list[dict]:
        return [e for e in self.events() if e["data"].get("id") == object_id]


def test_task_events_carry_the_contracted_data(api, admin_redis):
    stream = Stream(admin_redis)
    user = api.ok("users.get_current_user")["user"]
    project = create_project(api, unique("events"))
    task = api.ok("tasks.create", name="evented", type="training", project=project)["id"]
    created = stream.wait("task.created", task)
    assert created["data"] == {"id": task, "name": "evented", "project": project, "type": "training",
                               "status": "created", "user": user["id"]}
    assert created["company"] == user["company"]["id"] and len(created["id"]) == 32
    assert created["timestamp"].endswith("+00:00") and len(created["timestamp"]) == 29

    queue_name = unique("events-q")
    api.ok("tasks.enqueue", task=task, queue_name=queue_name)
    enqueued = stream.wait("task.enqueued", task)
    assert enqueued["data"]["queue_name"] == queue_name and enqueued["data"]["project"] == project
    queued = stream.wait("task.status_changed", task)
    assert queued["data"] == {"id": task, "name": "evented", "project": project, "status": "queued",
                              "previous_status": "created", "status_reason": "", "status_message": "",
                              "user": user["id"]}
    stored = api.ok("tasks.get_by_id", task=task)["task"]
    assert queued["timestamp"] == stored["status_changed"]
    assert stream.wait("queue.created", enqueued["data"]["queue"])["data"]["name"] == queue_name

    api.ok("tasks.dequeue", task=task)
    api.ok("tasks.started", task=task, status_reason="go")
    api.ok("tasks.started", task=task)  # the same status again: no event
    api.ok("tasks.completed", task=task)
    wait_for(lambda: len([e for e in stream.of(task) if e["type"] == "task.status_changed"]) == 4, 10,
             "four status changes")
    changes = [(e["data"]["previous_status"], e["data"]["status"]) for e in stream.of(task)
               if e["type"] == "task.status_changed"]
    assert changes == [("created", "queued"), ("queued", "created"), ("created", "in_progress"),
                       ("in_progress", "completed")]

    clone = api.ok("tasks.clone", task=task, new_task_name="copy")["id"]
    assert stream.wait("task.created", clone)["data"]["name"] == "copy"
    api.ok("tasks.delete_many", ids=[clone], force=True)
    assert stream.wait("task.deleted", clone)["data"] == {"id": clone, "name": "copy", "project": project}


def test_model_project_and_queue_events(api, admin_redis):
    stream = Stream(admin_redis)
    project_name = unique("events-p")
    project = create_project(api, project_name)
    assert stream.wait("project.created", project)["data"] == {"id": project, "name": project_name}
    model = api.ok("models.create", name="m", uri="file:///m", project=project)["id"]
    assert stream.wait("model.created", model)["data"] == {"id": model, "name": "m", "project": project,
                                                           "task": None}
    api.ok("models.publish_many", ids=[model])
    assert stream.wait("model.published", model)["data"]["name"] == "m"
    queue_name = unique("events-q")
    queue = create_queue(api, queue_name)
    assert stream.wait("queue.created", queue)["data"] == {"id": queue, "name": queue_name}
    api.ok("queues.delete", queue=queue)
    assert stream.wait("queue.deleted", queue)["data"] == {"id": queue, "name": queue_name}
    api.ok("projects.delete", project=project, force=True)
    assert stream.wait("project.deleted", project)["data"] == {"id": project, "name": project_name}
    assert [e["type"] for e in stream.of(queue)] == ["queue.created", "queue.deleted"]  # each once
    merged, into = create_project(api, unique("merged")), create_project(api, unique("into"))
    api.ok("projects.merge", project=merged, destination_project=into)
    assert stream.wait("project.deleted", merged)["data"]["id"] == merged


def test_every_type_is_described():
    assert list(domain_events.EVENT_TYPES) == [
        "task.created", "task.status_changed", "task.enqueued", "task.deleted", "model.created",
        "model.published", "project.created", "project.deleted", "queue.created", "queue.deleted"]


@pytest.fixture(scope="module")
def redis_down_api(mongo_server, tmp_path_factory):
    """An API whose Redis is not running yet (its port is free); the test starts it later."""
    port = free_port()
    work_dir = tmp_path_factory.mktemp("api-redis-down")
    server = start_api(mongo_server.port, work_dir, redis_port=port)
    yield server, port, work_dir
    stop_in_background(server.process)


def _timed_writes(client: ApiClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        task = client.ok("tasks.create", name="timed", type="training")["id"]
        client.ok("tasks.started", task=task)
        times.append(time.perf_counter() - began)
    return times


def test_redis_down_neither_fails_nor_slows_the_write_and_the_buffer_goes_out_later(redis_down_api, api):
    server, port, work_dir = redis_down_api
    client = ApiClient(server.url, server.key, server.secret).login()
    task = client.ok("tasks.create", name="while-down", type="training")["id"]
    client.ok("tasks.started", task=task)
    down = statistics.median(_timed_writes(client, 15))
    up = statistics.median(_timed_writes(api, 15))
    assert down < up + 0.05, f"writes with Redis down took {down * 1000:.1f} ms (median), up {up * 1000:.1f} ms"

    valkey = start_redis(work_dir / "valkey-late", port=port)
    try:
        late = redis_admin(port)
        events = wait_for(lambda: [json.loads(f["event"]) for _, f in late.xrange(STREAM)
                                   if json.loads(f["event"])["data"]["id"] == task] or None, 30,
                          "the buffered events once Redis is up")
        wait_for(lambda: len([1 for _, f in late.xrange(STREAM) if json.loads(f["event"])["data"]["id"] == task]) == 2,
                 15, "both buffered events")
        events = [json.loads(f["event"]) for _, f in late.xrange(STREAM) if json.loads(f["event"])["data"]["id"] == task]
        assert [e["type"] for e in events] == ["task.created", "task.status_changed"]
    finally:
        valkey.stop()


def test_the_replay_fills_a_lost_status_change_once_with_the_same_id(api, admin_redis, mongo_server, redis_server):
    from support.suite import REDIS_SERVER_USER
    from trackside.shared.storage import redis as redis_store

    db = mongo.connect(f"mongodb://127.0.0.1:{mongo_server.port}/backend?retryWrites=false")
    server_redis = redis_store.connect({"host": "127.0.0.1", "port": redis_server.port,
                                        "username": REDIS_SERVER_USER.name, "password": REDIS_SERVER_USER.password})
    published = api.ok("tasks.create", name="published", type="training")["id"]
    api.ok("tasks.started", task=published)
    lost = api.ok("tasks.create", name="lost", type="training")["id"]
    stream = Stream(admin_redis)
    # A status change written behind the API's back, as if its publish had been lost.
    changed_at = utcnow() - timedelta(seconds=5)
    db["tasks"].update_one({"_id": lost}, {"$set": {"status": "failed", "status_changed": changed_at,
                                                    "last_changed_by": "someone"}})
    replay = EventReplay(db, server_redis, domain_events.Settings(replay_window_sec=600), grace_sec=1)
    wait_for(lambda: admin_redis.exists(domain_events.marker_key(domain_events.status_event_id(
        published, "in_progress", db["tasks"].find_one({"_id": published})["status_changed"]))), 10,
        "the API's marker for its own status change")

    first = replay.run_pass()
    assert first.replayed >= 1, first
    replayed = [e for e in stream.of(lost) if e["type"] == "task.status_changed"]
    assert len(replayed) == 1, (first, stream.of(lost))
    assert replayed[0]["id"] == domain_events.status_event_id(lost, "failed", changed_at)
    assert replayed[0]["data"] == {"id": lost, "name": "lost", "project": None, "status": "failed",
                                   "previous_status": None, "status_reason": "", "status_message": "",
                                   "user": "someone", "replayed": True}
    assert not [e for e in stream.of(published) if e["data"].get("replayed")], stream.of(published)

    # The session's database is shared: other tests' changes (made by API processes without this Redis) may
    # age into the window between passes, so the second pass is judged by these two tasks, not by its count.
    replay.run_pass()
    assert len([e for e in stream.of(lost) if e["type"] == "task.status_changed"]) == 1
    assert not [e for e in stream.of(published) if e["data"].get("replayed")], stream.of(published)


def test_the_watchdogs_non_responsive_stop_is_published_with_the_previous_status(api, admin_redis, mongo_server,
                                                                                  redis_server):
    from pyhocon import ConfigTree

    from support.suite import REDIS_SERVER_USER
    from trackside.shared.storage import redis as redis_store
    from trackside.watchdog.non_responsive import FORCED_STOP, NonResponsiveTasks, Settings

    db = mongo.connect(f"mongodb://127.0.0.1:{mongo_server.port}/backend?retryWrites=false")
    settings = {"host": "127.0.0.1", "port": redis_server.port, "username": REDIS_SERVER_USER.name,
                "password": REDIS_SERVER_USER.password}
    publisher = domain_events.configure(ConfigTree(), lambda: redis_store.connect(settings))
    try:
        task = api.ok("tasks.create", name="silent", type="training")["id"]
        api.ok("tasks.started", task=task)
        stream = Stream(admin_redis)
        watchdog = NonResponsiveTasks(db, redis_store.connect(settings), lambda: Settings())
        stale = db["tasks"].find_one({"_id": task}, {"company": 1, "project": 1, "name": 1, "last_update": 1})
        assert watchdog.stop(stale)
        event = stream.wait("task.status_changed", task)
        assert event["data"]["previous_status"] == "in_progress" and event["data"]["status"] == "stopped"
        assert event["data"]["status_reason"] == FORCED_STOP and event["data"]["name"] == "silent"
    finally:
        publisher.drain()
        domain_events.configure(ConfigTree({"services": {"webhooks": {"publish_events": False}}}), lambda: None)
