"""Machine statistics history for workers.get_stats / get_activity_report / get_metric_keys (MongoDB).

One document per status report that carries ``machine_stats``: ``{company, worker, time, task, metrics,
stats: {metric: [value per resource]}}`` (a scalar reading is a one-value list). Documents older than
``services.workers.stats_retention_days`` are deleted, at most once a minute per process.

Series follow the reference server's date histogram: buckets aligned on multiples of the interval (epoch
milliseconds, as the reference returns them), from the bucket holding ``from_date`` to the one holding
``to_date``, empty buckets included (their values 0), and the last bucket dropped when it starts less than 90%
of an interval before ``to_date``.

``get_stats`` answers per worker a list of metric entries ``{metric, dates, stats: [{aggregation, values}]}``
as the reference does; ``split_by_variant`` makes one entry per variant (``variant``: "total" for a scalar
reading, the resource's index "0", "1", ... for per-GPU/per-core lists), as the reference stores them. Each
stat also carries its ``dates`` and, with ``split_by_resource`` (newer servers), a ``resource_series`` per
resource of ``gpu_*`` metrics.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from pymongo.database import Database

from trackside.api import errors
from trackside.shared.ids import new_id
from trackside.shared.timeutil import utcnow

AGGREGATIONS = ("avg", "min", "max")
# Readings that are one number (the others are lists, one value per GPU or core): their variant is "total".
SCALAR_STATS = frozenset({"memory_used", "memory_free", "network_tx", "network_rx", "disk_free_home",
                          "disk_free_temp", "disk_read", "disk_write"})
# A reading this small is seconds since the epoch (the reference's schema), otherwise milliseconds (what
# the agent sends): 1e11 ms is 1973, 1e11 s is the year 5138.
_SECONDS_LIMIT = 1e11
_PRUNE_EVERY_SEC = 60
# get_stats/get_activity_report refuse requests for more points than this per series.
MAX_POINTS = 10_000


def _aggregate(values: list[float], aggregation: str) -> float:
    if not values:
        return 0.0
    if aggregation == "min":
        return float(min(values))
    if aggregation == "max":
        return float(max(values))
    return float(sum(values) / len(values))


class WorkerStats:
    def __init__(self, db: Database, min_interval_sec: int, retention_days: float):
        self.coll = db["worker_stats"]
        self.min_interval = max(1, int(min_interval_sec))
        self.retention = timedelta(days=retention_days)
        self._last_prune = 0.0

    # -- writing -----------------------------------------------------------------------------------------
    def record(self, company: str, worker: str, timestamp: int, task: str | None, machine_stats: dict) -> None:
        stats = {}
        for metric, value in machine_stats.items():
            if value is None:
                continue
            values = [float(v) for v in value if v is not None] if isinstance(value, list) else [float(value)]
            if values:
                stats[metric] = values
        if not stats:
            return
        seconds = timestamp if timestamp < _SECONDS_LIMIT else timestamp / 1000
        self.coll.insert_one({
            "_id": new_id(), "company": company, "worker": worker, "task": task or None,
            "time": datetime.fromtimestamp(seconds, timezone.utc), "metrics": sorted(stats), "stats": stats,
        })
        self._prune()

    def _prune(self) -> None:
        if time.monotonic() - self._last_prune < _PRUNE_EVERY_SEC:
            return
        self._last_prune = time.monotonic()
        self.coll.delete_many({"time": {"$lt": utcnow() - self.retention}})

    # -- reading -----------------------------------------------------------------------------------------
    def metric_keys(self, company: str, workers: list[str] | None) -> dict[str, list[str]]:
        """``{category: [metric, ...]}`` where the category is the metric name up to its first ``_``."""
        query = {"company": company, **({"worker": {"$in": workers}} if workers else {})}
        metrics = sorted(self.coll.distinct("metrics", query))
        if not metrics:
            raise errors.WorkerStatsNotFound(f"no statistics found for workers {workers or 'of the company'}")
        categories: dict[str, list[str]] = {}
        for metric in metrics:
            categories.setdefault(metric.partition("_")[0], []).append(metric)
        return categories

    def series(self, company: str, workers: list[str] | None, from_date: float, to_date: float, interval: int,
               items: list[dict], split_by_resource: bool = False, split_by_variant: bool = False) -> list[dict]:
        """get_stats: per worker, per metric (and variant), one series per requested aggregation."""
        buckets = self._buckets(from_date, to_date, interval)
        metrics = list(dict.fromkeys(item["key"] for item in items))
        # values[worker][metric][bucket index][resource] -> readings
        values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
        query = {"company": company, "time": self._time_range(from_date, to_date), "metrics": {"$in": metrics}}
        if workers:
            query["worker"] = {"$in": workers}
        projection = {"worker": 1, "time": 1, **{f"stats.{m}": 1 for m in metrics}}
        for doc in self.coll.find(query, projection):
            index = buckets.index_of(doc["time"])
            if index is None:
                continue
            for metric, readings in (doc.get("stats") or {}).items():
                for resource, reading in enumerate(readings):
                    values[doc["worker"]][metric][index][resource].append(reading)

        size = len(buckets.dates)
        aggregations = {metric: list(dict.fromkeys(item.get("aggregation") or "avg" for item in items
                                                   if item["key"] == metric)) for metric in metrics}
        result = []
        for worker, by_metric in values.items():
            entries = []
            for metric in metrics:
                per_bucket = by_metric.get(metric)
                if per_bucket is None:
                    continue
                if split_by_variant:
                    resources = sorted({r for by_resource in per_bucket.values() for r in by_resource})
                    parts = [("total" if metric in SCALAR_STATS else str(r),
                              {i: {r: b[r]} for i, b in per_bucket.items() if r in b}) for r in resources]
                else:
                    parts = [(None, per_bucket)]
                for variant, part in parts:
                    entry = {"metric": metric, "dates": buckets.dates, "stats": [{
                        "aggregation": aggregation,
                        "dates": buckets.dates,
                        "values": [_aggregate([v for r in part.get(i, {}).values() for v in r], aggregation)
                                   for i in range(size)],
                        "resource_series": self._resource_series(part, size, aggregation)
                        if split_by_resource and metric.startswith("gpu_") else [],
                    } for aggregation in aggregations[metric]]}
                    if variant is not None:
                        entry["variant"] = variant
                    entries.append(entry)
            if entries:
                result.append({"worker": worker, "metrics": entries})
        return result

    @staticmethod
    def _resource_series(per_bucket: dict, size: int, aggregation: str) -> list[dict]:
        resources = sorted({r for by_resource in per_bucket.values() for r in by_resource})
        if len(resources) < 2:
            return []
        return [
            {"name": str(r), "values": [_aggregate(per_bucket.get(i, {}).get(r, []), aggregation) for i in range(size)]}
            for r in resources
        ]

    def activity(self, company: str, from_date: float, to_date: float, interval: int) -> dict:
        """get_activity_report: distinct reporting workers per bucket, all and those running a task."""
        buckets = self._buckets(from_date, to_date, interval)
        total = [set() for _ in buckets.dates]
        active = [set() for _ in buckets.dates]
        query = {"company": company, "time": self._time_range(from_date, to_date)}
        for doc in self.coll.find(query, {"worker": 1, "time": 1, "task": 1}):
            index = buckets.index_of(doc["time"])
            if index is None:
                continue
            total[index].add(doc["worker"])
            if doc.get("task"):
                active[index].add(doc["worker"])
        return {
            "total": {"dates": buckets.dates, "counts": [len(s) for s in total]},
            "active": {"dates": buckets.dates, "counts": [len(s) for s in active]},
        }

    @staticmethod
    def _time_range(from_date: float, to_date: float) -> dict:
        return {"$gte": datetime.fromtimestamp(from_date, timezone.utc),
                "$lte": datetime.fromtimestamp(to_date, timezone.utc)}

    def _buckets(self, from_date: float, to_date: float, interval: int) -> "DateBuckets":
        return DateBuckets.checked(from_date, to_date, interval, self.min_interval)


class DateBuckets:
    """Date-histogram buckets of ``interval`` seconds, keyed in epoch milliseconds (worker statistics and
    serving metrics share them)."""

    @classmethod
    def checked(cls, from_date: float, to_date: float, interval: int, min_interval: int) -> "DateBuckets":
        """The buckets of a chart request, refused with 400/16 when the range is empty or would need more
        than MAX_POINTS buckets; ``interval`` is raised to ``min_interval``."""
        if from_date >= to_date:
            raise errors.FieldsValueError("from_date must be less than to_date", from_date=from_date,
                                          to_date=to_date)
        interval = max(interval, min_interval)
        if (to_date - from_date) / interval > MAX_POINTS:
            raise errors.FieldsValueError(f"more than {MAX_POINTS} points requested: use a longer interval",
                                          interval=interval)
        return cls(from_date, to_date, interval)

    def __init__(self, from_date: float, to_date: float, interval: int):
        self.interval = interval
        self.step = interval * 1000
        self.first = math.floor(from_date * 1000 / self.step) * self.step
        last = math.floor(to_date * 1000 / self.step) * self.step
        dates = list(range(self.first, last + 1, self.step))
        # The last bucket is incomplete when it starts less than 90% of an interval before to_date (only the
        # last one can: the one before starts at least an interval earlier).
        if dates and dates[-1] > (to_date - 0.9 * interval) * 1000:
            dates.pop()
        self.dates = dates

    def index_of(self, moment: datetime) -> int | None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        index = (math.floor(moment.timestamp() * 1000) - self.first) // self.step
        return index if 0 <= index < len(self.dates) else None
