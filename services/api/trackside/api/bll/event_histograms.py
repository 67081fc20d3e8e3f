"""Scalar charts: every metric/variant of a task as x/y lists, downsampled by averaging.

A series with fewer than ``samples`` points is returned as reported (one point per distinct x). A longer one
is cut into buckets of equal width, chosen so that its x range (known beforehand from :meth:`EventStore.series`)
needs at most ``samples`` of them; as in the reference's histogram aggregation, buckets are aligned on
multiples of the width (so the range may touch one more) and each is shown at its start with the average of
its values. The events are read series by series in iteration order, so one series is in memory at
a time and only as its buckets: memory is bounded by ``samples`` (plus one page of events), whatever the
task's size.

x is the iteration, the timestamp (epoch ms) or the timestamp as ISO text. Single values
(``Logger.report_single_value``, reported at iteration -2**31) and events without an iteration are not part
of any chart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping

from trackside.api.bll.event_reads import SINGLE_VALUE_ITERATION, EventReads, MetricVariants, iso_time, stream
from trackside.shared.events import ASC, SCALAR, EventFilter, SeriesInfo

# The reference's request model: 2000 points unless asked, at most 6000 (0 here means the most).
DEFAULT_SAMPLES, MAX_SAMPLES = 2000, 6000
KEYS = ("iter", "timestamp", "iso_time")
FIELDS = ["iter", "value", "timestamp", "x_axis_label"]
# Events read at a time from one series.
SERIES_PAGE = 20_000


def bucket_width(low: int, high: int, count: int, samples: int) -> int:
    """The x span of one bucket so that [low, high] needs at most ``samples`` of them; 1 keeps every point."""
    if count < samples or high <= low:
        return 1
    return max(1, math.ceil((high - low + 1) / samples))


@dataclass
class Buckets:
    """One series' values, summed per bucket of x; buckets start at multiples of ``width``."""

    width: int
    sums: dict[int, list] = field(default_factory=dict)  # bucket start -> [sum, count]

    def add(self, x: int, value: float) -> None:
        start = x // self.width * self.width
        total = self.sums.get(start)
        if total is None:
            self.sums[start] = [value, 1]
        else:
            total[0] += value
            total[1] += 1

    def points(self) -> tuple[list[int], list[float]]:
        starts = sorted(self.sums)
        return starts, [self.sums[s][0] / self.sums[s][1] for s in starts]


def chart(events: Iterable[dict], info: SeriesInfo | None, key: str, samples: int) -> dict:
    """One series' ``{x, y}`` (and ``x_axis_label`` when reported) from its events."""
    by_time = key != "iter"
    low, high, count = 0, 0, 0
    if info is not None:
        low, high = (info.min_timestamp, info.max_timestamp) if by_time else (info.min_iter, info.max_iter)
        low, high, count = low or 0, high or 0, info.count
    buckets = Buckets(bucket_width(low, high, count, samples))
    label = None
    for event in events:
        buckets.add(event["timestamp"] if by_time else event["iter"], event["value"])
        label = event.get("x_axis_label") or label
    xs, ys = buckets.points()
    shown: dict = {"x": [iso_time(x) for x in xs] if key == "iso_time" else xs, "y": ys}
    if label is not None:
        shown["x_axis_label"] = label
    return shown


class ScalarHistograms:
    def __init__(self, reads: EventReads):
        self.reads = reads
        self.store = reads.store

    def task(self, company: str, task: str, key: str, samples: int, metrics: MetricVariants | None = None,
             model_events: bool = False) -> dict:
        """``{metric: {variant: {name, x, y}}}`` for one task (or model)."""
        self.reads.require(company, [task], model_events, fields=())
        return self._charts(company, task, key, samples, metrics, model_events)

    def compare(self, company: str, tasks: list[str], key: str, samples: int,
                metrics: MetricVariants | None = None, model_events: bool = False) -> dict:
        """``{metric: {variant: {task: {name: task name, x, y}}}}`` across tasks."""
        docs = self.reads.require(company, tasks, model_events)
        compared: dict = {}
        for task in dict.fromkeys(tasks):
            for metric, variants in self._charts(company, task, key, samples, metrics, model_events).items():
                for variant, data in variants.items():
                    data["name"] = docs[task].get("name")
                    compared.setdefault(metric, {}).setdefault(variant, {})[task] = data
        return compared

    def _charts(self, company: str, task: str, key: str, samples: int, metrics: MetricVariants | None,
                model_events: bool) -> dict:
        flt = EventFilter(company, [task], types=[SCALAR], model_events=model_events, metrics=metrics,
                          iter_min=SINGLE_VALUE_ITERATION + 1)
        infos: Mapping = self.store.series(flt)
        if not infos:
            return {}
        charts: dict = {}
        # One series at a time: each read is an index range on (metric, variant, iter).
        for (_, metric, variant), info in sorted(infos.items()):
            events = stream(self.store, replace(flt, metrics={metric: [variant]}), [("iter", ASC)], fields=FIELDS,
                            page_size=SERIES_PAGE)
            charts.setdefault(metric, {})[variant] = {"name": variant, **chart(events, info, key, samples)}
        return charts


def clamp_samples(samples: int | None) -> int:
    """The points a series may have: the request's ``samples``, DEFAULT_SAMPLES without one, the most for 0
    (as the reference's schema describes it; the endpoint refuses more than MAX_SAMPLES)."""
    if samples is None:
        return DEFAULT_SAMPLES
    return MAX_SAMPLES if not samples else min(samples, MAX_SAMPLES)

