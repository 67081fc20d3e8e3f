"""Events retention: events older than ``services.events.retention.max_age_days`` are dropped, task by task.

The watchdog runs :meth:`EventRetention.run_pass` periodically (``retention.interval_sec``). Each pass visits the
tasks (and models) created before the cut-off, page by page, and for each one drops, one event type at a time, the
events whose ``timestamp`` lies before the cut-off, in bounded batches (:func:`drop_before`): each batch is one
index range read of the oldest ``batch`` events' timestamps and one range delete up to the last of them, on
either backend (Mongo: the ``(company, task, model_event, type, timestamp, _id)`` index; Elasticsearch: a
``delete_by_query`` on one task's range in one type's index). Nothing reads the whole collection.

A task is visited again only when something arrived after its last visit: the pass records, per task, the cut-off
it applied (``event_retention``), and skips a task whose ``last_update`` is not later than it (events carry the
time they were reported, so a task idle since then has nothing older left). A client that reports timestamps in
the future defeats this shortcut only for its own task, until the next report.

What the API keeps beside the events (the scalar pyramid, the log line counters, see ``bll/event_sidecars.py``)
stays consistent with what remains:
- scalar buckets: when a task lost scalars, its pyramid is marked stale and its buckets dropped
  (:func:`.summaries.invalidate_pyramid`): its charts are then drawn from the remaining events, exactly, as for
  tasks stored before the pyramid existed (slower for very long series);
- log lines keep their positions (``seq``) and the counter its total, as after ``events.clear_task_log``: the
  dropped lines leave a gap at the start of the log, so a client paging the console sees no line move.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable

from pymongo.database import Database

from trackside.shared.events.store import ASC, EVENT_TYPES, LOG, SCALAR, EventFilter, EventStore
from trackside.shared.events.summaries import invalidate_pyramid

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SEC = 3600.0
DEFAULT_BATCH = 5000
TASK_PAGE = 500
DEFAULT_PASS_BUDGET_SEC = 10.0
CONTINUE_AFTER_SEC = 1.0
MARKS = "event_retention"
# model_event -> the collection whose documents own the events
ENTITIES = ((False, "tasks"), (True, "models"))


def drop_before(store: EventStore, company: str, task: str, before_ms: int, model_events: bool = False,
                types=None, batch: int = DEFAULT_BATCH, deadline: float | None = None) -> tuple[dict[str, int], bool]:
    """Remove the events of one task (or model) with ``timestamp < before_ms``: (removed count per type, whether
    all are gone; false when ``deadline``, a ``time.monotonic()`` value, passed after a delete).

    Each delete covers the oldest ``batch`` events of one type (plus any sharing the last one's millisecond),
    so no single request holds the store for long, whatever the task holds."""
    removed: dict[str, int] = {}
    for event_type in sorted(types or EVENT_TYPES):
        if model_events and event_type == LOG:
            continue
        old = EventFilter(company, [task], types=[event_type], model_events=model_events, timestamp_max=before_ms - 1)
        while True:
            # At least one delete per call, so a sweep always moves on, however short its budget.
            if removed and deadline is not None and time.monotonic() > deadline:
                return removed, False
            oldest = store.search(old, [("timestamp", ASC)], batch, fields=["timestamp"]).events
            if not oldest:
                break
            count = store.delete(replace(old, timestamp_max=oldest[-1]["timestamp"]))
            removed[event_type] = removed.get(event_type, 0) + count
            if len(oldest) < batch:
                break
    return removed, True


@dataclass(frozen=True)
class RetentionSettings:
    max_age_days: float = 0.0  # 0: keep events forever
    interval_sec: float = DEFAULT_INTERVAL_SEC
    batch: int = DEFAULT_BATCH
    # One pass works this long at most, then lets the watchdog's other jobs run and goes on soon after.
    pass_budget_sec: float = DEFAULT_PASS_BUDGET_SEC

    @classmethod
    def from_config(cls, config) -> "RetentionSettings":
        settings = cls(float(config.get("services.events.retention.max_age_days", 0) or 0),
                       float(config.get("services.events.retention.interval_sec", DEFAULT_INTERVAL_SEC)),
                       int(config.get("services.events.retention.batch", DEFAULT_BATCH)),
                       float(config.get("services.events.retention.pass_budget_sec", DEFAULT_PASS_BUDGET_SEC)))
        if settings.max_age_days < 0 or min(settings.interval_sec, settings.batch, settings.pass_budget_sec) <= 0:
            raise ValueError("services.events.retention: max_age_days must be >= 0; interval_sec, batch and "
                             "pass_budget_sec > 0")
        return settings


@dataclass
class RetentionReport:
    tasks_checked: int = 0
    tasks_skipped: int = 0  # nothing new since their last visit
    events_removed: int = 0
    finished: bool = True  # the sweep over every task ended (else the next pass goes on where this one stopped)


class EventRetention:
    """Sweeps over the tasks, then the models, created before the cut-off; a sweep may span several passes."""

    def __init__(self, db: Database, store: EventStore, settings: RetentionSettings,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc), scope: dict | None = None):
        self.db = db
        # Extra conditions on the tasks and models visited (e.g. one project's); none: all of them.
        self.scope = dict(scope or {})
        self.store = store
        self.settings = settings
        self.now = now
        self.marks = db[MARKS]
        # Where an unfinished sweep goes on: (index into ENTITIES, last id done, the sweep's cut-off).
        self._cursor: tuple[int, str | None, datetime] | None = None

    def interval_sec(self) -> float:
        """Until the next pass: soon while a sweep is unfinished."""
        return CONTINUE_AFTER_SEC if self._cursor is not None else self.settings.interval_sec

    def run_pass(self) -> RetentionReport:
        report = RetentionReport()
        if not self.settings.max_age_days:
            self._cursor = None
            return report
        deadline = time.monotonic() + self.settings.pass_budget_sec
        entity, last, cutoff = self._cursor or (0, None, self.now() - timedelta(days=self.settings.max_age_days))
        before_ms = int(cutoff.timestamp() * 1000)
        while entity < len(ENTITIES):
            model_events, collection = ENTITIES[entity]
            for page in self._pages(collection, cutoff, last):
                marks = {doc["_id"]: doc["through"] for doc in
                         self.marks.find({"_id": {"$in": [_mark_id(model_events, d) for d in page]}})}
                for doc in page:
                    mark = marks.get(_mark_id(model_events, doc))
                    if mark is not None and _aware(doc.get("last_update") or doc["created"]) <= _aware(mark):
                        report.tasks_skipped += 1
                        last = doc["_id"]
                        continue
                    report.tasks_checked += 1
                    removed, done = self._drop(doc, model_events, before_ms, deadline)
                    report.events_removed += removed
                    if not done:
                        return self._pause(report, entity, last, cutoff)
                    self.marks.update_one({"_id": _mark_id(model_events, doc)}, {"$set": {"through": cutoff}},
                                          upsert=True)
                    last = doc["_id"]
                    if time.monotonic() > deadline:
                        return self._pause(report, entity, last, cutoff)
            entity, last = entity + 1, None
        self._cursor = None
        if report.events_removed:
            log.info("events retention: %s", report)
        return report

    def _pause(self, report: RetentionReport, entity: int, last: str | None, cutoff: datetime) -> RetentionReport:
        self._cursor = (entity, last, cutoff)
        report.finished = False
        log.info("events retention (continuing): %s", report)
        return report

    def _pages(self, collection: str, cutoff: datetime, last: str | None):
        """The documents created before ``cutoff`` with ids after ``last``, a page at a time, by id."""
        while True:
            query = {**self.scope, "created": {"$lt": cutoff}, **({"_id": {"$gt": last}} if last else {})}
            page = list(self.db[collection].find(query, {"company": 1, "created": 1, "last_update": 1},
                                                 sort=[("_id", 1)], limit=TASK_PAGE))
            if not page:
                return
            yield page
            last = page[-1]["_id"]

    def _drop(self, doc: dict, model_events: bool, before_ms: int, deadline: float) -> tuple[int, bool]:
        company, task = doc.get("company") or "", doc["_id"]
        removed, done = drop_before(self.store, company, task, before_ms, model_events, batch=self.settings.batch,
                                    deadline=deadline)
        if removed.get(SCALAR):
            invalidate_pyramid(self.db, company, task, model_events)
        return sum(removed.values()), done


def _mark_id(model_events: bool, doc: dict) -> str:
    return f"{'model' if model_events else 'task'}:{doc['_id']}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
