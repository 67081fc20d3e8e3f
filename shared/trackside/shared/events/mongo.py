"""The MongoDB events backend: one ``events`` collection holding every type, written with one bulk_write.

Documents are the normalised events of :mod:`.store` with ``id`` stored as ``_id``. Every event is first
inserted (the common case: new events; an insert is far cheaper than an upsert on Mongo-wire servers). An event
with a deterministic id that already exists fails with a duplicate key and is then replaced, so a re-sent event
overwrites its earlier copy; log lines always get fresh ids.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timezone
from typing import Iterable, Sequence

from pymongo import InsertOne, ReplaceOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from trackside.shared.events.store import (
    DESC, LOG, EventFilter, EventStore, Page, SeriesInfo, WriteResult, complete_sort,
)
from trackside.shared.storage.mongo import ASCENDING as ASC, Collection, Index, ensure_indexes

# Each index starts with every field a read always filters on by equality and ends with _id, the tie-break of
# every sort, so a page of one task's events of one type is read in index order (either direction).
_PREFIX = (("company", ASC), ("task", ASC), ("model_event", ASC), ("type", ASC))
EVENTS = Collection("events", (
    # A task's series one after another, each by iteration (charts, series, plots, debug images).
    Index((*_PREFIX, ("metric", ASC), ("variant", ASC), ("iter", ASC), ("_id", ASC))),
    # A task's events in time order (the console log); also serves per-task deletion.
    Index((*_PREFIX, ("timestamp", ASC), ("_id", ASC))),
    # A task's events by iteration across series (events.get_task_events, the latest iterations).
    Index((*_PREFIX, ("iter", ASC), ("_id", ASC))),
    # A task's log lines by position (events.get_task_log_lines, events.search_task_log).
    Index((*_PREFIX, ("seq", ASC), ("_id", ASC))),
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
        docs = [_document(event) for event in events]
        created, failed = self._bulk([InsertOne(doc) for doc in docs], range(len(docs)))
        # Resent events (a client's retry) exist already: replace them. An upsert, because a concurrent
        # delete_for_tasks may have removed the copy in between.
        resent = [i for i, (code, _) in failed.items() if code == DUPLICATE_KEY and events[i]["type"] != LOG]
        for i in [i for i, (code, _) in failed.items() if code == DUPLICATE_KEY and events[i]["type"] == LOG]:
            del failed[i]  # a log line resent with its batch is stored already: the first copy keeps its place
        if resent:
            replaces = [ReplaceOne({"_id": docs[i]["_id"]}, docs[i], upsert=True) for i in resent]
            again_created, again_failed = self._bulk(replaces, resent)
            for i in resent:
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
        # One delete per task: secantusdb serves `task: <id>` from the index but reads the whole collection
        # for `task: {$in: [...]}` (4 s per 200,000 events, whatever the task holds).
        return sum(self.coll.delete_many({"company": company, "task": task, "model_event": model_events}).deleted_count
                   for task in dict.fromkeys(task_ids))

    def delete(self, flt: EventFilter) -> int:
        if not flt.tasks:
            raise ValueError("a delete must name its tasks")
        return sum(self.coll.delete_many(_query(part)).deleted_count for part in _split(flt))

    # -- reads ---------------------------------------------------------------------------------------------
    def search(self, flt: EventFilter, sort: Sequence[tuple[str, int]], limit: int,
               after: Sequence | None = None, fields: Sequence[str] | None = None) -> Page:
        sort = complete_sort(sort, after)
        if limit <= 0:
            return Page([], None)
        projection = None
        if fields is not None:
            projection = dict.fromkeys({_stored(name) for name in (*fields, *(name for name, _ in sort))}, 1)
        parts = _split(flt)
        if len(parts) > 1 and sort[0][0] == "task" and len({tuple(part.types) for part in parts}) == 1:
            # Sorted by task first, one part per task: the parts in that order, each read only while room is left.
            docs = []
            for part in sorted(parts, key=lambda part: part.tasks[0], reverse=sort[0][1] == DESC):
                docs += self._find(part, sort, limit - len(docs), after, projection)
                if len(docs) >= limit:
                    break
        else:
            docs = [doc for part in parts for doc in self._find(part, sort, limit, after, projection)]
            if len(parts) > 1:  # each part came back in order; together they are merged and cut
                docs = _in_order(docs, sort)[:limit]
        next_after = tuple(_value(docs[-1], name) for name, _ in sort) if docs else None
        keep = None if fields is None else {"id", *fields}
        return Page([_event(doc, keep) for doc in docs], next_after)

    def _find(self, flt: EventFilter, sort: list[tuple[str, int]], limit: int, after: Sequence | None,
              projection: dict | None) -> list[dict]:
        query = _query(flt)
        stored_sort = [(_stored(name), order) for name, order in sort]
        docs: list[dict] = []
        for branch in [{}] if after is None else _after_branches(sort, after):
            branch_query = _merged(query, branch)
            if branch_query is not None:
                docs += self.coll.find(branch_query, projection, sort=stored_sort, limit=limit - len(docs))
            if len(docs) >= limit:
                break
        return docs

    def count(self, flt: EventFilter) -> int:
        return sum(self.coll.count_documents(_query(part)) for part in _split(flt))

    def series(self, flt: EventFilter) -> dict[tuple[str, str, str], SeriesInfo]:
        found: dict[tuple[str, str, str], SeriesInfo] = {}
        for part in _split(flt):
            pipeline = [
                {"$match": _query(part)},
                {"$group": {"_id": {"task": "$task", "metric": "$metric", "variant": "$variant"},
                            "count": {"$sum": 1}, "max_iter": {"$max": "$iter"}, "min_iter": {"$min": "$iter"},
                            "min_timestamp": {"$min": "$timestamp"}, "max_timestamp": {"$max": "$timestamp"}}},
            ]
            for row in self.coll.aggregate(pipeline):
                key = (row["_id"]["task"], row["_id"]["metric"], row["_id"]["variant"])
                info = SeriesInfo(row["count"], row.get("max_iter"), row.get("min_iter"), row.get("min_timestamp"),
                                  row.get("max_timestamp"))
                found[key] = _combined(found[key], info) if key in found else info
        return found


# secantusdb reads the whole collection for `task: {$in: [...]}` (4 s per 200,000 events), but serves each value's
# equality from the index: a filter naming several tasks or types is asked as one query per (task, type) pair,
# up to this many pairs (more are asked as one query). A page then reads up to `limit` events per pair before the
# merge (except when sorted by task first, when pairs are read in order until the page is full); with MongoDB
# itself, which serves `$in` from the index, that is the price of one code path.
MAX_SPLIT = 64


def _split(flt: EventFilter) -> list[EventFilter]:
    tasks, types = list(dict.fromkeys(flt.tasks)), list(dict.fromkeys(flt.types))
    pairs = max(1, len(tasks)) * max(1, len(types))
    if pairs == 1 or pairs > MAX_SPLIT:
        return [flt]
    return [replace(flt, tasks=[task] if task is not None else [], types=[event_type] if event_type is not None else [])
            for task in tasks or [None] for event_type in types or [None]]


def _in_order(docs: list[dict], sort: Sequence[tuple[str, int]]) -> list[dict]:
    """``docs`` in ``sort`` order as MongoDB orders them (a missing value lowest); stable sorts, last field first."""
    for name, order in reversed(sort):
        stored = _stored(name)
        docs.sort(key=lambda doc: (doc.get(stored) is not None, doc.get(stored) if doc.get(stored) is not None else 0),
                  reverse=order == DESC)
    return docs


def _combined(a: SeriesInfo, b: SeriesInfo) -> SeriesInfo:
    """One series met in two parts (two event types of one task)."""
    def pick(fn, x, y):
        return x if y is None else y if x is None else fn(x, y)
    return SeriesInfo(a.count + b.count, pick(max, a.max_iter, b.max_iter), pick(min, a.min_iter, b.min_iter),
                      pick(min, a.min_timestamp, b.min_timestamp), pick(max, a.max_timestamp, b.max_timestamp))


def _query(flt: EventFilter) -> dict:
    query: dict = {"company": flt.company, "model_event": flt.model_events}
    if flt.tasks:
        query["task"] = _one_of(flt.tasks)
    if flt.types:
        query["type"] = _one_of(flt.types)
    if flt.metrics and len(flt.metrics) == 1:  # the common case, kept free of $or (see _after_branches)
        (metric, variants), = flt.metrics.items()
        query["metric"] = metric
        if variants:
            query["variant"] = _one_of(variants)
    elif flt.metrics:
        query["$or"] = [
            {"metric": metric, **({"variant": _one_of(variants)} if variants else {})}
            for metric, variants in flt.metrics.items()
        ]
    for name, low, high in (("iter", flt.iter_min, flt.iter_max), ("timestamp", flt.timestamp_min, flt.timestamp_max),
                            ("seq", flt.seq_min, flt.seq_max)):
        bounds = {}
        if low is not None:
            bounds["$gte"] = low
        if high is not None:
            # Both fields are integers: "< high + 1" is "<= high". secantusdb drops the keys equal to a $lte
            # bound when more index fields follow (iter 9 is not "<= 9" in (..., iter, _id)).
            bounds.update({"$lt": high + 1} if isinstance(high, int) else {"$lte": high})
        if bounds:
            query[name] = bounds
    return query


def _one_of(values: Sequence):
    values = list(values)
    return values[0] if len(values) == 1 else {"$in": values}


def _after_branches(sort: Sequence[tuple[str, int]], after: Sequence) -> list[dict]:
    """"Strictly after the sort key ``after``" as conditions without ``$or``, in sort order: the events equal to
    ``after`` on every field but the last and past it on that one, then those equal on one field fewer and past
    it on the next, and so on. Each is an equality prefix plus one range, which Mongo-wire servers answer from
    the index (secantusdb reads the whole collection for any ``$or``). A missing field (None) sorts lowest,
    as MongoDB orders it."""
    branches = []
    for position in reversed(range(len(sort))):
        name, order = sort[position]
        equal = {_stored(prev): {"$eq": after[i]} for i, (prev, _) in enumerate(sort[:position])}
        for past in _past(order, after[position]):
            branches.append({**equal, _stored(name): past})
    return branches


def _past(order: int, value) -> list[dict]:
    """The conditions, in sort order, for "comes after ``value``" on one field."""
    if value is None:
        return [{"$ne": None}] if order == ASC else []
    if order == ASC:
        return [{"$gt": value}]
    return [{"$lt": value}, {"$eq": None}]


def _merged(query: dict, branch: dict) -> dict | None:
    """``query`` narrowed by ``branch`` (field -> operators), kept flat; None when they contradict."""
    merged = dict(query)
    for name, condition in branch.items():
        existing = merged.get(name)
        if existing is None:
            merged[name] = condition
            continue
        if not (isinstance(existing, dict) and all(key.startswith("$") for key in existing)):
            existing = {"$eq": existing}
        combined = dict(existing)
        for op, value in condition.items():
            if op in combined and combined[op] != value:
                if op in ("$lt", "$lte"):  # two upper bounds (the filter's and the cursor's): the tighter
                    value = min(combined[op], value)
                elif op in ("$gt", "$gte"):
                    value = max(combined[op], value)
                else:
                    return None  # $eq meeting $eq: two different values
            combined[op] = value
        if _empty(combined):
            return None
        merged[name] = combined
    return merged


def _empty(condition: dict) -> bool:
    """Whether a field's range conditions leave no value, so the branch need not be asked at all."""
    if "$eq" in condition and condition["$eq"] is None:
        return any(op in condition for op in ("$gt", "$gte", "$lt", "$lte", "$in"))
    values = [v for op, v in condition.items() if op in ("$eq", "$gt", "$gte", "$lt", "$lte")]
    if len({type(v) for v in values}) > 1 and not all(isinstance(v, (int, float)) for v in values):
        return False
    low = max(((v, op == "$gt") for op, v in condition.items() if op in ("$gt", "$gte", "$eq")), default=None)
    high = min(((v, op != "$lt") for op, v in condition.items() if op in ("$lt", "$lte", "$eq")), default=None)
    if low is None or high is None:
        return False
    return low[0] > high[0] or (low[0] == high[0] and (low[1] or not high[1]))


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


def _document(event: dict) -> dict:
    # The replacement of a resent event repeats the _id: some Mongo-wire servers do not take it from the
    # filter on upsert.
    return {"_id": event["id"], **{key: value for key, value in event.items() if key != "id"}}
