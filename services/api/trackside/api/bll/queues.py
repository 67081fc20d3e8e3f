"""Queues: a document per queue whose ``entries`` list is the durable order of queued tasks.

Full dispatch (Redis streams, workers) builds on this record in a later stage; here are the queue documents
and the entry bookkeeping that ``tasks.enqueue``/``dequeue`` need.
"""
from __future__ import annotations

import random
import time

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import get_all, get_one, insert_unique
from trackside.api.context import Identity
from trackside.shared.ids import is_id, new_id
from trackside.shared.storage.query import QuerySpec
from trackside.shared.timeutil import utcnow

DEFAULT_TAG = "default"
SPEC = QuerySpec(pattern_fields=("name", "display_name"), list_fields=("id", "tags", "system_tags", "user"))


class QueuesBLL:
    def __init__(self, db: Database):
        self.coll = db["queues"]

    def ensure_default(self, company: str, name: str) -> None:
        if self.coll.find_one({"company": company, "system_tags": DEFAULT_TAG}, {"_id": 1}):
            return
        doc = self._new_doc(company, None, name, tags=[], system_tags=[DEFAULT_TAG])
        try:
            insert_unique(self.coll, doc, f"queue {name!r}")
        except errors.ExpectedUniqueData:  # another worker process created it first
            pass

    def get(self, company: str, queue_id: str, only_fields: list[str] | None = None) -> dict:
        if not is_id(queue_id):
            # The SDK resolves names by expecting this call to fail for a name.
            raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)
        return get_one(self.coll, company, queue_id, errors.InvalidQueueId, only_fields, kind="queue")

    def get_all(self, company: str, params: dict) -> list[dict]:
        return get_all(self.coll, company, params, SPEC)

    def get_default(self, company: str) -> dict:
        found = list(self.coll.find({"company": company, "system_tags": DEFAULT_TAG}, {"name": 1}).limit(2))
        if not found:
            raise errors.NoDefaultQueue()
        if len(found) > 1:
            raise errors.MultipleDefaultQueues()
        return {"id": found[0]["_id"], "name": found[0]["name"]}

    def create(self, identity: Identity, name: str, display_name: str | None, tags: list, system_tags: list) -> str:
        doc = self._new_doc(identity.company, identity.user, name, tags, system_tags, display_name)
        insert_unique(self.coll, doc, f"queue {name!r}")
        return doc["_id"]

    def get_or_create(self, identity: Identity, name: str) -> str:
        """The id of the queue called ``name``, created when missing (tasks.enqueue with ``queue_name``)."""
        found = self.coll.find_one({"company": identity.company, "name": name}, {"_id": 1})
        if found:
            return found["_id"]
        try:
            return self.create(identity, name, None, [], [])
        except errors.ExpectedUniqueData:  # another request created it first
            return self.coll.find_one({"company": identity.company, "name": name}, {"_id": 1})["_id"]

    # -- entries ---------------------------------------------------------------------------------------
    def add_entry(self, company: str, queue_id: str, task_id: str) -> None:
        entry = {"task": task_id, "added": utcnow()}
        result = self.coll.update_one(
            {"_id": queue_id, "company": company, "entries.task": {"$ne": task_id}},
            {"$push": {"entries": entry}, "$set": {"last_update": utcnow()}},
        )
        if not result.matched_count:
            self.get(company, queue_id)  # raises for an unknown queue
            raise errors.TaskAlreadyQueued(task=task_id, queue=queue_id)

    def remove_entry(self, company: str, queue_id: str | None, task_id: str) -> int:
        query: dict = {"company": company, "entries.task": task_id}
        if queue_id:
            query["_id"] = queue_id
        return self.coll.update_many(
            query, {"$pull": {"entries": {"task": task_id}}, "$set": {"last_update": utcnow()}}
        ).modified_count

    def pop_entry(self, company: str, queue_id: str, budget_sec: float = 30.0) -> dict | None:
        """Take the head entry, exactly once across concurrent callers.

        A compare-and-swap: pop only if the head is still the entry just read. (``find_one_and_update``
        returning the document *before* the pop is not exactly-once on the embedded Mongo-wire server; see
        ARCHITECTURE.md.) A miss means another caller took the head, so the queue always makes progress;
        a caller retries, with a short random back-off to spread contenders, until its time budget runs out.
        """
        deadline = time.monotonic() + budget_sec
        while True:
            queue = self.coll.find_one({"_id": queue_id, "company": company}, {"entries": 1})
            if not queue or not queue.get("entries"):
                return None
            head = queue["entries"][0]
            claimed = self.coll.update_one(
                {"_id": queue_id, "entries.0.task": head["task"]},
                {"$pop": {"entries": -1}, "$set": {"last_update": utcnow()}},
            )
            if claimed.modified_count:
                return head
            if time.monotonic() > deadline:
                raise errors.InternalError(f"queue {queue_id}: could not take the head entry under contention")
            time.sleep(random.uniform(0, 0.005))

    def _new_doc(self, company: str, user: str | None, name: str, tags: list, system_tags: list,
                 display_name: str | None = None) -> dict:
        now = utcnow()
        return {
            "_id": new_id(), "company": company, "user": user, "name": name, "display_name": display_name,
            "tags": tags or [], "system_tags": system_tags or [], "entries": [], "metadata": {},
            "created": now, "last_update": now,
        }

