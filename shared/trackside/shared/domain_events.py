"""Domain events: what happened in the API (a task created, a status changed...), told on one Redis stream.

The stream (``STREAM``, all companies) is read by the webhooks service's consumer group. Each entry has one
field, ``event``, holding the JSON envelope ``{id, type, timestamp, company, data}`` (:func:`envelope`).

Publishing never fails or slows the request that wrote: :func:`publish` appends to a bounded in-memory buffer
and a per-process background thread sends it in pipelined batches (``XADD`` with an approximate ``MAXLEN``),
retrying while Redis is down. A buffer that fills up drops its oldest events, counted and logged.

Status changes are *replayable*: their id is derived from the task, the new status and the time of the change
(:func:`status_event_id`), and their batch also sets a short-lived marker key per id (:func:`marker_key`), in
the same transaction as the ``XADD``. The watchdog's replay (``trackside.watchdog.event_replay``) republishes
recent status changes that have no marker with the same id, so a lost publish is filled in and a duplicate
is dropped by the consumer (one delivery per webhook and event id).
"""
from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from datetime import datetime
from typing import Any, Callable, Iterable

import redis

from trackside.shared.timeutil import isoformat, utcnow

log = logging.getLogger(__name__)

STREAM = "trackside:domain-events"
FIELD = "event"
MARKER_PREFIX = "trackside:domain-events:published:"
CONFIG_SECTION = "services.webhooks"

# type -> what it means (webhooks.get_event_types returns them in this order).
EVENT_TYPES: "OrderedDict[str, str]" = OrderedDict([
    ("task.created", "A task was created (new, cloned or by an SDK run)."),
    ("task.status_changed", "A task's status changed; data has the status and the previous one."),
    ("task.enqueued", "A task was put in a queue."),
    ("task.deleted", "A task was deleted."),
    ("model.created", "A model was created or registered."),
    ("model.published", "A model was published (ready)."),
    ("project.created", "A project was created."),
    ("project.deleted", "A project was deleted."),
    ("queue.created", "A queue was created."),
    ("queue.deleted", "A queue was deleted."),
])
# Sent only by webhooks.test, never on the stream.
TEST_EVENT_TYPE = "webhook.test"
STATUS_CHANGED = "task.status_changed"

DEFAULT_MAXLEN = 100_000
DEFAULT_REPLAY_WINDOW_SEC = 3600.0
DEFAULT_BUFFER_SIZE = 10_000
BATCH_SIZE = 500
RETRY_MAX_SEC = 5.0


# -- the envelope -------------------------------------------------------------------------------------------
def status_event_id(task_id: str, status: str, changed_at: datetime) -> str:
    """The id of the status change of ``task_id`` to ``status`` at ``changed_at`` (the task's
    ``status_changed``, milliseconds): the API and the replay derive the same one."""
    key = f"{STATUS_CHANGED}|{task_id}|{status}|{isoformat(changed_at)}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def envelope(event_type: str, company: str, data: dict, *, event_id: str | None = None,
             timestamp: datetime | None = None) -> dict:
    return {"id": event_id or uuid.uuid4().hex, "type": event_type,
            "timestamp": isoformat(timestamp or utcnow()), "company": company, "data": data}


def marker_key(event_id: str) -> str:
    return MARKER_PREFIX + event_id


def write_batch(client: redis.Redis, events: Iterable[tuple[dict, bool]], maxlen: int, marker_ttl: int) -> None:
    """One transaction: ``XADD`` each event and, for the replayable ones, set its marker. Markers only, for
    events whose dict is ``{"id": ...}`` alone (a change that needs no event but must not be replayed)."""
    pipe = client.pipeline(transaction=True)
    for event, replayable in events:
        if event.keys() != {"id"}:
            pipe.xadd(STREAM, {FIELD: json.dumps(event, separators=(",", ":"), default=str)},
                      maxlen=maxlen, approximate=True)
        if replayable:
            pipe.set(marker_key(event["id"]), "1", ex=marker_ttl)
    pipe.execute()


class Settings:
    def __init__(self, enabled: bool = True, maxlen: int = DEFAULT_MAXLEN,
                 replay_window_sec: float = DEFAULT_REPLAY_WINDOW_SEC, buffer_size: int = DEFAULT_BUFFER_SIZE):
        self.enabled = enabled
        self.maxlen = maxlen
        self.replay_window_sec = replay_window_sec
        self.buffer_size = buffer_size

    @property
    def marker_ttl(self) -> int:
        # Outlives the replay window (with a margin for clocks and slow passes), so a published change is never
        # replayed.
        return int(self.replay_window_sec) + 300

    @classmethod
    def from_config(cls, config) -> "Settings":
        section = config.get(CONFIG_SECTION, None) or {}
        return cls(enabled=_flag(section.get("publish_events", True)),
                   maxlen=int(section.get("stream_maxlen", DEFAULT_MAXLEN)),
                   replay_window_sec=float(section.get("replay_window_sec", DEFAULT_REPLAY_WINDOW_SEC)),
                   buffer_size=int(section.get("publish_buffer_size", DEFAULT_BUFFER_SIZE)))


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


