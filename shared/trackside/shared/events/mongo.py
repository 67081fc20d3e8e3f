"""The MongoDB events backend: one ``events`` collection holding every type, written with one bulk_write.

Documents are the normalised events of :mod:`.store` with ``id`` stored as ``_id``. Events with a deterministic
id are upserted with a replacement, so a re-sent event overwrites its earlier copy; log lines are inserted.
"""
from __future__ import annotations

import logging
from datetime import timezone
from typing import Iterable, Sequence

from pymongo import InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from trackside.shared.events.store import (
    LOG, EventFilter, EventStore, Page, SeriesInfo, WriteResult, complete_sort,
)
from trackside.shared.storage.mongo import ASCENDING as ASC, Collection, Index, ensure_indexes

# Each index ends with _id, the tie-break of every read's sort, so a sorted page is read in index order
# (either direction) instead of sorting the task's events in memory.
EVENTS = Collection("events", (
    # A task's series one after another, each by iteration (charts, series, plots, debug images).
    Index((("company", ASC), ("task", ASC), ("type", ASC), ("metric", ASC), ("variant", ASC), ("iter", ASC),
           ("_id", ASC))),
    # A task's events in time order (the console log) and per-task deletion.
    Index((("company", ASC), ("task", ASC), ("type", ASC), ("timestamp", ASC), ("_id", ASC))),
    # A task's events by iteration across series (events.get_task_events, the latest iterations).
    Index((("company", ASC), ("task", ASC), ("type", ASC), ("iter", ASC), ("_id", ASC))),
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

    # -- reads ---------------------------------------------------------------------------------------------
    def search(self, flt: EventFilter, sort: Sequence[tuple[str, int]], limit: int,
               after: Sequence | None = None, fields: Sequence[str] | None = None) -> Page:
        sort = complete_sort(sort)
        query = _query(flt)
        if after is not None:
            query = {"$and": [query, _after(sort, after)]}
        projection = None
        if fields is not None:
            projection = dict.fromkeys({_stored(name) for name in (*fields, *(name for name, _ in sort))}, 1)
        if limit <= 0:
            return Page([], None)
        docs = list(self.coll.find(query, projection, sort=[(_stored(name), order) for name, order in sort],
                                   limit=limit))
        next_after = tuple(_value(docs[-1], name) for name, _ in sort) if docs else None
        keep = None if fields is None else {"id", *fields}
        return Page([_event(doc, keep) for doc in docs], next_after)

    def count(self, flt: EventFilter) -> int:
        return self.coll.count_documents(_query(flt))

    def series(self, flt: EventFilter) -> dict[tuple[str, str, str], SeriesInfo]:
        pipeline = [
            {"$match": _query(flt)},
            {"$group": {"_id": {"task": "$task", "metric": "$metric", "variant": "$variant"},
                        "count": {"$sum": 1}, "max_iter": {"$max": "$iter"}, "min_iter": {"$min": "$iter"},
                        "min_timestamp": {"$min": "$timestamp"}, "max_timestamp": {"$max": "$timestamp"}}},
        ]
        return {
            (row["_id"]["task"], row["_id"]["metric"], row["_id"]["variant"]):
                SeriesInfo(row["count"], row.get("max_iter"), row.get("min_iter"), row.get("min_timestamp"),
                           row.get("max_timestamp"))
            for row in self.coll.aggregate(pipeline)
        }


def _query(flt: EventFilter) -> dict:
    query: dict = {"company": flt.company, "model_event": flt.model_events}
    if flt.tasks:
        query["task"] = _one_of(flt.tasks)
    if flt.types:
        query["type"] = _one_of(flt.types)
    if flt.metrics:
        query["$or"] = [
            {"metric": metric, **({"variant": _one_of(variants)} if variants else {})}
            for metric, variants in flt.metrics.items()
        ]
    for name, low, high in (("iter", flt.iter_min, flt.iter_max), ("timestamp", flt.timestamp_min, flt.timestamp_max)):
        bounds = {op: value for op, value in (("$gte", low), ("$lte", high)) if value is not None}
        if bounds:
            query[name] = bounds
    return query


def _one_of(values: Sequence):
    values = list(values)
    return values[0] if len(values) == 1 else {"$in": values}


def _after(sort: Sequence[tuple[str, int]], after: Sequence) -> dict:
    """Events strictly after the sort key ``after``: equal on a prefix of the sort, then past it on the next
    field. A missing field (None) sorts lowest, as MongoDB orders it."""
    if len(after) != len(sort):
        raise ValueError(f"'after' has {len(after)} values for a sort on {len(sort)} fields")
    branches = []
    for position, (name, order) in enumerate(sort):
        past = _past(_stored(name), order, after[position])
        if past is not None:
            equal = {_stored(prev): after[i] for i, (prev, _) in enumerate(sort[:position])}
            branches.append({"$and": [*({k: v} for k, v in equal.items()), past]} if equal else past)
    return {"$or": branches} if branches else {"_id": {"$exists": False}}


def _past(name: str, order: int, value) -> dict | None:
    """The condition "comes after ``value`` on this field"; None when nothing can."""
    if value is None:
        return {name: {"$ne": None}} if order == ASC else None
    if order == ASC:
        return {name: {"$gt": value}}
    return {"$or": [{name: {"$lt": value}}, {name: None}]}


def _stored(name: str) -> str:
    return "_id" if name == "id" else name


def _value(doc: dict, name: str):
    return doc.get(_stored(name))


def _event(doc: dict, keep: set | None) -> dict:
    event = {"id": doc["_id"], **{key: value for key, value in doc.items() if key != "_id"}}
    if keep is not None:
        event = {key: value for key, value in event.items() if key in keep}
    time = event.get("time")
    if time is not None and time.tzinfo is None:  # a client opened without tz_aware
        event["time"] = time.replace(tzinfo=timezone.utc)
    return event


def _operation(event: dict):
    doc = {"_id": event["id"], **{key: value for key, value in event.items() if key != "id"}}
    if event["type"] == LOG:
        return InsertOne(doc)
    # The replacement repeats the _id: some Mongo-wire servers do not take it from the filter on upsert.
    return ReplaceOne({"_id": event["id"]}, doc, upsert=True)
