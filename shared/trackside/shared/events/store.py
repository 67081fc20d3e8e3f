"""The events store interface, and the validation every backend relies on.

Events are what a running task reports: scalars, vectors, plots, debug images and console log lines. They are
written in bulk and read back by task. Where they live is a deployment choice, so the API talks to an
:class:`EventStore` and :func:`open_store` picks the backend by name from configuration, as MLflow picks its
tracking store: MongoDB (the embedded default, small deployments) or Elasticsearch.

The store offers primitives only (filtered, sorted, cursor-paged reads and two small aggregations); what the
endpoints make of them (histograms, downsampling, log navigation, samples) is backend-independent and lives
in the API's events BLL. Each primitive maps onto a plain query in both backends: a Mongo find/aggregate, an
Elasticsearch search with ``search_after`` or a terms/composite/max aggregation (no point-in-time, no scripts).

:func:`normalise` turns one raw event object, as a client sent it, into the document every backend stores,
or raises :class:`InvalidEvent` with a reason meant for the caller's ``errors_info``.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import re
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

SCALAR = "training_stats_scalar"
VECTOR = "training_stats_vector"
PLOT = "plot"
IMAGE = "training_debug_image"
LOG = "log"
EVENT_TYPES = frozenset({SCALAR, VECTOR, PLOT, IMAGE, LOG})

# Iterations are 64-bit integers in both backends.
MAX_LONG, MIN_LONG = 2**63 - 1, -(2**63)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# The fields each type keeps besides the common ones; anything else a client sends (the SDK adds
# "method": "get" to every line) is dropped.
_STRING_FIELDS = {
    SCALAR: ("x_axis_label",),
    VECTOR: (),
    PLOT: ("plot_str",),
    IMAGE: ("key", "url"),
    LOG: ("msg", "level"),
}


# Image sources inside a plot's JSON ("source": "https://..."), kept as the reference keeps them, so that the
# files a plot shows can be found (and deleted with the task) without parsing every plot.
_PLOT_SOURCE = re.compile(r"""["']source["']:\s?["']([a-z][a-z0-9+\-.]*://.*?)["']""", re.IGNORECASE)


class InvalidEvent(ValueError):
    """An event that cannot be stored; ``reason`` is reported to the client, counted per reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WriteResult:
    """What became of each event of one :meth:`EventStore.write` call, by its index in the call."""

    # Events that did not exist before (the others replaced an earlier copy with the same id).
    created: frozenset[int] = frozenset()
    # Events the backend refused: index -> reason.
    failed: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventFilter:
    """Which events a read covers. Every field narrows; empty sequences and None mean "any"."""

    company: str
    tasks: Sequence[str]
    types: Sequence[str] = ()
    model_events: bool = False
    # metric -> variants; an empty variant list means every variant of that metric.
    metrics: Mapping[str, Sequence[str]] | None = None
    iter_min: int | None = None  # inclusive
    iter_max: int | None = None  # inclusive
    timestamp_min: int | None = None  # epoch ms, inclusive
    timestamp_max: int | None = None  # epoch ms, inclusive
    # A log line's position in its task's log (``seq``, given by the API at ingestion), inclusive.
    seq_min: int | None = None
    seq_max: int | None = None


# Fields a read may sort on. Every sort ends with "id" (added by the store if missing, in the direction of
# the last field) so that pages are stable and ``after`` is unambiguous. Only "iter" may be missing from an
# event: a missing value sorts lowest (first ascending, last descending) and is None in a sort key. "seq" is
# only meaningful for log lines read with a seq range (lines stored before it existed have none).
SORT_FIELDS = frozenset({"timestamp", "iter", "metric", "variant", "task", "id", "seq"})
ASC, DESC = 1, -1


def complete_sort(sort: Sequence[tuple[str, int]], after: Sequence | None = None) -> list[tuple[str, int]]:
    """``sort`` checked and ending with "id", as every backend applies it; ``after`` checked against it."""
    sort = list(sort)
    for name, order in sort:
        if name not in SORT_FIELDS or order not in (ASC, DESC):
            raise ValueError(f"cannot sort events on {name!r} {order!r}")
    if not sort or sort[-1][0] != "id":
        sort.append(("id", sort[-1][1] if sort else ASC))
    if after is not None and len(after) != len(sort):
        raise ValueError(f"'after' has {len(after)} values for a sort on {len(sort)} fields")
    return sort


@dataclass(frozen=True)
class Page:
    events: list[dict]
    # The sort key of the last event, to pass as ``after`` for the next page; None when nothing was returned.
    next_after: tuple | None


class EventStore(ABC):
    """Where events are kept. Implementations must be safe to share between threads."""

    def setup(self) -> None:
        """Idempotent start-up work (indexes, index templates); called once per process."""

    @abstractmethod
    def write(self, events: Sequence[dict]) -> WriteResult:
        """Store normalised events in one bulk operation.

        An event with a deterministic ``id`` (every type but ``log``) replaces a stored one with the same id,
        so a client's retry does not duplicate it; a log event is always added. One event failing does not
        stop the others. Written events are visible to reads as soon as this returns.
        """

    @abstractmethod
    def delete_for_tasks(self, company: str, task_ids: Iterable[str], model_events: bool = False) -> int:
        """Remove every event of these tasks (or models); the number removed."""

    def delete(self, flt: EventFilter) -> int:
        """Remove the events matching ``flt`` (which must name its tasks); the number removed. Every shipped
        backend implements it (``events.clear_task_log``); a plugged-in one without it cannot clear logs."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete events selectively")

    @abstractmethod
    def search(self, flt: EventFilter, sort: Sequence[tuple[str, int]], limit: int,
               after: Sequence | None = None, fields: Sequence[str] | None = None) -> Page:
        """At most ``limit`` events matching ``flt`` in ``sort`` order (fields of :data:`SORT_FIELDS`, each
        with :data:`ASC` or :data:`DESC`; see :func:`complete_sort`), starting strictly after the sort key
        ``after`` (one value per field of the completed sort, as in :attr:`Page.next_after`). Events come back
        in their normalised form (``id``, ``timestamp`` as epoch ms, ``time`` as an aware datetime, no backend
        fields); ``fields`` limits them to those top-level keys (plus ``id``)."""

    @abstractmethod
    def count(self, flt: EventFilter) -> int:
        """How many events match."""

    @abstractmethod
    def series(self, flt: EventFilter) -> dict[tuple[str, str, str], "SeriesInfo"]:
        """One entry per (task, metric, variant) with matching events: how many, and the range of their
        iterations and timestamps (one terms/composite aggregation with min/max sub-aggregations)."""


