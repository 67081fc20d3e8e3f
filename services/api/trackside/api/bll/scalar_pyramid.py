"""Pre-aggregated scalar series: per series, count/first/last/min/max of fixed-width x buckets at many widths.

Reading a million events per chart is out of reach for any store answering through Python (the embedded
Mongo-wire server reads ~30 µs per event), so ingestion also keeps, for every scalar series and for both x keys
(iteration and timestamp), buckets at a few widths (``LEVELS``: 16, 256, 4096 iterations; 1 s, 16 s,
4.4 minutes). A coarse view reads a few hundred buckets of one level instead of the events, and merges them with
M4 (``event_downsample``); the edges of a zoomed range that no whole bucket covers come from finer levels, and
the last few x units from the raw events, so every answer equals M4 over the raw points on the same grid.

Storage (MongoDB, the backend database, whatever the events backend: like ``last_metrics`` these summaries
belong to the task):
- ``event_scalar_series``: one document per task (or model): ``s.<series hash> = {metric, variant, n (events),
  min/max_iter, min/max_ts, x_axis_label}``; a task's charts and their ranges without touching the events.
- ``event_scalar_buckets``: one document per (task, group of series, key, level, block of ``BLOCK``
  consecutive buckets): ``s.<series hash>.<bucket index> = {n, f, l, lo, hi}``. Documents stay small, because the
  embedded server rewrites a whole document on every update and reads a whole one for any projection.
  Points are sortable strings (``encode_x`` / ``encode_y``: fixed-width hex that orders as the numbers), so
  ``$min``/``$max`` keep first (lowest x), last (highest x), lowest y and highest y atomically, in any order,
  under concurrent batches; ``n`` is ``$inc``-ed for new events only (a resent event is not counted twice).
  One upsert per touched document and batch: a batch of consecutive iterations touches about one document
  per group, level and key (at most 4 x 6), plus the task's series document.

Limits: an event replaced by a resend with a different value leaves its old value in the buckets' extremes
(the count stays right); events stored before the pyramid existed are charted from the raw events.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from pymongo import UpdateOne
from pymongo.database import Database

from trackside.api.bll.event_downsample import Extremes
from trackside.shared.events import SCALAR
from trackside.shared.events.summaries import PYRAMID_BUCKETS, PYRAMID_SERIES, STALE, invalidate_pyramid
from trackside.shared.storage.mongo import ASCENDING as ASC, Collection, Index, ensure_indexes

# The levels kept per x key, named by their bucket width: 16, 256, 4096 iterations; 1 s, 16 s, 4.4 minutes
# (in ms). Each divides the next, so a finer level's buckets never straddle a coarser one's. Coarser views merge
# the top level's buckets (a series of 16 M iterations has 4096 of them); finer ranges read the raw events.
# Each level costs one upsert per series and batch at ingestion, so there are few of them.
LEVELS = {"iter": (16, 256, 4096), "timestamp": (1024, 16_384, 262_144)}
# Buckets per series and document.
BLOCK = 64
# A task's series share bucket documents in this many groups (by a hash of their names): a batch reporting 20
# series then costs one upsert per group, level and key instead of one per series.
GROUPS = 4
FIELD = {"iter": "iter", "timestamp": "timestamp"}
# The iteration single values are reported at (Logger.report_single_value): never a chart.
SINGLE_VALUE_ITERATION = -2**31

SERIES = Collection(PYRAMID_SERIES, (
    Index((("company", ASC), ("task", ASC), ("model_event", ASC))),
))
BUCKETS = Collection(PYRAMID_BUCKETS, (
    Index((("company", ASC), ("task", ASC), ("model_event", ASC))),
))


def width(level: int) -> int:
    """A level's bucket width (levels are named by it)."""
    return level


# -- sortable point encodings -------------------------------------------------------------------------------
_X_OFFSET = 2**63
_SIGN = 1 << 63
_ALL = (1 << 64) - 1


def encode_x(x: int) -> str:
    return f"{x + _X_OFFSET:016x}"


def decode_x(text: str) -> int:
    return int(text, 16) - _X_OFFSET


