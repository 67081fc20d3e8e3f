"""events.add / events.add_batch: check the events, store them, then bring their tasks' summaries up to date.

Each event is judged on its own: a malformed one is counted under its reason in ``errors_info`` and the rest
of the batch is still stored. After the store has written them, every task (or model) that got events has
``last_update`` raised, ``last_iteration`` raised to the highest iteration seen (except the machine monitor's,
``services.events.ignore_iteration.metrics``), and, for scalars,
``last_metrics[md5(metric)][md5(variant)]`` merged with the batch's values:

- ``value``/``value_iteration``: the value of the highest iteration, replaced only by a later-or-equal one;
- ``min_value``/``max_value`` and ``first_value`` (the lowest iteration), each with its iteration;
- ``value`` carries the latest event's ``x_axis_label`` along (charts show it, as the reference);
- ``count``, ``value_sum`` and ``mean_value``: only events the store had not seen before count, so a client's
  retry leaves them unchanged; the mean is written after the sum and count by a guarded set (:func:`merge_means`).

The merge is one unordered bulk_write of plain update operators (``$max``, ``$set``, ``$inc``), where every
"replace if better" is an update whose filter says "if better" ("min_value missing or greater than mine").
Each such update is atomic and monotonic, so concurrent batches (and the ``$max`` raises of ``last_iteration``
by the models code) can land in any order without losing data. It needs no pipeline updates or ``$expr``,
which not every Mongo-wire server supports.

At most ``services.tasks.max_last_metrics`` metric/variant pairs are kept per task. New pairs are only
added after reading how many the task has (as the reference does, concurrent batches may overshoot slightly).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.event_downsampled import DownsampledCharts
from trackside.api.bll.event_histograms import ScalarHistograms
from trackside.api.bll.event_log_lines import LogLines, LogNumbering, number_lines
from trackside.api.bll.event_reads import EventReads
from trackside.api.bll.event_samples import IterationPages, SampleNavigator
from trackside.api.bll.event_sidecars import StoreWithSummaries
from trackside.api.bll.listing_summaries import ListingSummaries, metric_entry
from trackside.api.bll.scalar_pyramid import ScalarPyramid
from trackside.shared.events import IMAGE, LOG, PLOT, SCALAR, InvalidEvent, allows_locked, normalise
from trackside.shared.events.factory import store_from_config
from trackside.shared.timeutil import utcnow

LOCKED_TASK_STATUSES = ("publishing", "published")
# The reference's default services.events.ignore_iteration.metrics: the SDK's resource monitor reports these
# against seconds since start, which are not the task's iterations.
IGNORE_ITERATION = (":monitor:machine", ":monitor:gpu")
# Tasks whose metric pairs this process remembers, so steady reporting needs no read of last_metrics.
KNOWN_PAIRS_CACHE_SIZE = 256




def field_hash(name: str) -> str:
    """last_metrics keys: metric and variant names may contain '.' or '$', which field names cannot."""
    return hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()


@dataclass
class PairSummary:
    """One metric/variant's scalars in one batch."""

    metric: str
    variant: str
    value: float
    value_iteration: int
    value_timestamp: int
    min_value: float
    min_value_iteration: int
    max_value: float
    max_value_iteration: int
    first_value: float
    first_value_iteration: int
    first_timestamp: int
    x_axis_label: str | None = None  # the latest event's
    new_count: int = 0  # events the store had not seen before
    new_sum: float = 0.0  # and the sum of their values


    @classmethod
    def of(cls, event: dict, iteration: int) -> "PairSummary":
        value, timestamp = event["value"], event["timestamp"]
        return cls(event["metric"], event["variant"], value, iteration, timestamp, value, iteration,
                   value, iteration, value, iteration, timestamp, event.get("x_axis_label"))

    def add(self, event: dict, iteration: int) -> None:
        value, timestamp = event["value"], event["timestamp"]
        if (iteration, timestamp) >= (self.value_iteration, self.value_timestamp):
            self.value, self.value_iteration, self.value_timestamp = value, iteration, timestamp
            self.x_axis_label = event.get("x_axis_label") or self.x_axis_label
        if (iteration, timestamp) < (self.first_value_iteration, self.first_timestamp):
            self.first_value, self.first_value_iteration, self.first_timestamp = value, iteration, timestamp
        if value < self.min_value:
            self.min_value, self.min_value_iteration = value, iteration
        if value > self.max_value:
            self.max_value, self.max_value_iteration = value, iteration


