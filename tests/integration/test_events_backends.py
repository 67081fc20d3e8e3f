"""events.add_batch and task clean-up on each events backend, through a real API process configured with it.

``events_api`` (tests/conftest.py) runs each test once per backend: "mongo" (the ``api_server``) and "elastic"
(``api_server_elastic``: events in osmem-server, everything else in the shared Mongo-wire server).
"""
from __future__ import annotations

import hashlib
import json
import time

import pymongo
import pytest

from support.names import unique
from support.objects import create_project, get_task
from trackside.shared.storage.elastic import connect

JSON_LINES = {"Content-Type": "application/json-lines"}
NOW_MS = int(time.time() * 1000)


@pytest.fixture(scope="module")
def mongo_events(mongo_server):
    client = pymongo.MongoClient("127.0.0.1", mongo_server.port, directConnection=True)
    yield client["backend"]["events"]
    client.close()


@pytest.fixture(scope="module")
def elastic(elastic_server):
    client = connect({"hosts": [{"host": "127.0.0.1", "port": elastic_server.port}], "plain_json": True})
    yield client
    client.close()


@pytest.fixture
def stored(events_api, request):
    """task id -> {type: number of events} as the API's backend holds them (read there directly)."""
    if events_api.backend == "mongo":
        events = request.getfixturevalue("mongo_events")
        return lambda task: _by_type(doc["type"] for doc in events.find({"task": task}, {"type": 1}))
    client = request.getfixturevalue("elastic")

    def in_elastic(task):
        hits = client.search(index="events-*", query={"term": {"task": task}}, size=100, source=["type"],
                             ignore_unavailable=True, allow_no_indices=True)["hits"]["hits"]
        return _by_type(hit["_source"]["type"] for hit in hits)
    return in_elastic


def _by_type(types) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event_type in types:
        counts[event_type] = counts.get(event_type, 0) + 1
    return counts


@pytest.fixture
def task(events_api) -> str:
    project = create_project(events_api, unique("events"))
    return events_api.ok("tasks.create", name=unique("task"), type="training", project=project)["id"]


def add_batch(api, events: list) -> dict:
    reply = api.send("events.add_batch", body="\n".join(json.dumps(e) for e in events), headers=JSON_LINES,
                     version="2.23")
    assert reply.status == 200 and reply.code == (200, 0), reply.meta
    return reply.data


def one_of_each(task: str, iteration: int) -> list[dict]:
    common = {"task": task, "iter": iteration, "timestamp": NOW_MS + iteration, "method": "get"}
    return [
        {**common, "type": "training_stats_scalar", "metric": "loss", "variant": "train", "value": 0.5},
        {**common, "type": "training_stats_vector", "metric": "vec", "variant": "v", "values": [1, 2]},
        {**common, "type": "plot", "metric": "roc", "variant": "v", "plot_str": "{}"},
        {**common, "type": "training_debug_image", "metric": "img", "variant": "v", "key": "k", "url": "u"},
        {"task": task, "timestamp": NOW_MS, "type": "log", "msg": "hello", "level": "info"},
    ]


EVERY_TYPE = {"training_stats_scalar": 1, "training_stats_vector": 1, "plot": 1, "training_debug_image": 1, "log": 1}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_a_batch_lands_in_the_configured_backend_and_a_resend_replaces(events_api, task, stored):
    assert add_batch(events_api, one_of_each(task, 3)) == {"added": 5, "errors": 0, "errors_info": {}}
    assert stored(task) == EVERY_TYPE
    # Sent again (a client's retry): metrics replace their copies (the scalar count stays 1), and the log line,
    # whose id comes from the request's content and its place in it, is stored once.
    assert add_batch(events_api, one_of_each(task, 3))["added"] == 5
    assert stored(task) == EVERY_TYPE
    summary = get_task(events_api, task)
    assert summary["last_iteration"] == 3
    assert summary["last_metrics"][md5("loss")][md5("train")]["count"] == 1


def test_resetting_and_deleting_a_task_remove_its_events(events_api, task, stored):
    add_batch(events_api, one_of_each(task, 1))
    events_api.ok("tasks.reset", task=task)
    assert stored(task) == {}
    add_batch(events_api, one_of_each(task, 2))
    events_api.ok("tasks.delete", task=task, force=True)
    assert stored(task) == {}
