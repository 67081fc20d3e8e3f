"""Plots and debug images: the latest iterations, paging through iterations, and one-sample navigation.

- :class:`IterationPages` serves ``events.debug_images`` and ``events.plots``: per task, the events of the
  ``iters`` latest iterations, then earlier (or later) ones on each call with the scroll id.
- :func:`latest_per_series` serves ``events.get_task_plots`` and ``get_multi_task_plots``: each series' last
  iterations.
- :class:`SampleNavigator` serves ``get_debug_image_sample``/``next_debug_image_sample`` and
  ``get_plot_sample``/``next_plot_sample``: one image (one metric's plots) at a time, moving across variants
  (metrics) and iterations.

Debug images are stored under names the SDK recycles (a history of N files per series), so an old event may
point to a file since overwritten: for each series, iterations at or before the last one that reused the
latest file's url are not shown, as in the reference.
"""
from __future__ import annotations

from dataclasses import replace
from itertools import groupby
from typing import Iterator, Mapping, Sequence

from trackside.api.bll import event_scroll
from trackside.api.bll.event_reads import EventReads, MetricVariants, public, stream
from trackside.shared.events import ASC, DESC, IMAGE, PLOT, EventFilter, SeriesInfo

# How many events of one series are read to find where its recycled image files begin.
RECYCLE_SCAN_LIMIT = 10_000
# Events read at a time while looking for the next sample.
SCAN_PAGE = 200
PLOTS_PER_SAMPLE = 100

Pair = tuple[str, str]


def _in_iteration(flt: EventFilter, iteration: int) -> EventFilter:
    return replace(flt, iter_min=iteration, iter_max=iteration)