def encode_y(y: float) -> str:
    """A float as 16 hex digits ordering as the numbers (IEEE-754 bits, negatives flipped)."""
    bits = struct.unpack(">Q", struct.pack(">d", y + 0.0))[0]  # + 0.0: -0.0 sorts as 0.0
    return f"{bits ^ _ALL if bits & _SIGN else bits | _SIGN:016x}"


def decode_y(text: str) -> float:
    bits = int(text, 16)
    bits = bits ^ _SIGN if bits & _SIGN else bits ^ _ALL
    return struct.unpack(">d", struct.pack(">Q", bits))[0]


def _xy(text: str) -> tuple[int, float]:
    return decode_x(text[:16]), decode_y(text[16:])


def _yx(text: str) -> tuple[int, float]:
    return decode_x(text[16:]), decode_y(text[:16])


def decode_piece(entry: Mapping) -> Extremes:
    return Extremes(int(entry.get("n") or 0), _xy(entry["f"]), _xy(entry["l"]), _yx(entry["lo"]), _yx(entry["hi"]))


def _doc_id(*parts) -> str:
    return hashlib.md5(json.dumps(parts).encode(), usedforsecurity=False).hexdigest()


def series_hash(metric: str, variant: str) -> str:
    """A series' field name in the summary documents (names may hold '.' and '$')."""
    return _doc_id(metric, variant)[:16]


def group_of(shash: str) -> int:
    return int(shash[:8], 16) % GROUPS


@dataclass(frozen=True)
class SeriesKey:
    task: str
    metric: str
    variant: str


@dataclass(frozen=True)
class SeriesSummary:
    count: int
    min_iter: int
    max_iter: int
    min_timestamp: int
    max_timestamp: int
    x_axis_label: str | None = None

    def x_range(self, key: str) -> tuple[int, int]:
        return (self.min_iter, self.max_iter) if key == "iter" else (self.min_timestamp, self.max_timestamp)


@dataclass(frozen=True)
class PieceRequest:
    """Whole buckets ``lo``..``hi`` of one level of one series."""

    series: SeriesKey
    key: str
    level: int
    lo: int
    hi: int


