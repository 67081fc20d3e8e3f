"""Reading events back: what the SDK and the web UI ask about a task's (or model's) events.

Everything here is built on the store primitives (:meth:`EventStore.search` with a cursor, ``count``,
``series``), so it behaves the same on every backend. Reads that may cover many events page through the store
(:func:`stream`) instead of loading them at once; paged endpoints hand the cursor to the client in a scroll id
(:mod:`.event_scroll`).

Events are shown as the reference shows them: the stored fields without ``company``, ``id`` and ``time``, plus
``@timestamp`` (ISO time), and a vector's values under ``value``.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Iterator, Mapping, Sequence

from pymongo.collection import Collection

from trackside.api import errors
from trackside.api.bll import event_scroll
from trackside.shared.events import (
    ASC, DESC, EVENT_TYPES, LOG, SCALAR, VECTOR, EventFilter, EventStore, SeriesInfo,
)
from trackside.shared.events.store import to_datetime

# Events per store read while streaming.
PAGE = 5_000
# Log lines sharing the timestamp of a page's last line are added to the page (so paging by timestamp loses
# none), up to this many.
SAME_TIMESTAMP_LIMIT = 10_000
MAX_BATCH = 10_000
# The iteration the SDK reports single values at (Logger.report_single_value).
SINGLE_VALUE_ITERATION = -2**31
LOG_LINE_FIELDS = ("asctime", "timestamp", "level", "worker", "msg")

MetricVariants = Mapping[str, Sequence[str]]


# -- shaping -----------------------------------------------------------------------------------------------------
def public(event: dict) -> dict:
    """An event as the API returns it."""
    # "seq" (a log line's position, bll/event_log_lines.py) is ours: the reference's answers do not have it.
    shown = {key: value for key, value in event.items() if key not in ("company", "id", "time", "values", "seq")}
    if "values" in event:
        shown["value"] = event["values"]
    if "timestamp" in event:
        shown["@timestamp"] = iso_time(event["timestamp"])
    return shown


def iso_time(timestamp_ms: int) -> str:
    """Epoch ms as the reference's ``strict_date_time``: ``2024-01-31T12:00:00.123Z``."""
    return to_datetime(timestamp_ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def metric_variants(items: Sequence[Mapping] | None) -> dict[str, list[str]] | None:
    """The request's ``metrics: [{metric, variants}]`` as the store's ``{metric: [variants]}``."""
    if not items:
        return None
    found: dict[str, list[str]] = {}
    for item in items:
        found.setdefault(item["metric"], []).extend(item.get("variants") or [])
    return found


def stream(store: EventStore, flt: EventFilter, sort, fields: Sequence[str] | None = None,
           page_size: int = PAGE, after: Sequence | None = None) -> Iterator[dict]:
    """Every event matching ``flt`` in ``sort`` order, read one page at a time."""
    while True:
        page = store.search(flt, sort, page_size, after=after, fields=fields)
        yield from page.events
        if len(page.events) < page_size:
            return
        after = page.next_after


class EventReads:
    def __init__(self, store: EventStore, entities: Mapping[bool, Collection]):
        self.store = store
        # model_events -> the collection the events' "task" ids point into
        self.entities = entities

    # -- the tasks (or models) read ------------------------------------------------------------------------------
    def require(self, company: str, ids: Sequence[str], model_events: bool = False,
                fields: Sequence[str] = ("name",)) -> dict[str, dict]:
        """The documents of these tasks (or models), by id; 400/101 (400/201) naming the ones not found."""
        wanted = list(dict.fromkeys(ids))
        found = {doc["_id"]: doc for doc in self.entities[model_events].find(
            {"_id": {"$in": wanted}, "company": company}, dict.fromkeys(fields, 1))}
        missing = [i for i in wanted if i not in found]
        if missing:
            error = errors.InvalidModelId if model_events else errors.InvalidTaskId
            raise error(f"{error.default_message}: {', '.join(missing)}", ids=missing)
        return found

    def filter(self, company: str, tasks: Sequence[str], model_events: bool = False, **narrowing) -> EventFilter:
        return EventFilter(company, list(tasks), model_events=model_events, **narrowing)

    # -- console log -------------------------------------------------------------------------------------------
    def task_log(self, company: str, task: str, batch_size: int, navigate_earlier: bool = True,
                 from_timestamp: int | None = None, order: str | None = None,
                 metrics: MetricVariants | None = None) -> dict:
        """Up to ``batch_size`` log lines before (or after) ``from_timestamp``, or from the end (the start).

        Lines sharing the last line's timestamp are all included, so the next call, from that timestamp, loses
        none. ``order`` only flips how the page is listed."""
        self.require(company, [task])
        base = self.filter(company, [task], types=[LOG], metrics=metrics)
        flt = base
        if from_timestamp:
            flt = (replace(base, timestamp_max=from_timestamp - 1) if navigate_earlier
                   else replace(base, timestamp_min=from_timestamp + 1))
        direction = DESC if navigate_earlier else ASC
        sort = [("timestamp", direction)]
        page = self.store.search(flt, sort, min(batch_size, MAX_BATCH))
        events = page.events
        if events and len(events) == min(batch_size, MAX_BATCH):
            last = events[-1]["timestamp"]
            same = replace(base, timestamp_min=last, timestamp_max=last)
            events += list(_limited(stream(self.store, same, sort, after=page.next_after), SAME_TIMESTAMP_LIMIT))
        if order and (order == "asc") == navigate_earlier:
            events.reverse()
        return {"events": [public(e) for e in events], "returned": len(events), "total": self.store.count(base)}

    def log_lines(self, company: str, task: str, line_format: str | None) -> Iterator[str]:
        """The whole log, oldest first, one line at a time: JSON objects, or ``line_format`` filled in."""
        flt = self.filter(company, [task], types=[LOG])
        for event in stream(self.store, flt, [("timestamp", ASC)], page_size=1000):
            shown = public(event)
            shown["asctime"] = shown.pop("timestamp")
            if line_format is None:
                for name in ("type", "task", "model_event"):
                    shown.pop(name, None)
                yield json.dumps(shown) + "\n"
            else:
                yield line_format.format(**{name: shown.get(name) for name in LOG_LINE_FIELDS})

    # -- raw events ----------------------------------------------------------------------------------------------
    def task_events(self, company: str, task: str, batch_size: int, order: str = "asc",
                    event_type: str | None = None, metrics: MetricVariants | None = None,
                    model_events: bool = False, scroll_id: str | None = None, count_total: bool = True) -> dict:
        """A task's events by iteration, one batch per call. The scroll id carries the cursor and total, and (as
        the reference's keeps the first request) the order, event type and metrics its first call asked for."""
        self.require(company, [task], model_events)
        after, total = None, None
        if scroll_id:
            state = event_scroll.decode(scroll_id, "events")
            after = event_scroll.field(state, "after", event_scroll.is_cursor, scroll_id)
            total = event_scroll.field(state, "total", event_scroll.is_int, scroll_id)
            order = event_scroll.field(state, "order", lambda v: v in ("asc", "desc"), scroll_id, order)
            event_type = event_scroll.field(state, "type", lambda v: v is None or v in EVENT_TYPES, scroll_id,
                                            event_type)
            metrics = event_scroll.field(state, "metrics", _is_metric_variants, scroll_id, metrics)
            if state.get("done"):
                return {"events": [], "returned": 0, "total": total, "scroll_id": scroll_id}
        flt = self.filter(company, [task], model_events, types=[event_type] if event_type else (), metrics=metrics)
        if total is None and count_total:
            total = self.store.count(flt)
        direction = DESC if order == "desc" else ASC
        sort = [("iter", direction)]
        page = self.store.search(flt, sort, min(batch_size, MAX_BATCH), after=after)
        events, next_after = page.events, page.next_after
        if len(events) == min(batch_size, MAX_BATCH) and events[-1].get("iter") is not None:
            # As the reference: a batch ends with all the events of its last iteration.
            last = events[-1]["iter"]
            same = replace(flt, iter_min=last, iter_max=last)
            events += list(_limited(stream(self.store, same, sort, after=next_after), SAME_TIMESTAMP_LIMIT))
            next_after = (events[-1].get("iter"), events[-1]["id"])
        state = {"order": order, "total": total, "after": list(next_after or after or []) or None,
                 "type": event_type, "metrics": dict(metrics) if metrics else None}
        if not events:
            state["done"] = True
        return {"events": [public(e) for e in events], "returned": len(events), "total": total,
                "scroll_id": event_scroll.encode("events", state)}

    def scalar_metric_data(self, company: str, task: str, metric: str, model_events: bool = False,
                           scroll_id: str | None = None, batch_size: int = 500) -> dict:
        """One metric's scalar events, latest iteration first."""
        self.require(company, [task], model_events)
        after = None
        if scroll_id:
            state = event_scroll.decode(scroll_id, "scalars")
            after = event_scroll.field(state, "after", event_scroll.is_cursor, scroll_id)
        flt = self.filter(company, [task], model_events, types=[SCALAR], metrics={metric: []})
        page = self.store.search(flt, [("iter", DESC)], batch_size, after=after)
        next_after = list(page.next_after) if page.next_after else after
        return {"events": [public(e) for e in page.events], "returned": len(page.events),
                "total": self.store.count(flt), "scroll_id": event_scroll.encode("scalars", {"after": next_after})}

    # -- what a task reported ------------------------------------------------------------------------------------
    def series(self, company: str, tasks: Sequence[str], event_type: str | None, model_events: bool = False,
               **narrowing) -> dict[tuple[str, str, str], SeriesInfo]:
        return self.store.series(self.filter(company, tasks, model_events,
                                             types=[event_type] if event_type else (), **narrowing))

    def metrics_and_variants(self, company: str, task: str, event_type: str, model_events: bool = False) -> dict:
        """``{metric: [variants]}``, both sorted."""
        self.require(company, [task], model_events)
        found: dict[str, list[str]] = {}
        for (_, metric, variant) in sorted(self.series(company, [task], event_type, model_events)):
            found.setdefault(metric, []).append(variant)
        return found

    def task_metrics(self, company: str, tasks: Sequence[str], event_type: str | None,
                     model_events: bool = False) -> list[dict]:
        """For each task, the metrics it reported events of this type for."""
        self.require(company, tasks, model_events, fields=())
        names: dict[str, set[str]] = {task: set() for task in tasks}
        # As the reference: single values (and events without an iteration) are not counted.
        for (task, metric, _) in self.series(company, tasks, event_type, model_events,
                                             iter_min=SINGLE_VALUE_ITERATION + 1):
            names[task].add(metric)
        return [{"task": task, "metrics": sorted(metrics)} for task, metrics in names.items()]

    def vector_iterations(self, company: str, task: str, metric: str, variant: str,
                          model_events: bool = False) -> dict:
        """A vector metric's values at each iteration (the reference's first 10,000)."""
        self.require(company, [task], model_events)
        flt = self.filter(company, [task], model_events, types=[VECTOR], metrics={metric: [variant]})
        events = self.store.search(flt, [("iter", ASC)], MAX_BATCH, fields=["iter", "values"]).events
        return {"metric": metric, "variant": variant, "iterations": [e.get("iter") for e in events],
                "vectors": [e.get("values") for e in events]}

    def single_value_metrics(self, company: str, tasks: Sequence[str], model_events: bool = False,
                             metrics: MetricVariants | None = None) -> list[dict]:
        """The values reported with Logger.report_single_value, per task."""
        docs = self.require(company, tasks, model_events)
        flt = self.filter(company, list(docs), model_events, types=[SCALAR], metrics=metrics,
                          iter_min=SINGLE_VALUE_ITERATION, iter_max=SINGLE_VALUE_ITERATION)
        values: dict[str, list[dict]] = {}
        sort = [("task", ASC), ("metric", ASC), ("variant", ASC)]
        for event in stream(self.store, flt, sort, fields=["task", "metric", "variant", "value", "timestamp"]):
            values.setdefault(event["task"], []).append(
                {name: event.get(name) for name in ("metric", "variant", "value", "timestamp")})
        return [{"task": task, "task_name": docs[task].get("name"), "values": found}
                for task, found in values.items()]

    def latest_scalar_values(self, company: str, task: str) -> dict:
        """Each scalar series' latest value, with the task's progress: all kept on the task document by
        ingestion (``last_metrics``, ``last_iteration``, ``last_update``), so no event is read."""
        doc = self.require(company, [task], fields=("name", "status", "last_metrics", "last_iteration",
                                                    "last_update"))[task]
        metrics: dict[str, list[dict]] = {}
        for variants in (doc.get("last_metrics") or {}).values():
            for entry in (variants or {}).values() if isinstance(variants, dict) else ():
                if isinstance(entry, dict) and "value" in entry:
                    metrics.setdefault(entry.get("metric", ""), []).append(
                        # last_10_value: the reference's aggregation yields the latest value there too.
                        {"name": entry.get("variant", ""), "last_value": entry["value"],
                         "last_10_value": entry["value"]})
        last_update = doc.get("last_update")
        return {
            "metrics": [{"name": name, "variants": sorted(variants, key=lambda v: v["name"])}
                        for name, variants in sorted(metrics.items())],
            "last_iter": doc.get("last_iteration") or 0,
            "name": doc.get("name"),
            "status": doc.get("status"),
            # The reference gives the time the last scalar was written; ingestion raises last_update then.
            "last_timestamp": int(last_update.timestamp() * 1000) if isinstance(last_update, datetime) else 0,
        }

    def unique_metric_variants(self, company: str, project_ids: Sequence[str] | None,
                               ids: Sequence[str] | None = None, model_metrics: bool = False) -> list[dict]:
        """Every metric/variant pair in the ``last_metrics`` of these projects' tasks (or models), with the
        hashes it is stored under, sorted by names."""
        query: dict = {"company": company}
        if project_ids is not None:
            query["project"] = {"$in": list(project_ids)}
        if ids:
            query["_id"] = {"$in": list(ids)}
        pairs: dict[tuple[str, str], dict] = {}
        for doc in self.entities[model_metrics].find(query, {"last_metrics": 1}):
            for metric_hash, variants in (doc.get("last_metrics") or {}).items():
                for variant_hash, entry in (variants or {}).items() if isinstance(variants, dict) else ():
                    if isinstance(entry, dict) and "metric" in entry:
                        pairs.setdefault((entry["metric"], entry.get("variant", "")), {
                            "metric": entry["metric"], "metric_hash": metric_hash,
                            "variant": entry.get("variant", ""), "variant_hash": variant_hash})
        return [pairs[key] for key in sorted(pairs)]

    # -- deleting ------------------------------------------------------------------------------------------------
    def delete_for(self, company: str, entity_id: str, model_events: bool, allow_locked: bool) -> int:
        doc = self.require(company, [entity_id], model_events, fields=("status", "ready"))[entity_id]
        locked = doc.get("ready") is True if model_events else doc.get("status") in ("publishing", "published")
        if locked and not allow_locked:
            error = errors.InvalidModelId if model_events else errors.InvalidTaskId
            raise error(f"Cannot update events for a published {'model' if model_events else 'task'}",
                        id=entity_id)
        return self.store.delete_for_tasks(company, [entity_id], model_events)

    def clear_log(self, company: str, task: str, allow_locked: bool, threshold_sec: int | None = None,
                  include_metrics: Sequence[str] | None = None, exclude_metrics: Sequence[str] | None = None,
                  now_ms: int | None = None) -> int:
        """events.clear_task_log: remove the task's log lines older than ``threshold_sec`` (all without one),
        only of ``include_metrics`` / not of ``exclude_metrics`` when given; how many were removed."""
        doc = self.require(company, [task], fields=("status",))[task]
        if doc.get("status") in ("publishing", "published") and not allow_locked:
            raise errors.InvalidTaskId("Cannot update events for a published task", id=task)
        flt = self.filter(company, [task], types=[LOG])
        if threshold_sec:
            now_ms = now_ms if now_ms is not None else int(datetime.now().timestamp() * 1000)
            flt = replace(flt, timestamp_max=now_ms - threshold_sec * 1000 - 1)
        if include_metrics or exclude_metrics:
            # The filter selects metrics, it cannot leave some out: exclusions become the other metrics present.
            present = {metric for (_, metric, _) in self.store.series(flt)}
            if include_metrics:
                present &= set(include_metrics)
            present -= set(exclude_metrics or ())
            if not present:
                return 0
            flt = replace(flt, metrics={metric: [] for metric in sorted(present)})
        return self.store.delete(flt)


def _is_metric_variants(value) -> bool:
    return value is None or (isinstance(value, dict) and all(
        isinstance(v, list) and all(isinstance(name, str) for name in v) for v in value.values()))


def _limited(events: Iterator[dict], limit: int) -> Iterator[dict]:
    for n, event in enumerate(events):
        if n >= limit:
            return
        yield event