# -- the publisher ------------------------------------------------------------------------------------------
class Publisher:
    """A bounded buffer and one background thread per process (started on first use, again after a fork)."""

    def __init__(self, client_factory: Callable[[], redis.Redis], settings: Settings):
        self._client_factory = client_factory
        self.settings = settings
        self.dropped = 0
        self.published = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._buffer: deque[tuple[dict, bool]] = deque()
        self._thread: threading.Thread | None = None
        self._client: redis.Redis | None = None
        self._last_drop_log = 0.0

    def put(self, event: dict, replayable: bool) -> None:
        if self._pid != os.getpid():  # a forked worker: the parent's thread and lock are not ours
            self._reset()
        with self._lock:
            if len(self._buffer) >= self.settings.buffer_size:
                self._buffer.popleft()
                self.dropped += 1
                self._log_drop()
            self._buffer.append((event, replayable))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="domain-events", daemon=True)
                self._thread.start()
        self._wake.set()

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            log.warning("domain events: buffer full (%d), Redis unreachable; %d oldest event(s) dropped so far",
                        self.settings.buffer_size, self.dropped)

    def _take(self) -> list[tuple[dict, bool]]:
        with self._lock:
            return [self._buffer.popleft() for _ in range(min(BATCH_SIZE, len(self._buffer)))]

    def _give_back(self, batch: list[tuple[dict, bool]]) -> None:
        """A failed batch goes back to the front, the oldest dropped if newer events filled the buffer."""
        with self._lock:
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > self.settings.buffer_size:
                self._buffer.popleft()
                self.dropped += 1
                self._log_drop()

    def flush_once(self) -> bool:
        """Send one batch; False when Redis refused it (the batch is kept)."""
        batch = self._take()
        if not batch:
            return True
        try:
            if self._client is None:
                self._client = self._client_factory()
            write_batch(self._client, batch, self.settings.maxlen, self.settings.marker_ttl)
        except (redis.RedisError, OSError) as exc:
            self._give_back(batch)
            log.warning("domain events: publish failed (%s); %d event(s) kept for a retry", exc, self.pending())
            return False
        except Exception:  # noqa: BLE001 - a batch that can never be sent must not stop the ones after it
            self.dropped += len(batch)
            log.exception("domain events: %d event(s) dropped, they could not be sent", len(batch))
            return True
        self.published += len(batch)
        return True

    def pending(self) -> int:
        return len(self._buffer)

    def _run(self) -> None:
        delay = 0.1
        while True:
            self._wake.wait()
            self._wake.clear()
            while self.pending():
                if self.flush_once():
                    delay = 0.1
                else:
                    time.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_SEC)

    def drain(self, timeout: float = 1.0) -> None:
        """At exit: what is still buffered gets a short last chance."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline and self._pid == os.getpid():
            if not self.flush_once():
                return


# -- the process's publisher -------------------------------------------------------------------------------
_publisher: Publisher | None = None


def configure(config, client_factory: Callable[[], redis.Redis]) -> Publisher | None:
    """Set this process's publisher from ``services.webhooks`` (None when ``publish_events`` is false)."""
    global _publisher
    settings = Settings.from_config(config)
    _publisher = Publisher(client_factory, settings) if settings.enabled else None
    return _publisher


def publisher() -> Publisher | None:
    return _publisher


def publish(event_type: str, company: str, data: dict, *, event_id: str | None = None,
            timestamp: datetime | None = None) -> None:
    """Tell the stream ``event_type`` happened; never raises (a broken publish must not fail a write)."""
    if _publisher is None:
        return
    try:
        _publisher.put(envelope(event_type, company, data, event_id=event_id, timestamp=timestamp),
                       replayable=event_id is not None)
    except Exception:  # noqa: BLE001 - the write this follows has succeeded; never undo it with an error
        log.exception("domain events: %s not published", event_type)


def _id_of(doc: dict) -> str:
    return doc.get("id") or doc.get("_id")


def publish_object(event_type: str, company: str, doc: dict, fields: tuple[str, ...] = (), **extra: Any) -> None:
    """``event_type`` with data ``{id, name, <fields of doc>..., **extra}``; ``doc`` stored (``_id``) or in API
    shape (``id``)."""
    if _publisher is None:
        return
    publish(event_type, company, {"id": _id_of(doc), "name": doc.get("name"),
                                  **{field: doc.get(field) for field in fields}, **extra})


def status_changed(company: str, task: dict, status: str, previous_status: str | None, changed_at: datetime,
                   user: str | None, reason: str | None = None, message: str | None = None) -> None:
    """``task.status_changed`` for ``task`` (as read: id, name, project); a change to the same status is only
    marked as published, so the replay leaves it alone."""
    if _publisher is None:
        return
    try:
        event_id = status_event_id(_id_of(task), status, changed_at)
        if status == previous_status:
            _publisher.put({"id": event_id}, replayable=True)
            return
    except Exception:  # noqa: BLE001 - as publish(): never fail the write
        log.exception("domain events: status change of %s not published", _id_of(task))
        return
    publish(STATUS_CHANGED, company, {
        "id": _id_of(task), "name": task.get("name"), "project": task.get("project"), "status": status,
        "previous_status": previous_status, "status_reason": reason or "", "status_message": message or "",
        "user": user,
    }, event_id=event_id, timestamp=changed_at)


@atexit.register
def _drain_at_exit() -> None:
    if _publisher is not None:
        _publisher.drain()