class ScalarPyramid:
    def __init__(self, db: Database):
        self.db = db
        self.series_coll = db[SERIES.name]
        self.buckets = db[BUCKETS.name]

    def setup(self) -> None:
        ensure_indexes(self.db, [SERIES, BUCKETS])

    # -- ingestion ------------------------------------------------------------------------------------------
    def add(self, company: str, written: Iterable[tuple[dict, bool]]) -> None:
        """Fold written scalar events ((event, created) pairs) into their series' buckets."""
        series, docs = _fold(written)
        if not series:
            return
        # The buckets first: a series listed is then always backed by its buckets.
        self.buckets.bulk_write([self._buckets_update(company, doc_key, buckets) for doc_key, buckets in docs.items()],
                                ordered=False)
        self.series_coll.bulk_write([self._series_update(company, entity, summaries)
                                     for entity, summaries in series.items()], ordered=False)

    def insert_new(self, company: str, events: Iterable[dict]) -> None:
        """Buckets for series that have none yet, written whole (a bulk load: every event of each series
        at once, e.g. building the buckets of events stored before the pyramid existed)."""
        series, docs = _fold((event, True) for event in events)
        bucket_docs = []
        for doc_key, buckets in docs.items():
            (model_event, task), group, key, level, block = doc_key
            entries: dict = {}
            for (shash, index), (count, ext) in buckets.items():
                entries.setdefault(shash, {})[str(index)] = _entry(count, ext)
            bucket_docs.append({"_id": _doc_id(company, model_event, task, group, key, level, block),
                                "company": company, "task": task, "model_event": model_event, "group": group,
                                "key": key, "level": level, "block": block, "s": entries})
        if bucket_docs:
            self.buckets.insert_many(bucket_docs, ordered=False)
        series_docs = []
        for (model_event, task), summaries in series.items():
            entries = {}
            for (metric, variant), summary in summaries.items():
                entries[series_hash(metric, variant)] = {
                    "metric": metric, "variant": variant, "n": summary["n"],
                    **{name: summary[name] for name in ("min_iter", "max_iter", "min_ts", "max_ts")},
                    **({"x_axis_label": summary["label"]} if summary["label"] else {})}
            series_docs.append({"_id": _doc_id(company, model_event, task), "company": company, "task": task,
                                "model_event": model_event, "s": entries})
        if series_docs:
            self.series_coll.insert_many(series_docs, ordered=False)

    def _series_update(self, company: str, entity: tuple, summaries: dict) -> UpdateOne:
        model_event, task = entity
        update: dict = {"$setOnInsert": {"company": company, "task": task, "model_event": model_event},
                        "$set": {}, "$min": {}, "$max": {}, "$inc": {}}
        for (metric, variant), summary in summaries.items():
            path = f"s.{series_hash(metric, variant)}"
            update["$set"].update({f"{path}.metric": metric, f"{path}.variant": variant})
            update["$min"].update({f"{path}.min_iter": summary["min_iter"], f"{path}.min_ts": summary["min_ts"]})
            update["$max"].update({f"{path}.max_iter": summary["max_iter"], f"{path}.max_ts": summary["max_ts"]})
            update["$inc"][f"{path}.n"] = summary["n"]
            if summary["label"]:
                update["$set"][f"{path}.x_axis_label"] = summary["label"]
        return UpdateOne({"_id": _doc_id(company, model_event, task)}, update, upsert=True)

    def _buckets_update(self, company: str, doc_key: tuple, buckets: dict) -> UpdateOne:
        (model_event, task), group, key, level, block = doc_key
        update: dict = {
            "$setOnInsert": {"company": company, "task": task, "model_event": model_event, "group": group,
                             "key": key, "level": level, "block": block},
            "$min": {}, "$max": {},
        }
        for (shash, index), (count, ext) in buckets.items():
            path, entry = f"s.{shash}.{index}", _entry(count, ext)
            if count:
                update.setdefault("$inc", {})[f"{path}.n"] = count
            for name, op in (("f", "$min"), ("l", "$max"), ("lo", "$min"), ("hi", "$max")):
                update[op][f"{path}.{name}"] = entry[name]
        return UpdateOne({"_id": _doc_id(company, model_event, task, group, key, level, block)}, update, upsert=True)

    def delete(self, company: str, tasks: Sequence[str], model_events: bool) -> None:
        # Task by task: secantusdb reads the whole collection for `task: {$in: [...]}`, not for `task: <id>`.
        for task in dict.fromkeys(tasks):
            query = {"company": company, "task": task, "model_event": model_events}
            self.series_coll.delete_many(query)
            self.buckets.delete_many(query)

    # -- reads ----------------------------------------------------------------------------------------------
    def series(self, company: str, tasks: Sequence[str], model_events: bool,
               metrics: Mapping[str, Sequence[str]] | None = None) -> dict[SeriesKey, SeriesSummary]:
        query: dict = {"company": company, "task": tasks[0] if len(tasks) == 1 else {"$in": list(tasks)},
                       "model_event": model_events}
        found = {}
        for doc in self.series_coll.find(query):
            for entry in (doc.get("s") or {}).values():
                metric, variant = entry.get("metric"), entry.get("variant")
                if metrics is not None:
                    variants = metrics.get(metric)
                    if variants is None or (variants and variant not in variants):
                        continue
                if not entry.get("n"):
                    continue
                found[SeriesKey(doc["task"], metric, variant)] = SeriesSummary(
                    entry["n"], entry["min_iter"], entry["max_iter"], entry["min_ts"], entry["max_ts"],
                    entry.get("x_axis_label"))
        return found

    def has_series(self, company: str, task: str, model_events: bool) -> bool:
        """Whether the task's charts can be read from its buckets: it has some, and they were not invalidated
        by a partial delete of its scalars (see :func:`invalidate`)."""
        doc = self.series_coll.find_one({"company": company, "task": task, "model_event": model_events},
                                        {"_id": 1, STALE: 1})
        return doc is not None and not doc.get(STALE)

    def invalidate(self, company: str, tasks: Sequence[str], model_events: bool) -> None:
        """Some (not all) of these tasks' scalars went: their buckets no longer describe the rest. Charts then come
        from the events; a fresh pyramid started by later reports would cover only the new events, so the
        series document stays, marked stale, until all the task's events go (:meth:`delete`)."""
        for task in dict.fromkeys(tasks):
            invalidate_pyramid(self.db, company, task, model_events)

    def pieces(self, company: str, model_events: bool, requests: Sequence[PieceRequest]) -> list[list[Extremes]]:
        """For each request, the pre-aggregated buckets it names that hold events, in x order."""
        wanted: dict[str, list[int]] = {}  # document id -> the requests it serves
        hashes = [series_hash(req.series.metric, req.series.variant) for req in requests]
        for n, req in enumerate(requests):
            for block in range(req.lo // BLOCK, req.hi // BLOCK + 1):
                doc_id = _doc_id(company, model_events, req.series.task, group_of(hashes[n]), req.key, req.level,
                                 block)
                wanted.setdefault(doc_id, []).append(n)
        found: list[dict[int, Extremes]] = [{} for _ in requests]
        if wanted:
            projection = {f"s.{h}": 1 for h in set(hashes)}
            for doc in self.buckets.find({"_id": {"$in": list(wanted)}}, projection):
                for n in wanted[doc["_id"]]:
                    req = requests[n]
                    for index_text, entry in ((doc.get("s") or {}).get(hashes[n]) or {}).items():
                        index = int(index_text)
                        if req.lo <= index <= req.hi and entry.get("f"):
                            found[n][index] = decode_piece(entry)
        return [[pieces[i] for i in sorted(pieces)] for pieces in found]


def _fold(written: Iterable[tuple[dict, bool]]) -> tuple[dict, dict]:
    """Per task (model_event, task): {(metric, variant): summary}; per bucket document
    ((model_event, task), group, key, level, block): {(series hash, bucket index): [new events, Extremes]}."""
    series: dict[tuple, dict] = {}
    docs: dict[tuple, dict] = {}
    hashes: dict[tuple, str] = {}
    for event, created in written:
        iteration = event.get("iter")
        if event["type"] != SCALAR or iteration is None or iteration == SINGLE_VALUE_ITERATION:
            continue
        entity = (event["model_event"], event["task"])
        name = (event["metric"], event["variant"])
        y, ts = event["value"], event["timestamp"]
        summaries = series.setdefault(entity, {})
        summary = summaries.get(name)
        if summary is None:
            summary = summaries[name] = {"n": 0, "min_iter": iteration, "max_iter": iteration,
                                         "min_ts": ts, "max_ts": ts, "label": None}
        summary["n"] += created
        summary["min_iter"], summary["max_iter"] = min(summary["min_iter"], iteration), max(summary["max_iter"], iteration)
        summary["min_ts"], summary["max_ts"] = min(summary["min_ts"], ts), max(summary["max_ts"], ts)
        summary["label"] = event.get("x_axis_label") or summary["label"]
        shash = hashes.get(name)
        if shash is None:
            shash = hashes[name] = series_hash(*name)
        group = group_of(shash)
        for key, x in (("iter", iteration), ("timestamp", ts)):
            for level in LEVELS[key]:
                index = x // width(level)
                buckets = docs.setdefault((entity, group, key, level, index // BLOCK), {})
                acc = buckets.get((shash, index))
                if acc is None:
                    acc = buckets[(shash, index)] = [0, Extremes.of(x, y)]
                else:
                    acc[1].add(x, y)
                acc[0] += created
    return series, docs


def _entry(count: int, ext: Extremes) -> dict:
    return {"n": count, "f": encode_x(ext.first[0]) + encode_y(ext.first[1]),
            "l": encode_x(ext.last[0]) + encode_y(ext.last[1]),
            "lo": encode_y(ext.low[1]) + encode_x(ext.low[0]), "hi": encode_y(ext.high[1]) + encode_x(ext.high[0])}
