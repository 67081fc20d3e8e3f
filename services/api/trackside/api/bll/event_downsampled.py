"""``events.scalar_metrics_iter_downsampled``: scalar charts at about the chart's pixel width, spikes kept.

Each series' x range (or the zoomed part of it) is cut into ``points`` / 4 buckets and M4 keeps each bucket's
first, last, lowest and highest real points (``event_downsample``). Where the answer comes from:
- the series' whole range in the range asked holds no more than ``points`` events: the raw events, exact;
- otherwise the pre-aggregated buckets of ``scalar_pyramid``: the coarsest level whose buckets are no wider
  than the grid's, whole buckets only; the range's ragged ends from finer levels and, for the last few x units,
  from the raw events. The result is the same as M4 over the raw events on that grid, read from a few hundred
  buckets per series instead of every event;
- a task whose events predate the pyramid: every event of the range streamed through the downsampler.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from trackside.api.bll.event_downsample import MIN_POINTS, Downsampler, Extremes
from trackside.api.bll.event_reads import SINGLE_VALUE_ITERATION, EventReads, MetricVariants, iso_time, stream
from trackside.api.bll.scalar_pyramid import (
    LEVELS, PieceRequest, ScalarPyramid, SeriesKey, SeriesSummary, width,
)
from trackside.shared.events import ASC, SCALAR, EventFilter

DEFAULT_POINTS, MAX_POINTS = 1000, 10_000
KEYS = ("iter", "timestamp", "iso_time")
RAW_FIELDS = ["iter", "timestamp", "value", "metric", "variant", "x_axis_label"]
RAW_PAGE = 10_000


def choose_level(x_min: int, x_max: int, points: int, levels: Sequence[int]) -> int:
    """The coarsest kept level whose buckets are no wider than the grid's (0: none is: read the raw events).

    The grid's width is then rounded up to a multiple of the level's (so it is less than twice what ``points``
    allows), and a view reads between points / 4 and 2 * points buckets per series."""
    needed = math.ceil((x_max - x_min + 1) / max(1, points // MIN_POINTS))
    fitting = [level for level in levels if width(level) <= needed]
    return max(fitting, default=0)


def cover(x_min: int, x_max: int, levels: Sequence[int]) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """[x_min, x_max] as whole buckets of ``levels`` (coarsest first): ([(level, first index, last index)], [raw x
    ranges]). What the coarsest level's whole buckets leave at each end is covered by the next finer level, and
    what the finest leaves is read from the events."""
    if x_min > x_max:
        return [], []
    if not levels:
        return [], [(x_min, x_max)]
    level, finer = levels[0], levels[1:]
    w = width(level)
    lo, hi = -(-x_min // w), (x_max + 1) // w - 1
    if lo > hi:
        return cover(x_min, x_max, finer)
    parts, raw = [(level, lo, hi)], []
    for a, b in ((x_min, lo * w - 1), ((hi + 1) * w, x_max)):
        more, more_raw = cover(a, b, finer)
        parts += more
        raw += more_raw
    return parts, raw


@dataclass
class _View:
    """One series being drawn."""

    key: SeriesKey
    x_min: int
    x_max: int
    level: int
    label: str | None
    pieces: list[PieceRequest]
    raw: list[tuple[int, int]]
    total: int = 0


class DownsampledCharts:
    def __init__(self, reads: EventReads, pyramid: ScalarPyramid):
        self.reads = reads
        self.store = reads.store
        self.pyramid = pyramid

    def task(self, company: str, task: str, key: str, points: int, metrics: MetricVariants | None = None,
             x_min: float | None = None, x_max: float | None = None, model_events: bool = False) -> dict:
        """``{metrics: {metric: {variant: {name, x, y, total, exact[, x_axis_label]}}}}``"""
        self.reads.require(company, [task], model_events, fields=())
        charts: dict = {}
        for (_, metric, variant), shown in self._charts(company, task, key, points, metrics, x_min, x_max,
                                                        model_events).items():
            charts.setdefault(metric, {})[variant] = {"name": variant, **shown}
        return {"metrics": charts}

    def compare(self, company: str, tasks: Sequence[str], key: str, points: int,
                metrics: MetricVariants | None = None, x_min: float | None = None, x_max: float | None = None,
                model_events: bool = False) -> dict:
        """``{metrics: {metric: {variant: {task id: {name: task name, task, x, y, total, exact}}}}}``"""
        docs = self.reads.require(company, tasks, model_events)
        charts: dict = {}
        for task in dict.fromkeys(tasks):
            for (_, metric, variant), shown in self._charts(company, task, key, points, metrics, x_min, x_max,
                                                            model_events).items():
                charts.setdefault(metric, {}).setdefault(variant, {})[task] = {
                    "name": docs[task].get("name"), "task": task, **shown}
        return {"metrics": charts}

    # -- one task ------------------------------------------------------------------------------------------
    def _charts(self, company: str, task: str, key: str, points: int, metrics: MetricVariants | None,
                x_min: float | None, x_max: float | None, model_events: bool) -> dict[tuple, dict]:
        x_key = "iter" if key == "iter" else "timestamp"
        low = None if x_min is None else math.ceil(x_min)
        high = None if x_max is None else math.floor(x_max)
        if self.pyramid.has_series(company, task, model_events):
            found = self._from_pyramid(company, task, x_key, points, metrics, low, high, model_events)
        else:
            found = self._from_events(company, task, x_key, points, metrics, low, high, model_events)
        result = {}
        for series, (sampler, label) in sorted(found.items(), key=lambda item: (item[0].metric, item[0].variant)):
            xs, ys = sampler.result()
            shown: dict = {"x": [iso_time(x) for x in xs] if key == "iso_time" else xs, "y": ys,
                           "total": sampler.total, "exact": sampler.exact}
            if label:
                shown["x_axis_label"] = label
            result[(series.task, series.metric, series.variant)] = shown
        return result

    def _from_pyramid(self, company: str, task: str, x_key: str, points: int, metrics: MetricVariants | None,
                      low: int | None, high: int | None, model_events: bool) -> dict:
        views = []
        for series, summary in self.pyramid.series(company, [task], model_events, metrics).items():
            view = self._view(series, summary, x_key, points, low, high)
            if view is not None:
                views.append(view)
        requests = [piece for view in views for piece in view.pieces]
        pieces = iter(self.pyramid.pieces(company, model_events, requests))
        found = {}
        for view in views:
            view_pieces: list[Extremes] = [p for _ in view.pieces for p in next(pieces)]
            raw = [e for a, b in view.raw for e in self._raw(company, view.key, x_key, a, b, model_events)]
            total = sum(p.count for p in view_pieces) + len(raw)
            if total == 0:
                continue
            if total <= points and view.pieces:
                # Few enough: the raw events of the range, as reported.
                raw = self._raw(company, view.key, x_key, view.x_min, view.x_max, model_events)
                view_pieces = []
            sampler = Downsampler(view.x_min, view.x_max, points, align=width(view.level) if view.level else 1)
            for piece in view_pieces:
                sampler.add_extremes(piece)
            for event in raw:
                sampler.add(event[x_key], event["value"])
            found[view.key] = (sampler, view.label)
        return found

    def _view(self, series: SeriesKey, summary: SeriesSummary, x_key: str, points: int, low: int | None,
              high: int | None) -> _View | None:
        first, last = summary.x_range(x_key)
        a = first if low is None else max(first, low)
        b = last if high is None else min(last, high)
        if a > b:
            return None
        if summary.count <= points:
            return _View(series, a, b, 0, summary.x_axis_label, [], [(a, b)])
        level = choose_level(a, b, points, LEVELS[x_key])
        parts, raw = cover(a, b, sorted((lvl for lvl in LEVELS[x_key] if lvl <= level), reverse=True))
        requests = [PieceRequest(series, x_key, lvl, lo, hi) for lvl, lo, hi in parts]
        return _View(series, a, b, level, summary.x_axis_label, requests, raw)

    def _raw(self, company: str, series: SeriesKey, x_key: str, a: int, b: int, model_events: bool) -> list[dict]:
        """The series' events with x in [a, b] (single values left out)."""
        if x_key == "iter":
            flt = EventFilter(company, [series.task], types=[SCALAR], model_events=model_events,
                              metrics={series.metric: [series.variant]}, iter_min=a, iter_max=b)
            events = stream(self.store, flt, [("iter", ASC)], fields=RAW_FIELDS, page_size=RAW_PAGE)
        else:
            # By time, every series of the task, kept to this one here: a time range narrowed by metric and variant
            # is read through the (metric, variant, iter) index by the embedded server, i.e. the whole series.
            flt = EventFilter(company, [series.task], types=[SCALAR], model_events=model_events,
                              timestamp_min=a, timestamp_max=b)
            events = (e for e in stream(self.store, flt, [("timestamp", ASC)], fields=RAW_FIELDS, page_size=RAW_PAGE)
                      if e["metric"] == series.metric and e["variant"] == series.variant)
        return [e for e in events if e.get("iter") is not None and e["iter"] != SINGLE_VALUE_ITERATION]

    def _from_events(self, company: str, task: str, x_key: str, points: int, metrics: MetricVariants | None,
                     low: int | None, high: int | None, model_events: bool) -> dict:
        """Events stored before the pyramid existed: every event of the range, streamed."""
        flt = EventFilter(company, [task], types=[SCALAR], model_events=model_events, metrics=metrics,
                          iter_min=SINGLE_VALUE_ITERATION + 1)
        found = {}
        for (_, metric, variant), info in sorted(self.store.series(flt).items()):
            first, last = ((info.min_iter, info.max_iter) if x_key == "iter"
                           else (info.min_timestamp, info.max_timestamp))
            if first is None or last is None:
                continue
            a = first if low is None else max(first, low)
            b = last if high is None else min(last, high)
            if a > b:
                continue
            series = SeriesKey(task, metric, variant)
            sampler = Downsampler(a, b, points)
            label = None
            for event in self._raw(company, series, x_key, a, b, model_events):
                sampler.add(event[x_key], event["value"])
                label = event.get("x_axis_label") or label
            if sampler.total:
                found[series] = (sampler, label)
        return found

