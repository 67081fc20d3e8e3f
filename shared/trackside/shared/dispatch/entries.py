"""A queue's ``entries`` list in MongoDB: the durable order of its queued tasks.

Every write is a single conditional ``update_one``, so concurrent API processes, claims and the reconcile
never lose or duplicate an entry. The head is taken by compare-and-swap on ``entries.0.task`` (never
``find_one_and_update``: not exactly-once on the embedded server, see ARCHITECTURE.md).
"""
from __future__ import annotations

import random
import time
from datetime import datetime

from pymongo.collection import Collection

from trackside.shared.timeutil import utcnow


class Contention(RuntimeError):
    """The head could not be taken within the time budget (every attempt lost to another taker)."""


def _now() -> datetime:
    return utcnow()


class QueueEntries:
    def __init__(self, coll: Collection):
        self.coll = coll

    def push(self, company: str, queue_id: str, entry: dict, at_head: bool = False) -> bool:
        """Add ``entry`` unless its task is already in the queue. False when the queue is missing or the task
        is already there."""
        push: dict = {"$each": [entry], "$position": 0} if at_head else entry
        result = self.coll.update_one(
            {"_id": queue_id, "company": company, "entries.task": {"$ne": entry["task"]}},
            {"$push": {"entries": push}, "$set": {"last_update": _now()}},
        )
        return bool(result.modified_count)

    def remove(self, company: str, queue_id: str | None, task_id: str) -> list[str]:
        """Take ``task_id`` out of ``queue_id`` (or of every queue); the ids of the queues it left."""
        query: dict = {"company": company, "entries.task": task_id}
        if queue_id:
            query["_id"] = queue_id
        left = [q["_id"] for q in self.coll.find(query, {"_id": 1})]
        if left:
            self.coll.update_many({**query, "_id": {"$in": left}},
                                  {"$pull": {"entries": {"task": task_id}}, "$set": {"last_update": _now()}})
        return left

    def read(self, company: str, queue_id: str) -> list[dict] | None:
        """All entries in order; None for an unknown queue."""
        queue = self.coll.find_one({"_id": queue_id, "company": company}, {"entries": 1})
        return None if queue is None else list(queue.get("entries") or [])

    def replace(self, company: str, queue_id: str, old: list[dict], new: list[dict]) -> bool:
        """Set the entries to ``new`` if they are still exactly ``old`` (compare-and-swap of the list)."""
        return bool(self.coll.update_one(
            {"_id": queue_id, "company": company, "entries": old},
            {"$set": {"entries": new, "last_update": _now()}},
        ).matched_count)

    def pop_head(self, company: str, queue_id: str, budget_sec: float = 30.0) -> dict | None:
        """Take the head entry, exactly once across concurrent callers; None when the queue is empty.

        Pop only if the head is still the entry just read. A miss means another caller took the head, so
        the queue always makes progress; a caller retries with a short random back-off (spreading
        contenders) until its time budget runs out.
        """
        deadline = time.monotonic() + budget_sec
        while True:
            head = self.head(company, queue_id)
            if head is None:
                return None
            if self.pop_if_head(company, queue_id, head["task"]):
                return head
            if time.monotonic() > deadline:
                raise Contention(f"queue {queue_id}: could not take the head entry under contention")
            time.sleep(random.uniform(0, 0.005))

    def pop_if_head(self, company: str, queue_id: str, task_id: str) -> bool:
        """Pop the head only if it is ``task_id`` (compare-and-swap)."""
        return bool(self.coll.update_one(
            {"_id": queue_id, "company": company, "entries.0.task": task_id},
            {"$pop": {"entries": -1}, "$set": {"last_update": _now()}},
        ).modified_count)

    def head(self, company: str, queue_id: str) -> dict | None:
        queue = self.coll.find_one({"_id": queue_id, "company": company}, {"entries": {"$slice": 1}})
        entries = (queue or {}).get("entries") or []
        return entries[0] if entries else None

    def count(self, company: str, queue_id: str) -> int | None:
        """The number of entries, counted by the server (no entries sent); None for an unknown queue."""
        found = list(self.coll.aggregate([
            {"$match": {"_id": queue_id, "company": company}},
            {"$project": {"n": {"$size": {"$ifNull": ["$entries", []]}}}},
        ]))
        return int(found[0]["n"]) if found else None

    def stats(self, company: str, queue_id: str) -> tuple[int, float] | None:
        """``(length, average added time as epoch milliseconds)`` computed by the server."""
        found = list(self.coll.aggregate([
            {"$match": {"_id": queue_id, "company": company}},
            {"$project": {
                "n": {"$size": {"$ifNull": ["$entries", []]}},
                "avg": {"$avg": {"$map": {"input": {"$ifNull": ["$entries", []]}, "as": "e",
                                          "in": {"$toLong": "$$e.added"}}}},
            }},
        ]))
        if not found:
            return None
        return int(found[0]["n"]), float(found[0].get("avg") or 0.0)

    def queue_ids(self) -> list[tuple[str, str]]:
        """``(company, queue id)`` of every queue."""
        return [(q["company"], q["_id"]) for q in self.coll.find({}, {"company": 1})]
