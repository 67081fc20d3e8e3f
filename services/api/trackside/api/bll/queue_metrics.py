"""queues.get_queue_metrics: queue length and average waiting time over time, from the samples written on
every queue change (``trackside.shared.dispatch.queue_metrics``).

Samples fall into ``interval``-second buckets aligned to the epoch; a bucket keeps, per queue, the sample
with the longest average wait (and its length), and empty buckets are left out, as in the reference. The
window reaches ``metrics_before_from_date`` seconds before ``from_date`` so that the all-queues average can
carry each queue's last value into buckets where it did not change.
"""
from __future__ import annotations

from datetime import datetime, timezone

from pymongo.database import Database

from trackside.api import errors
from trackside.shared.dispatch.queue_metrics import COLLECTION, QueueMetricsRecorder

TOTAL = "total"


class QueueMetricsReader:
    def __init__(self, db: Database, before_from_sec: float = 3600):
        self.coll = db[COLLECTION]
        self.recorder = QueueMetricsRecorder(db)
        self.before_from_sec = before_from_sec

    def get(self, company: str, queue_ids: list[str], per_queue: bool, from_date: float, to_date: float,
            interval: int, refresh: bool = False) -> list[dict]:
        if from_date >= to_date:
            raise errors.FieldsValueError("from_date must be less than to_date", from_date=from_date, to_date=to_date)
        if refresh:
            for queue_id in queue_ids:
                self.recorder.record(company, queue_id)
        buckets = self._buckets(company, queue_ids, from_date - self.before_from_sec, to_date, interval)
        chart_start = (from_date - interval) * 1000
        if per_queue:
            return [_series(queue_id, [(key, values[queue_id]) for key, values in buckets
                                       if key >= chart_start and queue_id in values]) for queue_id in queue_ids]
        return [_series(TOTAL, _averaged(buckets, chart_start))]

    def _buckets(self, company: str, queue_ids: list[str], start: float, end: float,
                 interval: int) -> list[tuple[int, dict[str, tuple[float, int]]]]:
        """``[(bucket start ms, {queue: (avg waiting time, length)})]`` in time order."""
        width = interval * 1000
        found: dict[int, dict[str, tuple[float, int]]] = {}
        samples = self.coll.find(
            {"company": company, "queue": {"$in": queue_ids}, "time": {"$gte": _date(start), "$lte": _date(end)}},
            {"queue": 1, "time": 1, "avg_waiting_time": 1, "length": 1},
        )
        for sample in samples:
            key = int(_ms(sample["time"]) // width * width)
            value = (float(sample.get("avg_waiting_time") or 0.0), int(sample.get("length") or 0))
            bucket = found.setdefault(key, {})
            if sample["queue"] not in bucket or value > bucket[sample["queue"]]:
                bucket[sample["queue"]] = value
        return sorted(found.items())


def _averaged(buckets: list[tuple[int, dict[str, tuple[float, int]]]], chart_start: float) -> list[tuple[int, tuple[float, int]]]:
    """Across queues: total length, and waiting time averaged by length; a queue absent from a bucket counts
    with its last value."""
    last: dict[str, tuple[float, int]] = {}
    points = []
    for key, values in buckets:
        last.update(values)
        if key < chart_start:
            continue
        total = sum(length for _, length in last.values())
        average = sum(wait * length for wait, length in last.values()) / total if total else 0.0
        points.append((key, (average, total)))
    return points


def _series(queue: str, points: list[tuple[int, tuple[float, int]]]) -> dict:
    return {
        "queue": queue,
        "dates": [key for key, _ in points],
        "avg_waiting_times": [round(value[0], 3) for _, value in points],
        "queue_lengths": [value[1] for _, value in points],
    }


def _date(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _ms(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp() * 1000
