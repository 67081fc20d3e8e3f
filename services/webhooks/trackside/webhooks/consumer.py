"""Reading the domain-events stream in a consumer group and turning each event into deliveries.

For each entry: one delivery document per matching webhook (the unique (webhook, event_id) index makes a
re-read entry insert nothing new), one RQ job per delivery, then ``XACK``. An entry is acknowledged only after
its deliveries are stored and enqueued, so a crash in between leaves it pending: at start the consumer reads
its own pending entries first, and entries another (dead) consumer left pending for ``claim_idle_ms`` are
taken over with ``XAUTOCLAIM``. A Redis restart that lost the stream and group (no persistence) recreates both.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

import pymongo.errors
import redis

from trackside.shared import domain_events
from trackside.shared.webhooks import jobs, store, templates
from trackside.webhooks.matching import enabled_webhooks, wants
from trackside.webhooks.resources import Resources

log = logging.getLogger("trackside.webhooks.consumer")
CLAIM_EVERY_SEC = 5.0
RETRY_MAX_SEC = 5.0


# How many (webhook, object) pairs the consumer remembers the last delivery of, for per-object order.
ORDER_MEMORY = 20000


class Consumer:
    def __init__(self, res: Resources):
        self.res = res
        self.settings = res.settings
        self.handled = 0
        # (webhook, object id) -> the last delivery made for it: the next one waits for it (deliver.py), so a
        # healthy receiver sees each task's events in order. Lost on a restart (order is best effort then).
        self._last_delivery: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._group_ready = False
        self._read_own_pending = True  # after a restart, what this consumer read but did not acknowledge
        self._next_claim = 0.0

    # -- the loop ---------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event, between_reads=None) -> None:
        delay = 0.1
        while not stop.is_set():
            try:
                self.step()
                delay = 0.1
                if between_reads is not None:
                    between_reads()
            except (redis.RedisError, OSError) as exc:
                self._group_ready = False
                log.warning("domain events stream unavailable (%s); retrying in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SEC)
            except pymongo.errors.PyMongoError as exc:
                self._read_own_pending = True  # what was read stays unacknowledged: read it again first
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SEC)

    def step(self) -> int:
        """One read (own pending, claimed, or new entries) and its handling; the number of entries. The
        entries of one read are handled together: one insert, one enqueue round trip, one XACK."""
        self._ensure_group()
        entries = self._read()
        if entries:
            self.handle(entries)
            self.res.redis.xack(domain_events.STREAM, self.settings.consumer_group, *[e[0] for e in entries])
            self.handled += len(entries)
        return len(entries)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the stream's start: events published before the service first ran are not lost (a webhook
            # still only hears of what happened after it was created).
            self.res.redis.xgroup_create(domain_events.STREAM, self.settings.consumer_group, id="0", mkstream=True)
            log.info("consumer group %s created on %s", self.settings.consumer_group, domain_events.STREAM)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True
        self._read_own_pending = True

    def _read(self) -> list[tuple[str, dict | None]]:
        client, group, name = self.res.redis, self.settings.consumer_group, self.settings.consumer_name
        try:
            if self._read_own_pending:
                entries = _entries(client.xreadgroup(group, name, {domain_events.STREAM: "0"},
                                                     count=self.settings.read_count))
                if entries:
                    return entries
                self._read_own_pending = False
            if time.monotonic() >= self._next_claim:
                self._next_claim = time.monotonic() + CLAIM_EVERY_SEC
                claimed = client.xautoclaim(domain_events.STREAM, group, name, self.settings.claim_idle_ms,
                                            start_id="0-0", count=self.settings.read_count)
                if claimed and claimed[1]:
                    log.info("claimed %d entries another consumer left unacknowledged", len(claimed[1]))
                    return list(claimed[1])
            return _entries(client.xreadgroup(group, name, {domain_events.STREAM: ">"},
                                              count=self.settings.read_count, block=self.settings.read_block_ms))
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis restarted without its data: the stream and group are new
                self._group_ready = False
                return []
            raise

    # -- events to deliveries ----------------------------------------------------------------------------------
    def handle(self, entries: list[tuple[str, dict | None]]) -> int:
        """Store and enqueue the deliveries of some stream entries; the number of new deliveries."""
        docs, events = [], {}
        cache = WebhookCache(self.res.db)
        for entry_id, fields in entries:
            event = _event(entry_id, fields)
            if event is None:
                continue
            for webhook in cache.matching(event):
                docs.append(self._delivery(webhook, event))
                events[docs[-1]["_id"]] = (webhook, event)
        if not docs:
            return 0
        duplicates = self._insert(docs)
        fresh = [d["_id"] for d in docs if d["_id"] not in duplicates and d["status"] == store.PENDING]
        jobs.enqueue_deliveries(self.res.redis, fresh)
        for delivery_id in duplicates:
            self._redelivered_entry(*events[delivery_id])
        return len(docs) - len(duplicates)

    def _insert(self, docs: list[dict]) -> set[str]:
        """Insert ``docs``; the ids of those that already existed for their (webhook, event)."""
        try:
            self.res.db[store.DELIVERIES].insert_many(docs, ordered=False)
            return set()
        except pymongo.errors.BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != 11000 for error in errors):
                raise
            return {docs[error["index"]]["_id"] for error in errors}

    def _delivery(self, webhook: dict, event: dict) -> dict:
        now = datetime.now(timezone.utc)
        doc: dict[str, Any] = {
            "_id": store.new_delivery_id(), "company": event["company"], "webhook": webhook["_id"],
            "event_id": event["id"], "event_type": event["type"], "status": store.PENDING, "attempts": [],
            "attempt": 0, "next_attempt_at": now, "created": now, "last_update": now,
            "object_id": (event.get("data") or {}).get("id"), "after": None,
        }
        if doc["object_id"]:
            key = (webhook["_id"], doc["object_id"])
            doc["after"] = self._last_delivery.pop(key, None)
            self._last_delivery[key] = doc["_id"]
            if len(self._last_delivery) > ORDER_MEMORY:
                self._last_delivery.popitem(last=False)
        error = None
        try:
            body = templates.render(webhook.get("payload_template"), event)
        except templates.TemplateError as exc:
            body, error = b"", f"the payload template does not render: {exc}"
        if len(body) > self.settings.max_body_bytes:
            error = (f"the body ({len(body)} bytes) is larger than max_body_bytes ({self.settings.max_body_bytes}); "
                     "not sent")
        doc["body"] = body[: self.settings.max_body_bytes].decode("utf-8", errors="ignore")
        if error:
            doc.update(status=store.FAILED, next_attempt_at=None, attempt=1, attempts=[
                {"attempt": 1, "at": now, "status_code": None, "duration_ms": 0.0, "error": error}])
        return doc

    def _redelivered_entry(self, webhook: dict, event: dict) -> None:
        """The event was handled before (a re-read entry, a replay): enqueue again only a delivery that may
        never have been enqueued (a crash between the insert and the acknowledgement)."""
        existing = self.res.db[store.DELIVERIES].find_one(
            {"webhook": webhook["_id"], "event_id": event["id"]}, {"status": 1, "attempt": 1})
        if existing and existing.get("status") == store.PENDING and not existing.get("attempt"):
            jobs.enqueue_delivery(self.res.redis, existing["_id"], again=True)


class WebhookCache:
    """The webhooks of each company, read once per batch of entries (not once per event)."""

    def __init__(self, db: Any):
        self.db = db
        self._by_company: dict[str, list[dict]] = {}

    def matching(self, event: dict) -> list[dict]:
        company = event.get("company")
        if company not in self._by_company:
            self._by_company[company] = enabled_webhooks(self.db, company)
        return [hook for hook in self._by_company[company] if wants(hook, event)]


def _entries(reply: Any) -> list[tuple[str, dict | None]]:
    return [entry for _stream, entries in (reply or []) for entry in entries]


def _event(entry_id: str, fields: dict | None) -> dict | None:
    if not fields:
        return None  # trimmed from the stream while pending
    try:
        event = json.loads(fields.get(domain_events.FIELD, ""))
    except (TypeError, ValueError):
        log.warning("stream entry %s is not a JSON event; skipped", entry_id)
        return None
    if not isinstance(event, dict) or not all(isinstance(event.get(k), str) for k in ("id", "type", "company")):
        log.warning("stream entry %s lacks id, type or company; skipped", entry_id)
        return None
    return event

