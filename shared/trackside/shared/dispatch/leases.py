"""Leases: a task claimed from a queue but not started yet (MongoDB collection ``queue_leases``).

A lease is ``{_id, company, task (unique), queue, worker, entry, claimed, expires, state}`` with state
``held`` or ``returning``; it is written before the queue head is popped, and removed if the pop misses. Starting the task takes the lease away (compare-and-delete on ``held``); the
reconcile returns an expired lease by first switching it to ``returning`` (compare-and-set), so at most one
of the two wins and a task whose lease came back to its queue is never started by the late agent.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from trackside.shared.ids import new_id
from trackside.shared.timeutil import utcnow

COLLECTION = "queue_leases"
HELD, RETURNING = "held", "returning"


def _now() -> datetime:
    return utcnow()


class LeaseStore:
    def __init__(self, db: Database):
        self.coll = db[COLLECTION]

    def ensure_indexes(self) -> None:
        self.coll.create_index([("task", ASCENDING)], unique=True, name="task_unique")
        self.coll.create_index([("state", ASCENDING), ("expires", ASCENDING)], name="state_expires")

    def try_grant(self, company: str, task: str, queue: str, worker: str | None, entry: dict,
                  lease_sec: float) -> dict | None:
        """Record that ``worker`` is taking ``task`` from the head of ``queue`` (before the pop, so a crash
        between the two leaves a lease that expires, never a task in no queue). None when another lease on
        the task exists: another claimer is taking it right now, or an abandoned attempt (see ``abandoned``)."""
        now = _now()
        lease = {
            "_id": new_id(), "company": company, "task": task, "queue": queue, "worker": worker,
            "entry": entry, "claimed": now, "expires": now + timedelta(seconds=lease_sec), "state": HELD,
        }
        try:
            self.coll.insert_one(lease)
            return lease
        except DuplicateKeyError:
            return None

    def clear_abandoned(self, company: str, task: str, older_than_sec: float) -> bool:
        """Delete the lease on ``task`` if it is older than ``older_than_sec``. Called only for a task that
        sits at the head of its queue: a lease that old on it was left by a claim that died between the lease
        and the pop (a live claimer takes milliseconds), or by a return interrupted half-way."""
        cutoff = _now() - timedelta(seconds=older_than_sec)
        return self.coll.delete_one({"company": company, "task": task, "claimed": {"$lt": cutoff}}).deleted_count == 1

    def take(self, company: str, task: str, lease_id: str) -> bool:
        """The holder starts the task: True if the lease was still held (and is now gone)."""
        return self.coll.delete_one({"_id": lease_id, "company": company, "task": task, "state": HELD}).deleted_count == 1

    def drop(self, company: str, task: str) -> int:
        """Forget any lease on ``task`` (started, dequeued, stopped, reset or enqueued again)."""
        return self.coll.delete_many({"company": company, "task": task}).deleted_count

    def drop_for_queue(self, company: str, queue: str) -> list[str]:
        """Forget the leases taken from ``queue`` (deleted); the ids of their tasks."""
        tasks = [lease["task"] for lease in self.coll.find({"company": company, "queue": queue}, {"task": 1})]
        if tasks:
            self.coll.delete_many({"company": company, "queue": queue, "task": {"$in": tasks}})
        return tasks

    def get(self, company: str, task: str) -> dict | None:
        return self.coll.find_one({"company": company, "task": task})

    # -- the reconcile's side ------------------------------------------------------------------------------
    def due(self, now: datetime | None = None) -> list[dict]:
        """Leases to return: held past their expiry, and any left ``returning`` by an interrupted pass."""
        now = now or _now()
        return list(self.coll.find({"$or": [{"state": HELD, "expires": {"$lt": now}}, {"state": RETURNING}]}))

    def mark_returning(self, lease_id: str) -> bool:
        return self.coll.update_one({"_id": lease_id, "state": HELD}, {"$set": {"state": RETURNING}}).modified_count == 1

    def forget(self, lease_id: str) -> None:
        self.coll.delete_one({"_id": lease_id})
