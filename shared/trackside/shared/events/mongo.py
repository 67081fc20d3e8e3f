"""The MongoDB events backend: one ``events`` collection holding every type, written with one bulk_write.

Documents are the normalised events of :mod:`.store` with ``id`` stored as ``_id``. Events with a deterministic
id are upserted with a replacement, so a re-sent event overwrites its earlier copy; log lines are inserted.
"""
from __future__ import annotations

import logging
from typing import Iterable, Sequence

from pymongo import InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from trackside.shared.events.store import LOG, EventStore, WriteResult
from trackside.shared.storage.mongo import ASCENDING as ASC, DESCENDING as DESC, Collection, Index, ensure_indexes

EVENTS = Collection("events", (
    # A task's metric series, by iteration (scalars, plots, debug images).
    Index((("company", ASC), ("task", ASC), ("type", ASC), ("metric", ASC), ("variant", ASC), ("iter", DESC))),
    # A task's events in time order (the console log) and per-task deletion.
    Index((("company", ASC), ("task", ASC), ("type", ASC), ("timestamp", DESC))),
))
DUPLICATE_KEY = 11000
WRITE_FAILED = "Error when indexing events batch"

log = logging.getLogger(__name__)


class MongoEventStore(EventStore):
    def __init__(self, db: Database):
        self.db = db
        self.coll = db[EVENTS.name]

    def setup(self) -> None:
        ensure_indexes(self.db, [EVENTS])

    def write(self, events: Sequence[dict]) -> WriteResult:
        if not events:
            return WriteResult()
        ops = [_operation(event) for event in events]
        created, failed = self._bulk(ops, range(len(ops)))
        # Two requests upserting the same new id at once: the loser gets a duplicate-key error although the
        # document now exists. Once more replaces it, as the retry it is.
        raced = [i for i, (code, _) in failed.items() if code == DUPLICATE_KEY and events[i]["type"] != LOG]
        if raced:
            again_created, again_failed = self._bulk([ops[i] for i in raced], raced)
            for i in raced:
                del failed[i]
            created |= again_created
            failed.update(again_failed)
        for code, message in failed.values():
            log.warning("event not stored (code %s): %s", code, message)
        return WriteResult(frozenset(created), {i: WRITE_FAILED for i in failed})

    def _bulk(self, ops: list, indexes: Iterable[int]) -> tuple[set[int], dict[int, tuple[int, str]]]:
        """Run ``ops`` unordered; (the created ones, failed ones -> (code, message)), in caller indexes."""
        indexes = list(indexes)
        try:
            details = self.coll.bulk_write(ops, ordered=False).bulk_api_result
        except BulkWriteError as exc:
            details = exc.details
        failed = {indexes[e["index"]]: (e.get("code"), e.get("errmsg", "")) for e in details.get("writeErrors", ())}
        created = {indexes[u["index"]] for u in details.get("upserted", ())}
        created |= {indexes[n] for n, op in enumerate(ops) if isinstance(op, InsertOne)} - set(failed)
        return created, failed

    def delete_for_tasks(self, company: str, task_ids: Iterable[str], model_events: bool = False) -> int:
        task_ids = list(task_ids)
        if not task_ids:
            return 0
        query = {"company": company, "task": {"$in": task_ids}, "model_event": model_events}
        return self.coll.delete_many(query).deleted_count

    # Reads: implemented with the events reading endpoints (issue 3).
    def search(self, flt, sort, limit, after=None, fields=None):
        raise NotImplementedError

    def count(self, flt):
        raise NotImplementedError

    def series(self, flt):
        raise NotImplementedError


def _operation(event: dict):
    doc = {"_id": event["id"], **{key: value for key, value in event.items() if key != "id"}}
    if event["type"] == LOG:
        return InsertOne(doc)
    # The replacement repeats the _id: some Mongo-wire servers do not take it from the filter on upsert.
    return ReplaceOne({"_id": event["id"]}, doc, upsert=True)