@dataclass
class EntitySummary:
    """What one batch changes on one task (or model)."""

    max_iteration: int | None = None
    # (md5(metric), md5(variant)) -> summary
    pairs: dict[tuple[str, str], PairSummary] = field(default_factory=dict)
    # Metrics whose iterations do not count as the task's progress (the SDK's machine monitor).
    ignore_iteration: frozenset = frozenset()

    def add(self, event: dict, created: bool) -> None:
        iteration = event.get("iter")
        if iteration is not None and event["metric"] not in self.ignore_iteration:
            self.max_iteration = iteration if self.max_iteration is None else max(self.max_iteration, iteration)
        if event["type"] != SCALAR:
            return
        iteration = iteration or 0
        key = (field_hash(event["metric"]), field_hash(event["variant"]))
        pair = self.pairs.get(key)
        if pair is None:
            pair = self.pairs[key] = PairSummary.of(event, iteration)
        else:
            pair.add(event, iteration)
        if created:
            pair.new_count += 1
            pair.new_sum += event["value"]


class KnownPairs:
    """Per task, the metric pairs known to be in its last_metrics; a small thread-safe LRU.

    Only an optimisation: a pair remembered after the task was reset is merely added back without being
    counted against the limit, and it was within the limit before.
    """

    def __init__(self, size: int = KNOWN_PAIRS_CACHE_SIZE):
        self._size = size
        self._pairs: OrderedDict[str, frozenset] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, entity_id: str) -> frozenset:
        with self._lock:
            pairs = self._pairs.get(entity_id, frozenset())
            if pairs:
                self._pairs.move_to_end(entity_id)
            return pairs

    def remember(self, entity_id: str, pairs: Iterable) -> None:
        with self._lock:
            self._pairs[entity_id] = self._pairs.get(entity_id, frozenset()) | frozenset(pairs)
            self._pairs.move_to_end(entity_id)
            while len(self._pairs) > self._size:
                self._pairs.popitem(last=False)


