"""The domain-event publisher without Redis: the envelope, deterministic status-change ids, the bounded buffer
(oldest dropped and counted), a failed batch kept in order for the retry, markers only for replayable events,
and publish_events: false publishing nothing."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import redis
from pyhocon import ConfigFactory

from trackside.shared import domain_events
from trackside.shared.domain_events import Publisher, Settings

WHEN = datetime(2026, 12, 5, 9, 30, 1, 234000, tzinfo=timezone.utc)


class FakeRedis:
    """Records XADDs and SETs of each executed pipeline; ``down`` makes execute fail as a lost Redis does."""

    def __init__(self):
        self.down = False
        self.entries: list[dict] = []
        self.markers: dict[str, int] = {}

    def pipeline(self, transaction=True):
        return FakePipeline(self)


class FakePipeline:
    def __init__(self, client: FakeRedis):
        self.client, self.ops = client, []

    def xadd(self, stream, fields, maxlen=None, approximate=True):
        self.ops.append(("xadd", stream, fields, maxlen))

    def set(self, key, value, ex=None):
        self.ops.append(("set", key, ex))

    def execute(self):
        if self.client.down:
            raise redis.ConnectionError("Connection refused")
        for op in self.ops:
            if op[0] == "xadd":
                self.client.entries.append(json.loads(op[2]["event"]))
            else:
                self.client.markers[op[1]] = op[2]


def test_envelope_and_status_ids():
    event = domain_events.envelope("task.created", "c1", {"id": "t"}, timestamp=WHEN)
    assert event["timestamp"] == "2026-12-05T09:30:01.234+00:00" and len(event["id"]) == 32
    assert event["type"] == "task.created" and event["company"] == "c1" and event["data"] == {"id": "t"}
    same = domain_events.status_event_id("t", "completed", WHEN)
    assert same == domain_events.status_event_id("t", "completed", WHEN.replace(tzinfo=None))
    assert same != domain_events.status_event_id("t", "failed", WHEN)


def test_batches_go_out_in_order_with_markers_for_replayable_events():
    client = FakeRedis()
    publisher = Publisher(lambda: client, Settings(replay_window_sec=600))
    publisher._thread = object()  # no background thread: this test flushes by hand
    publisher.put(domain_events.envelope("task.created", "c", {"id": "a"}), replayable=False)
    publisher.put(domain_events.envelope("task.status_changed", "c", {"id": "a"}, event_id="e1"), replayable=True)
    publisher.put({"id": "e2"}, replayable=True)  # a same-status change: a marker, no entry
    client.down = True
    assert publisher.flush_once() is False and publisher.pending() == 3
    client.down = False
    assert publisher.flush_once() is True and publisher.pending() == 0
    assert [e["type"] for e in client.entries] == ["task.created", "task.status_changed"]
    assert client.markers == {domain_events.marker_key("e1"): 900, domain_events.marker_key("e2"): 900}


def test_a_full_buffer_drops_the_oldest_and_counts_them():
    client = FakeRedis()
    client.down = True
    publisher = Publisher(lambda: client, Settings(buffer_size=3))
    publisher._thread = object()  # no background thread: this test flushes by hand
    for n in range(5):
        publisher.put(domain_events.envelope("queue.created", "c", {"id": str(n)}), replayable=False)
    assert publisher.dropped == 2 and publisher.pending() == 3
    assert publisher.flush_once() is False and publisher.pending() == 3
    client.down = False
    publisher.flush_once()
    assert [e["data"]["id"] for e in client.entries] == ["2", "3", "4"]


def test_publish_events_false_publishes_nothing():
    config = ConfigFactory.from_dict({"services": {"webhooks": {"publish_events": False}}})
    try:
        assert domain_events.configure(config, FakeRedis) is None
        domain_events.publish("task.created", "c", {"id": "x"})  # a no-op, never an error
    finally:
        domain_events.configure(config, FakeRedis)
    settings = Settings.from_config(ConfigFactory.from_dict({"services": {"webhooks": {"stream_maxlen": 50}}}))
    assert settings.enabled and settings.maxlen == 50