@dataclass(frozen=True)
class SeriesInfo:
    count: int
    max_iter: int | None  # None when no event of the series has an iteration
    min_iter: int | None = None
    # The range of the series' timestamps (epoch ms): what a histogram over time divides into buckets.
    min_timestamp: int | None = None
    max_timestamp: int | None = None


# Backend name -> "module:Class"; imported only when chosen, so no backend's client library is needed
# unless it is used.
_BACKENDS = {
    "mongo": "trackside.shared.events.mongo:MongoEventStore",
    "elastic": "trackside.shared.events.elastic:ElasticEventStore",
}


def register_backend(name: str, target: str) -> None:
    _BACKENDS[name] = target


def open_store(backend: str, **options: Any) -> EventStore:
    """The configured backend (``services.events.store``), built with its options (e.g. ``db=``)."""
    target = _BACKENDS.get(backend)
    if target is None:
        raise ValueError(f"unknown events store {backend!r}; known: {', '.join(sorted(_BACKENDS))}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(**options)


# -- validation and normalisation ---------------------------------------------------------------------------
def normalise(raw: Any, company: str, worker: str | None = None, now_ms: int | None = None) -> dict:
    """The stored form of one client event.

    Common fields: ``id``, ``company``, ``task`` (the model id for model events), ``type``, ``model_event``,
    ``timestamp`` (epoch ms, int) and ``time`` (the same instant as a datetime), ``metric`` and ``variant``
    ("" when not given), and ``worker`` and ``iter`` when known. Then per type: ``value`` (scalar, float),
    ``values`` (vector), ``plot_str`` with ``plot_len`` and the image ``source_urls`` it shows (plot),
    ``key``/``url`` (debug image), ``msg``/``level`` (log).
    ``allow_locked`` is a property of the request, not of the event: see :func:`allows_locked`.
    """
    if not isinstance(raw, Mapping):
        raise InvalidEvent("Event must be a JSON object")
    event_type = raw.get("type")
    if event_type is None:
        raise InvalidEvent("Event must have a 'type' field")
    if not isinstance(event_type, str):
        raise InvalidEvent("Event field 'type' must be a string")
    event_type = event_type.replace(" ", "_")
    if event_type not in EVENT_TYPES:
        raise InvalidEvent(f"Invalid event type {event_type}")

    model_event = _bool(raw, "model_event")
    task = raw.get("model") if model_event and raw.get("model") is not None else raw.get("task")
    if task is None:
        raise InvalidEvent("Event must have a 'task' field")
    if not isinstance(task, str) or not task:
        raise InvalidEvent("Event field 'task' must be a non-empty string")
    if model_event and event_type == LOG:
        raise InvalidEvent("Task log events are not supported for models")

    timestamp = _timestamp(raw, now_ms)
    event: dict = {
        "company": company,
        "task": task,
        "type": event_type,
        "model_event": model_event,
        "timestamp": timestamp,
        "time": to_datetime(timestamp),
        "metric": _string(raw, "metric") or "",
        "variant": _string(raw, "variant") or "",
    }
    worker = _string(raw, "worker") or worker
    if worker:
        event["worker"] = worker
    iteration = _iteration(raw)
    if iteration is not None:
        event["iter"] = iteration
    for name in _STRING_FIELDS[event_type]:
        value = _string(raw, name)
        if value is not None:
            event[name] = value
    if event_type == SCALAR:
        event["value"] = _number(raw.get("value"), "value")
    elif event_type == VECTOR:
        event["values"] = _numbers(raw.get("values", raw.get("value")), "values")
    elif event_type == PLOT:
        plot = event.get("plot_str") or ""
        event["plot_len"] = len(plot)
        sources = sorted(set(_PLOT_SOURCE.findall(plot)))
        if sources:
            event["source_urls"] = sources
    event["id"] = event_id(event)
    return event


def allows_locked(raw: Any) -> bool:
    """Whether the client asked to write to a locked (published) task or a ready model."""
    return bool(isinstance(raw, Mapping) and raw.get("allow_locked") is True)


def event_id(event: Mapping) -> str:
    """A log line gets a fresh id (each one sent is a new line); any other event's id is derived from what
    identifies it, so sending it again replaces it: company, task, type, metric, variant, iteration, and
    the debug image's storage key (several images may share one iteration)."""
    if event["type"] == LOG:
        return uuid.uuid4().hex
    parts = [event["company"], event["model_event"], event["task"], event["type"], event["metric"],
             event["variant"], event.get("iter"), event.get("key")]
    return hashlib.md5(json.dumps(parts).encode(), usedforsecurity=False).hexdigest()


def _timestamp(raw: Mapping, now_ms: int | None) -> int:
    value = raw.get("timestamp", raw.get("ts"))  # "ts" is a legacy spelling the reference still accepts
    if value is None:
        return now_ms if now_ms is not None else int(datetime.now(timezone.utc).timestamp() * 1000)
    _number(value, "timestamp")
    value = int(value)
    try:
        to_datetime(value)
    except OverflowError:
        raise InvalidEvent("Event field 'timestamp' is out of range (epoch milliseconds expected)") from None
    return value


def to_datetime(timestamp_ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime (exact: no float rounding)."""
    return EPOCH + timedelta(milliseconds=timestamp_ms)


def _iteration(raw: Mapping) -> int | None:
    value = raw.get("iter")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidEvent("Event field 'iter' must be an integer")
    try:
        value = int(value)  # the reference coerces floats and numeric strings the same way
    except (ValueError, OverflowError):
        raise InvalidEvent("Event field 'iter' must be an integer") from None
    if not MIN_LONG <= value <= MAX_LONG:
        raise InvalidEvent(f"Iteration number should not exceed {MAX_LONG}")
    return value


def _string(raw: Mapping, name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidEvent(f"Event field '{name}' must be a string")
    return value


def _bool(raw: Mapping, name: str) -> bool:
    value = raw.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidEvent(f"Event field '{name}' must be a boolean")
    return bool(value)


def _number(value: Any, name: str) -> float:
    # NaN and infinity cannot be rendered as JSON later; the SDK itself reports them as 0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidEvent(f"Event field '{name}' must be a finite number")
    return float(value)


def _numbers(value: Any, name: str) -> list[float]:
    if not isinstance(value, list):
        raise InvalidEvent(f"Event field '{name}' must be a list of numbers")
    return [_number(item, name) for item in value]