class EventsBLL:
    def __init__(self, db: Database, config):
        # Scalar bucket pyramids and log line counters, kept beside the events (bll/event_sidecars.py).
        self.pyramid, self.numbering = ScalarPyramid(db), LogNumbering(db)
        self.store = StoreWithSummaries(store_from_config(config, db), self.pyramid, self.numbering)
        self.max_last_metrics = int(config.get("services.tasks.max_last_metrics", 2000) or 0)
        self.ignore_iteration = frozenset(config.get("services.events.ignore_iteration.metrics", IGNORE_ITERATION))
        # model_event -> the collection its events' "task" ids point into
        self._entities: dict[bool, Collection] = {False: db["tasks"], True: db["models"]}
        self._known = KnownPairs()
        self._listings = ListingSummaries(db)  # metric/variant listings learn of pairs new to a task
        # Reading (backend-independent, on the store's primitives).
        self.reads = EventReads(self.store, self._entities)
        self.histograms = ScalarHistograms(self.reads)
        self.image_pages, self.plot_pages = IterationPages(self.reads, IMAGE), IterationPages(self.reads, PLOT)
        self.image_samples, self.plot_samples = SampleNavigator(self.reads, IMAGE), SampleNavigator(self.reads, PLOT)
        # The web app's reads: downsampled charts and the console by position.
        self.downsampled = DownsampledCharts(self.reads, self.pyramid)
        self.log_lines = LogLines(self.reads, self.numbering)

    def setup(self) -> None:
        self.store.setup()

    # -- adding events -----------------------------------------------------------------------------------
    def add(self, company: str, items: Sequence[Any], worker: str | None = None) -> dict:
        """Store ``items`` (JSON lines, or already-parsed objects); ``{added, errors, errors_info}``."""
        problems: Counter[str] = Counter()
        candidates = list(_parse(company, items, worker, problems))
        _check_consistent(candidates)
        events = self._writable(company, candidates, problems)
        number_lines(self.numbering, events)
        result = self.store.write(events)
        problems.update(result.failed.values())
        written = [(event, i in result.created) for i, event in enumerate(events) if i not in result.failed]
        self._update_entities(company, written)
        self.pyramid.add(company, written)
        if not written:
            raise _not_added(problems)
        return {"added": len(written), "errors": sum(problems.values()), "errors_info": dict(problems)}

    def _writable(self, company: str, candidates: list[tuple[dict, bool]], problems: Counter) -> list[dict]:
        """The events whose task (or model) exists for ``company`` and may take events."""
        locks = {
            model_event: self._locks(company, model_event,
                                     {e["task"] for e, _ in candidates if e["model_event"] == model_event})
            for model_event in (False, True)
        }
        events = []
        for event, allow_locked in candidates:
            kind = "model" if event["model_event"] else "task"
            entity_id = event["task"]
            if entity_id not in locks[event["model_event"]]:
                problems[f"Invalid {kind} id {entity_id}"] += 1
            elif (lock := locks[event["model_event"]][entity_id]) and not allow_locked:
                problems[f"Invalid {kind} id {entity_id}: {kind} is {lock} (use allow_locked)"] += 1
            else:
                events.append(event)
        return events

    def _locks(self, company: str, model_event: bool, ids: set[str]) -> dict[str, str | None]:
        """For the ids that exist: why each is locked ("published", "ready"), or None."""
        if not ids:
            return {}
        found = self._entities[model_event].find({"_id": {"$in": list(ids)}, "company": company},
                                                 {"status": 1, "ready": 1})
        if model_event:
            return {doc["_id"]: "ready" if doc.get("ready") is True else None for doc in found}
        return {doc["_id"]: doc.get("status") if doc.get("status") in LOCKED_TASK_STATUSES else None
                for doc in found}

    # -- task and model summaries ------------------------------------------------------------------------
    def _update_entities(self, company: str, written: Iterable[tuple[dict, bool]]) -> None:
        summaries: dict[tuple[bool, str], EntitySummary] = {}
        for event, created in written:
            summaries.setdefault((event["model_event"], event["task"]),
                                 EntitySummary(ignore_iteration=self.ignore_iteration)).add(event, created)
        now = utcnow()
        for (model_event, entity_id), summary in summaries.items():
            coll = self._entities[model_event]
            query = {"_id": entity_id, "company": company}
            pairs = self._within_limit(coll, query, summary.pairs)
            if pairs is not None:
                stored = _stored_pairs(coll, query, pairs)
                coll.bulk_write(summary_updates(query, summary, pairs, now, stored), ordered=False)
                merge_means(coll, query, pairs, stored)
                new = [metric_entry(p.metric, mh, p.variant, vh)
                       for (mh, vh), p in pairs.items() if (mh, vh) not in stored]
                if new:
                    self._listings.metrics_reported(coll.name, company, entity_id, new)

    def _within_limit(self, coll: Collection, query: dict, pairs: dict) -> dict | None:
        """The batch's pairs that may go into last_metrics; None when the task (or model) is gone."""
        known = self._known.get(query["_id"])
        if not self.max_last_metrics or known.issuperset(pairs):
            return pairs
        doc = coll.find_one(query, {"last_metrics": 1})
        if doc is None:
            return None
        existing = {(mh, vh) for mh, variants in (doc.get("last_metrics") or {}).items()
                    if isinstance(variants, dict) for vh in variants}
        room = self.max_last_metrics - len(existing)
        kept = {}
        for key, pair in pairs.items():
            if key in existing or room > 0:
                kept[key] = pair
                room -= key not in existing
        self._known.remember(query["_id"], existing | set(kept))
        return kept


