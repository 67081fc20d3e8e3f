"""Queue metrics samples (MongoDB collection ``queue_metrics``): a queue's length and the average time its
entries have waited, written whenever the queue changes and refreshed by the watchdog when it does not.

``queues.get_queue_metrics`` reads them as a date histogram (``trackside.api.bll.queue_metrics``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

from trackside.shared.dispatch.entries import QueueEntries
from trackside.shared.timeutil import utcnow

COLLECTION = "queue_metrics"
log = logging.getLogger(__name__)


def _now() -> datetime:
    return utcnow()


class QueueMetricsRecorder:
    def __init__(self, db: Database):
        self.coll = db[COLLECTION]
        self.entries = QueueEntries(db["queues"])

    def ensure_indexes(self) -> None:
        self.coll.create_index([("company", ASCENDING), ("queue", ASCENDING), ("time", ASCENDING)],
                               name="company_queue_time")
        self.coll.create_index([("time", ASCENDING)], name="time")

    def record(self, company: str, queue_id: str) -> None:
        """Sample the queue as it is now. A failure is logged: metrics never fail a queue operation."""
        try:
            stats = self.entries.stats(company, queue_id)
            if stats is None:
                return
            length, avg_added_ms = stats
            now = _now()
            waiting = max(0.0, now.timestamp() - avg_added_ms / 1000.0) if length and avg_added_ms else 0.0
            self.coll.insert_one({"company": company, "queue": queue_id, "time": now, "length": length,
                                  "avg_waiting_time": waiting})
        except PyMongoError as exc:
            log.warning("queue metrics: no sample for queue %s: %s", queue_id, exc)

    def refresh(self, queues: list[tuple[str, str]], older_than_sec: float) -> int:
        """Sample each ``(company, queue)`` whose latest sample is older than ``older_than_sec``."""
        cutoff = _now() - timedelta(seconds=older_than_sec)
        sampled = 0
        for company, queue_id in queues:
            latest = self.coll.find_one({"company": company, "queue": queue_id, "time": {"$gte": cutoff}}, {"_id": 1})
            if latest is None:
                self.record(company, queue_id)
                sampled += 1
        return sampled

    def prune(self, retention_sec: float) -> int:
        return self.coll.delete_many({"time": {"$lt": _now() - timedelta(seconds=retention_sec)}}).deleted_count