def _pairs_filter(pairs: Sequence[Pair]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for metric, variant in pairs:
        found.setdefault(metric, []).append(variant)
    return found


# -- url recycling of debug images ------------------------------------------------------------------------------
def first_valid_iterations(reads: EventReads, flt: EventFilter, pairs: Sequence[Pair]) -> dict[Pair, int]:
    """For each image series, the lowest iteration whose file has not been overwritten since."""
    valid = {}
    for metric, variant in pairs:
        events = stream(reads.store, replace(flt, metrics={metric: [variant]}), [("iter", DESC)],
                        fields=["iter", "url"], page_size=1000)
        latest_url, reused_at = None, None
        for n, event in enumerate(events):
            if n == 0:
                latest_url = event.get("url")
            elif event.get("url") == latest_url and event.get("iter") is not None:
                reused_at = event["iter"]
                break
            if n >= RECYCLE_SCAN_LIMIT:
                break
        if reused_at is not None:
            valid[(metric, variant)] = reused_at + 1
    return valid


def url_ranges(reads: EventReads, flt: EventFilter, infos: Mapping[tuple, SeriesInfo]) -> dict[Pair, tuple]:
    """For each image series: (the first iteration still holding a valid file, the last iteration).

    The first valid one is the lowest of the iterations where each url was last written, as the reference."""
    ranges = {}
    for (_, metric, variant), info in sorted(infos.items()):
        last_written: dict[str, int] = {}
        events = stream(reads.store, replace(flt, metrics={metric: [variant]}), [("iter", DESC)],
                        fields=["iter", "url"], page_size=1000)
        for n, event in enumerate(events):
            if n >= RECYCLE_SCAN_LIMIT or event.get("iter") is None:
                break
            last_written.setdefault(event.get("url"), event["iter"])
        if last_written:
            ranges[(metric, variant)] = (min(last_written.values()), info.max_iter)
    return ranges


# -- iterations, a page at a time -------------------------------------------------------------------------------
class IterationPages:
    def __init__(self, reads: EventReads, event_type: str):
        self.reads = reads
        self.event_type = event_type
        self.kind = "images" if event_type == IMAGE else "plots"

    def get(self, company: str, task_metrics: Mapping[str, MetricVariants], iters: int,
            navigate_earlier: bool = True, refresh: bool = False, scroll_id: str | None = None,
            model_events: bool = False) -> dict:
        self.reads.require(company, list(task_metrics), model_events, fields=())
        bounds = {} if refresh or not scroll_id else self._bounds(scroll_id)
        results = []
        for task, metrics in task_metrics.items():
            low, high = bounds.get(task, (None, None))
            flt = EventFilter(company, [task], types=[self.event_type], model_events=model_events,
                              metrics=metrics or None)
            earlier = navigate_earlier if high is not None else True  # the first page is always the latest
            window = flt
            if earlier and low is not None:
                window = replace(flt, iter_max=low - 1)
            elif not earlier and high is not None:
                window = replace(flt, iter_min=high + 1)
            iterations = self._iterations(flt, window, earlier, iters)
            if iterations:
                bounds[task] = (iterations[-1]["iter"], iterations[0]["iter"])
            results.append({"task": task, "iterations": iterations})
        state = {"tasks": {task: list(bound) for task, bound in bounds.items()}}
        return {"scroll_id": event_scroll.encode(self.kind, state), "metrics": results}

    def _bounds(self, scroll_id: str) -> dict[str, tuple[int, int]]:
        state = event_scroll.decode(scroll_id, self.kind)
        tasks = event_scroll.field(state, "tasks", lambda v: isinstance(v, dict), scroll_id, {})
        for bound in tasks.values():
            if not (isinstance(bound, list) and len(bound) == 2 and all(map(event_scroll.is_int, bound))):
                raise event_scroll.invalid(scroll_id)
        return {task: tuple(bound) for task, bound in tasks.items()}

    def _iterations(self, flt: EventFilter, window: EventFilter, earlier: bool, iters: int) -> list[dict]:
        first_valid = {}
        if self.event_type == IMAGE:
            pairs = [(m, v) for (_, m, v) in self.reads.store.series(flt)]
            first_valid = first_valid_iterations(self.reads, flt, pairs)
        direction = DESC if earlier else ASC
        events = stream(self.reads.store, window, [("iter", direction), ("metric", ASC), ("variant", ASC)],
                        page_size=1000)
        iterations = []
        for iteration, group in groupby((e for e in events if e.get("iter") is not None), key=lambda e: e["iter"]):
            chosen: dict[Pair, dict] = {}
            for event in group:
                pair = (event["metric"], event["variant"])
                if iteration < first_valid.get(pair, iteration):
                    continue
                if pair not in chosen or self._better(event, chosen[pair]):
                    chosen[pair] = event
            if chosen:
                iterations.append({"iter": iteration, "events": [public(chosen[p]) for p in sorted(chosen)]})
                if len(iterations) >= iters:
                    break
        iterations.sort(key=lambda it: it["iter"], reverse=True)
        return iterations

    def _better(self, event: dict, chosen: dict) -> bool:
        """Which event of one series and iteration is shown: the highest url (images), the latest (plots)."""
        if self.event_type == IMAGE:
            return (event.get("url") or "") > (chosen.get("url") or "")
        return event["timestamp"] > chosen["timestamp"]


# -- last iterations of each series -----------------------------------------------------------------------------
def last_iterations(reads: EventReads, flt: EventFilter, count: int) -> list[int]:
    """The ``count`` highest distinct iterations with events matching ``flt``, highest first."""
    found: list[int] = []
    for event in stream(reads.store, flt, [("iter", DESC)], fields=["iter"], page_size=1000):
        iteration = event.get("iter")
        if iteration is None:
            break
        if not found or found[-1] != iteration:
            if len(found) == count:
                break
            found.append(iteration)
    return found


def latest_per_series(reads: EventReads, flt: EventFilter, iters: int) -> Iterator[dict]:
    """For each series matching ``flt`` (by task, metric, variant), its events at its ``iters`` latest
    iterations, latest first."""
    for (task, metric, variant) in sorted(reads.store.series(flt)):
        series = replace(flt, tasks=[task], metrics={metric: [variant]})
        yield from reads.store.search(series, [("iter", DESC)], iters).events


def task_plots(reads: EventReads, company: str, task: str, iters: int, metrics: MetricVariants | None = None,
               model_events: bool = False) -> dict:
    """The task's plots: each series' last ``iters``, by metric and variant."""
    reads.require(company, [task], model_events, fields=())
    flt = EventFilter(company, [task], types=[PLOT], model_events=model_events, metrics=metrics)
    plots = [public(event) for event in latest_per_series(reads, flt, iters)]
    return {"plots": plots, "returned": len(plots), "total": len(plots), "scroll_id": None}


def multi_task_plots(reads: EventReads, company: str, tasks: Sequence[str], iters: int, per_metric: bool,
                     metrics: MetricVariants | None = None, model_events: bool = False) -> dict:
    """``{metric: {variant: {task: {iter: {name, plots}}}}}``: each task's plots at its last ``iters``
    iterations (of each metric when ``per_metric``, else of the task), at most ``iters`` per series."""
    docs = reads.require(company, tasks, model_events)
    shown: dict = {}
    total = 0
    for task in dict.fromkeys(tasks):
        base = EventFilter(company, [task], types=[PLOT], model_events=model_events, metrics=metrics)
        scopes = ([replace(base, metrics={metric: (metrics or {}).get(metric, [])})
                   for metric in sorted({m for (_, m, _) in reads.store.series(base)})] if per_metric else [base])
        for scope in scopes:
            chosen = last_iterations(reads, scope, iters)
            if not chosen:
                continue
            window = replace(scope, iter_min=chosen[-1], iter_max=chosen[0])
            for event in latest_per_series(reads, window, iters):
                if event.get("iter") not in chosen:
                    continue
                total += 1
                leaf = (shown.setdefault(event["metric"], {}).setdefault(event["variant"], {})
                        .setdefault(task, {}).setdefault(str(event["iter"]),
                                                         {"name": docs[task].get("name"), "plots": []}))
                leaf["plots"].append(public(event))
    return {"plots": shown, "returned": total, "total": total, "scroll_id": None}


# -- one sample at a time ---------------------------------------------------------------------------------------
class SampleNavigator:
    """Debug images one variant at a time, or plots one metric at a time; the scroll id holds the position."""

    def __init__(self, reads: EventReads, event_type: str):
        self.reads = reads
        self.event_type = event_type
        self.kind = "image-sample" if event_type == IMAGE else "plot-sample"
        self.images = event_type == IMAGE

    # The valid range of each sample group: (metric, variant) for images, (metric, "") for plots.
    def _ranges(self, flt: EventFilter) -> dict[Pair, tuple]:
        infos = self.reads.store.series(flt)
        if self.images:
            return url_ranges(self.reads, flt, infos)
        ranges: dict[Pair, tuple] = {}
        for (_, metric, _), info in infos.items():
            if info.min_iter is None:
                continue
            low, high = ranges.get((metric, ""), (info.min_iter, info.max_iter))
            ranges[(metric, "")] = (min(low, info.min_iter), max(high, info.max_iter))
        return ranges

    def _scope(self, company: str, task: str, metric: str, current_metric: bool, model_events: bool) -> EventFilter:
        return EventFilter(company, [task], types=[self.event_type], model_events=model_events,
                           metrics={metric: []} if current_metric else None)

    def first(self, company: str, task: str, metric: str, variant: str = "", iteration: int | None = None,
              scroll_id: str | None = None, current_metric: bool = True, model_events: bool = False) -> dict:
        """The sample at ``iteration`` (or the latest before it; the latest of all without one)."""
        self.reads.require(company, [task], model_events, fields=())
        if scroll_id:
            state = self._state(scroll_id, task)
            if state["cm"] != current_metric or (current_metric and state["metric"] != metric):
                raise event_scroll.invalid(scroll_id)
        scope = self._scope(company, task, metric, current_metric, model_events)
        ranges = self._ranges(scope)
        group = (metric, variant if self.images else "")
        state = {"task": task, "metric": metric, "variant": group[1], "iter": None, "cm": current_metric,
                 "me": model_events}
        result = self._result(state, None, ranges.get(group))
        if group not in ranges:
            return result
        low, _ = ranges[group]
        flt = replace(scope, metrics={metric: [variant] if self.images else []}, iter_min=low, iter_max=iteration)
        found = self.reads.store.search(flt, [("iter", DESC)], 1).events
        if not found:
            return result
        return self._show(state, self._group_events(flt, found[0]), ranges)

    def next(self, company: str, task: str, scroll_id: str, navigate_earlier: bool = True,
             next_iteration: bool = False) -> dict:
        state = self._state(scroll_id, task)
        model_events = state["me"]
        self.reads.require(company, [task], model_events, fields=())
        scope = self._scope(company, task, state["metric"], state["cm"], model_events)
        ranges = self._ranges(scope)
        current = (state["metric"], state["variant"])
        empty = {**self._result(state, None, ranges.get(current)), "scroll_id": scroll_id}
        if state["iter"] is None:
            return empty
        event = None
        if not next_iteration:
            event = self._next_in_iteration(scope, ranges, state, current, navigate_earlier)
        if event is None:
            event = self._next_iteration(scope, ranges, state, navigate_earlier)
        if event is None:
            return empty
        flt = replace(scope, metrics={event["metric"]: [event["variant"]] if self.images else []})
        return self._show(state, self._group_events(_in_iteration(flt, event["iter"]), event), ranges)

    def _next_in_iteration(self, scope, ranges, state, current: Pair, earlier: bool) -> dict | None:
        """The nearest group after (before) the current one that has a sample in the current iteration."""
        iteration = state["iter"]
        beyond = [g for g, (low, _) in ranges.items() if (g < current if earlier else g > current) and low <= iteration]
        if not beyond:
            return None
        direction = DESC if earlier else ASC
        flt = _in_iteration(replace(scope, metrics=self._groups_filter(beyond)), iteration)
        found = self.reads.store.search(flt, [("metric", direction), ("variant", direction)], 1).events
        return found[0] if found else None

    def _next_iteration(self, scope, ranges, state, earlier: bool) -> dict | None:
        """The first group (last, going back) of the nearest later (earlier) iteration, skipping samples whose
        file was overwritten."""
        iteration = state["iter"]
        groups = [g for g, (low, _) in ranges.items() if not earlier or low < iteration]
        if not groups:
            return None
        direction = DESC if earlier else ASC
        flt = replace(scope, metrics=self._groups_filter(groups))
        flt = replace(flt, iter_max=iteration - 1) if earlier else replace(flt, iter_min=iteration + 1)
        sort = [("iter", direction), ("metric", direction), ("variant", direction)]
        for n, event in enumerate(stream(self.reads.store, flt, sort, page_size=SCAN_PAGE)):
            group = (event["metric"], event["variant"] if self.images else "")
            if event.get("iter") is not None and event["iter"] >= ranges[group][0]:
                return event
            if n >= RECYCLE_SCAN_LIMIT:
                break
        return None

    def _groups_filter(self, groups: Sequence[Pair]) -> dict[str, list[str]]:
        if self.images:
            return _pairs_filter(groups)
        return {metric: [] for metric, _ in groups}

    def _group_events(self, flt: EventFilter, event: dict) -> list[dict]:
        """The sample shown for ``event``: the image itself, or every plot of its metric in its iteration."""
        if self.images:
            return [event]
        metric_plots = replace(_in_iteration(flt, event["iter"]), metrics={event["metric"]: []})
        return self.reads.store.search(metric_plots, [("variant", ASC)], PLOTS_PER_SAMPLE).events

    def _show(self, state: dict, events: list[dict], ranges: Mapping[Pair, tuple]) -> dict:
        first = events[0]
        state = {**state, "metric": first["metric"], "variant": first["variant"] if self.images else "",
                 "iter": first.get("iter")}
        return self._result(state, events, ranges.get((state["metric"], state["variant"])))

    def _result(self, state: dict, events: list[dict] | None, bounds: tuple | None) -> dict:
        low, high = bounds or (None, None)
        shown: dict = {"scroll_id": event_scroll.encode(self.kind, state), "min_iteration": low,
                       "max_iteration": high}
        if self.images:
            shown["event"] = public(events[0]) if events else None
        else:
            shown["events"] = [public(e) for e in events or ()]
        return shown

    def _state(self, scroll_id: str, task: str) -> dict:
        state = event_scroll.decode(scroll_id, self.kind)
        checks = {"task": lambda v: v == task, "metric": lambda v: isinstance(v, str),
                  "variant": lambda v: isinstance(v, str), "cm": lambda v: isinstance(v, bool),
                  "me": lambda v: isinstance(v, bool), "iter": lambda v: v is None or event_scroll.is_int(v)}
        if set(state) != set(checks) or not all(check(state[name]) for name, check in checks.items()):
            raise event_scroll.invalid(scroll_id)
        return state