def _parse(company: str, items: Sequence[Any], worker: str | None, problems: Counter):
    """(normalised event, allow_locked) for each item that is a valid event; the others counted by reason."""
    now_ms = int(time.time() * 1000)
    batch = _batch_digest(company, items)
    for position, item in enumerate(items):
        try:
            raw = json.loads(item) if isinstance(item, (str, bytes)) else item
        except ValueError:
            problems["Invalid JSON"] += 1
            continue
        try:
            event = normalise(raw, company, worker, now_ms)
        except InvalidEvent as exc:
            problems[exc.reason] += 1
            continue
        if event["type"] == LOG:
            # A batch sent again (a client's retry after an answer it never got: a killed worker) names its
            # lines as its first try did, so they are stored once; lines of other batches never share an id.
            event["id"] = hashlib.md5(f"{batch}:{position}".encode(), usedforsecurity=False).hexdigest()
        yield event, allows_locked(raw)


def _batch_digest(company: str, items: Sequence[Any]) -> str:
    """What identifies a request's batch: its company and every item as sent."""
    digest = hashlib.md5(company.encode(), usedforsecurity=False)
    for item in items:
        digest.update(b"\n")
        digest.update(item if isinstance(item, bytes) else item.encode() if isinstance(item, str)
                      else json.dumps(item, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _check_consistent(candidates: list[tuple[dict, bool]]) -> None:
    """As the reference, a batch is refused whole (400/12) when one id gets events with different allow_locked
    settings, or is used both as a task and as a model."""
    allowed: dict[tuple[bool, str], bool] = {}
    for event, allow_locked in candidates:
        if allowed.setdefault((event["model_event"], event["task"]), allow_locked) != allow_locked:
            raise errors.ValidationError(
                f"Inconsistent allow_locked setting in the passed events for {event['task']}", id=event["task"])
    both = sorted({i for model, i in allowed if model} & {i for model, i in allowed if not model})
    if both:
        raise errors.ValidationError("Inconsistent model_event setting in the passed events", tasks=both)


def _not_added(problems: Counter) -> errors.APIError:
    reasons = "; ".join(f"{reason}: {count}" for reason, count in problems.most_common(5))
    exc = errors.EventsNotAdded(f"{errors.EventsNotAdded.default_message} ({reasons})")
    exc.error_data = dict(problems)  # as the reference: the reasons and their counts
    return exc


# -- the updates ---------------------------------------------------------------------------------------------
def _stored_pairs(coll: Collection, query: dict, pairs: dict) -> dict:
    """The task's current last_metrics entries for ``pairs``: (mh, vh) -> entry (missing ones left out)."""
    projection = {f"last_metrics.{mh}.{vh}": 1 for mh, vh in pairs}
    doc = coll.find_one(query, projection) or {}
    metrics = doc.get("last_metrics") or {}
    return {(mh, vh): metrics[mh][vh] for mh, vh in pairs
            if isinstance(metrics.get(mh), dict) and isinstance(metrics[mh].get(vh), dict)}


# What each guarded update compares, and how the stored value must compare to mine for it to apply.
_GUARDS = {
    "value_iteration": lambda stored, mine: stored <= mine,
    "min_value": lambda stored, mine: stored > mine,
    "max_value": lambda stored, mine: stored < mine,
    "first_value_iteration": lambda stored, mine: stored > mine,
}


def summary_updates(query: dict, summary: EntitySummary, pairs: dict, now,
                    stored: dict | None = None) -> list[UpdateOne]:
    """The bulk_write that merges one batch's summary into a task (or model) document.

    ``stored`` is a snapshot of the entries read just before: a guarded update whose guard already fails on
    the snapshot is left out. That is safe because each compared value only ever gets "better" (a later
    iteration, a lower min, a higher max, an earlier first), so a guard that fails now fails later too; in
    steady reporting it cuts four updates per series to about one.
    """
    stored = stored or {}
    # $max: concurrent batches never move last_update back, nor last_iteration (also raised by the models code).
    base: dict = {"$max": {"last_update": now}}
    if summary.max_iteration is not None:
        base["$max"]["last_iteration"] = summary.max_iteration
    updates = []
    for (mh, vh), pair in pairs.items():
        path = f"last_metrics.{mh}.{vh}"
        base.setdefault("$set", {}).update({f"{path}.metric": pair.metric, f"{path}.variant": pair.variant})
        if pair.new_count:
            base.setdefault("$inc", {}).update({f"{path}.count": pair.new_count, f"{path}.value_sum": pair.new_sum})
        snapshot = stored.get((mh, vh), {})
        # Each: (field compared, how the stored one must compare to be replaced, mine, the new value(s)).
        for compared, stored_is, mine, values in (
            ("value_iteration", "$lte", pair.value_iteration,
             {"value": pair.value, "value_iteration": pair.value_iteration,
              **({"x_axis_label": pair.x_axis_label} if pair.x_axis_label is not None else {})}),
            ("min_value", "$gt", pair.min_value,
             {"min_value": pair.min_value, "min_value_iteration": pair.min_value_iteration}),
            ("max_value", "$lt", pair.max_value,
             {"max_value": pair.max_value, "max_value_iteration": pair.max_value_iteration}),
            ("first_value_iteration", "$gt", pair.first_value_iteration,
             {"first_value": pair.first_value, "first_value_iteration": pair.first_value_iteration}),
        ):
            current = snapshot.get(compared)
            if current is not None and not _GUARDS[compared](current, mine):
                continue
            updates.append(_if_better(query, path, compared, stored_is, mine, values))
    return [UpdateOne(query, base), *updates]


def _if_better(query: dict, path: str, compared: str, stored_is: str, mine, values: dict) -> UpdateOne:
    """Set ``values`` under ``path`` only while the stored ``compared`` is missing (or null) or ``stored_is``
    than ``mine``: the check and the write are one atomic operation."""
    # "missing, null or better" written as "not worse": $not also matches a missing or null field, and unlike
    # $or it lets secantusdb use the _id index instead of reading the whole collection.
    guard = {f"{path}.{compared}": {"$not": {_OPPOSITE[stored_is]: mine}}}
    return UpdateOne({**query, **guard}, {"$set": {f"{path}.{name}": value for name, value in values.items()}})


_OPPOSITE = {"$lte": "$gt", "$gt": "$lte", "$lt": "$gte"}


# How often the means are re-read and written again while concurrent batches keep changing them.
MEAN_RETRIES = 20


def merge_means(coll: Collection, query: dict, pairs: dict, stored: dict) -> None:
    """Set each changed series' ``mean_value`` to ``value_sum / count``, both raised by ``$inc`` just before.

    The reference keeps a mean next to the count; here the sum is kept as well, so that the mean can be written
    by a set guarded on the count and sum it was computed from: it applies only while they are still current,
    so a slower batch never writes a stale mean. The first try predicts them from the snapshot read before the
    batch (one bulk write in steady reporting); when another batch got in between, they are read and written
    again until the stored mean matches. The batch that raised them last always finds its guard true.
    """
    wanted = {}
    for key, pair in pairs.items():
        if pair.new_count:
            entry = stored.get(key, {})
            wanted[key] = ((entry.get("count") or 0) + pair.new_count, (entry.get("value_sum") or 0.0) + pair.new_sum)
    for _ in range(MEAN_RETRIES):
        if not wanted:
            return
        ops = [UpdateOne({**query, f"last_metrics.{mh}.{vh}.count": count, f"last_metrics.{mh}.{vh}.value_sum": total},
                         {"$set": {f"last_metrics.{mh}.{vh}.mean_value": total / count}})
               for (mh, vh), (count, total) in wanted.items()]
        if coll.bulk_write(ops, ordered=False).matched_count == len(ops):
            return
        current = _stored_pairs(coll, query, wanted)
        wanted = {key: (entry["count"], entry["value_sum"]) for key, entry in current.items()
                  if entry.get("count") and entry.get("value_sum") is not None
                  and entry.get("mean_value") != entry["value_sum"] / entry["count"]}
