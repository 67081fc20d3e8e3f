"""The Elasticsearch events backend: one index per event type and company, ``<prefix>-<type>-<company>``.

:meth:`ElasticEventStore.setup` puts one composable index template per type, so an index gets its mapping
when the first bulk request writes to it. Mappings are explicit (``dynamic: false``): keywords for the names
that reads filter, group and sort on (``id`` included: sorting on ``_id`` is disallowed in Elasticsearch 8, and
``id`` is every sort's tie-breaker), ``long`` iterations and epoch-ms timestamps, ``date`` time, ``float``
values; plot bodies, log messages and vector values are kept in ``_source`` only.

Writes are one bulk ``index`` per event with ``_id`` = the event id, so a re-sent non-log event replaces its
earlier copy. ``refresh`` makes written events visible before :meth:`write` returns: ``"wait_for"`` (the
default) waits for the index's next periodic refresh, which shares one refresh between every concurrent
writer but adds up to ``index.refresh_interval`` (1 s) of latency to each batch; ``"true"`` refreshes at once,
at the price of a small Lucene segment per request under heavy ingest. ``make bench-events`` measures both.

Reads use only a search with ``search_after`` and composite/max aggregations: no point-in-time, no scripts.
Every read names its indices with ``ignore_unavailable``/``allow_no_indices``, so a company or type that has
no events yet reads as empty.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable, Sequence

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk
from elasticsearch_dsl import (
    A, Boolean, Date, Float, Index, Keyword, Long, Mapping, Q, Search, Text,
)

from trackside.shared.events.store import (
    EVENT_TYPES, IMAGE, LOG, MIN_LONG, PLOT, SCALAR, VECTOR, ASC, EventFilter, EventStore, Page, SeriesInfo,
    WriteResult, complete_sort,
)

WRITE_FAILED = "Error when indexing events batch"
REFRESH_MODES = ("wait_for", "true")
TEMPLATE_PRIORITY = 500
# The largest page one search may return (index.max_result_window); longer reads are chained.
MAX_PAGE = 10_000
SERIES_PAGE = 1_000
BULK_CHUNK = 1_000
# Indices only ever hold small documents (a plot is the largest); one shard, replicas left to the cluster.
INDEX_SETTINGS = {"number_of_shards": 1}
# Where a missing iteration sorts (lowest, as in every backend), and how it comes back in a sort key.
MISSING_ITER = MIN_LONG

log = logging.getLogger(__name__)


def _common_fields() -> dict:
    return {
        "id": Keyword(), "company": Keyword(), "task": Keyword(), "type": Keyword(), "model_event": Boolean(),
        "timestamp": Long(), "time": Date(), "metric": Keyword(), "variant": Keyword(), "worker": Keyword(),
        "iter": Long(),
    }


# Per type, the fields it adds to the common ones.
_TYPE_FIELDS = {
    SCALAR: lambda: {"value": Float(), "x_axis_label": Keyword(index=False, doc_values=False)},
    VECTOR: lambda: {"values": Float(index=False, doc_values=False)},
    PLOT: lambda: {"plot_str": Text(index=False)},
    IMAGE: lambda: {"key": Keyword(), "url": Keyword()},
    LOG: lambda: {"msg": Text(index=False), "level": Keyword(), "seq": Long()},
}


def mapping(event_type: str) -> Mapping:
    result = Mapping()
    result.meta("dynamic", "false")  # an unknown field is kept in _source, not indexed
    for name, field in {**_common_fields(), **_TYPE_FIELDS[event_type]()}.items():
        result.field(name, field)
    return result


class ElasticEventStore(EventStore):
    def __init__(self, client: Elasticsearch, refresh: str = "wait_for", index_prefix: str = "events"):
        refresh = str(refresh).lower()
        if refresh not in REFRESH_MODES:
            raise ValueError(f"events store refresh {refresh!r}: expected one of {', '.join(REFRESH_MODES)}")
        self.client = client
        self.refresh = refresh
        self.prefix = index_prefix

    def index_name(self, event_type: str, company: str) -> str:
        return f"{self.prefix}-{event_type}-{company.lower()}"

    def setup(self) -> None:
        for event_type in sorted(EVENT_TYPES):
            index = Index(f"{self.prefix}-{event_type}-*")
            index.settings(**INDEX_SETTINGS)
            index.mapping(mapping(event_type))
            template = index.as_composable_template(f"{self.prefix}-{event_type}", priority=TEMPLATE_PRIORITY)
            template.save(using=self.client)
        # Log indices made before log lines had a position get the field (a template only shapes new indices).
        try:
            self.client.indices.put_mapping(index=f"{self.prefix}-{LOG}-*", properties={"seq": {"type": "long"}},
                                            allow_no_indices=True, ignore_unavailable=True)
        except Exception as exc:  # noqa: BLE001 - an older cluster without such indices, or one refusing it
            log.warning("could not add the log line position to existing log indices: %s", exc)

    # -- writes ------------------------------------------------------------------------------------------
    def write(self, events: Sequence[dict]) -> WriteResult:
        if not events:
            return WriteResult()
        actions = ({"_op_type": "index", "_index": self.index_name(event["type"], event["company"]),
                    "_id": event["id"], "_source": event} for event in events)
        created, failed = set(), {}
        # Results come back in the order of the actions (no retries, so none is re-queued).
        results = streaming_bulk(self.client, actions, chunk_size=BULK_CHUNK, raise_on_error=False,
                                 refresh=self.refresh)
        for position, (ok, item) in enumerate(results):
            outcome = item.get("index", {})
            if ok:
                if outcome.get("result") == "created":
                    created.add(position)
            else:
                failed[position] = WRITE_FAILED
                log.warning("event not stored (status %s): %s", outcome.get("status"), outcome.get("error"))
        return WriteResult(frozenset(created), failed)

    def delete_for_tasks(self, company: str, task_ids: Iterable[str], model_events: bool = False) -> int:
        task_ids = list(task_ids)
        if not task_ids:
            return 0
        search = self._search(EventFilter(company, task_ids, model_events=model_events))
        # A write landing between the query's snapshot and the delete is a version conflict: skip it.
        return int(search.params(refresh=True, conflicts="proceed").delete().deleted)

    def delete(self, flt: EventFilter) -> int:
        if not flt.tasks:
            raise ValueError("a delete must name its tasks")
        search = self._search(flt).params(refresh=True, conflicts="proceed")
        return int(search.delete().deleted)

    # -- reads -------------------------------------------------------------------------------------------
    def search(self, flt: EventFilter, sort: Sequence[tuple[str, int]], limit: int,
               after: Sequence | None = None, fields: Sequence[str] | None = None) -> Page:
        sort = complete_sort(sort, after)
        if limit <= 0:
            return Page([], None)
        search = self._search(flt).sort(*(_sort_clause(name, order) for name, order in sort))
        search = search.extra(track_total_hits=False)
        if fields is not None:
            search = search.source(includes=sorted({"id", *fields}))
        key = None if after is None else [_to_sort_value(name, value) for (name, _), value in zip(sort, after)]
        events: list[dict] = []
        while len(events) < limit:
            size = min(limit - len(events), MAX_PAGE)
            page = search.extra(size=size, **({"search_after": key} if key is not None else {}))
            hits = page.execute().to_dict()["hits"]["hits"]
            events += [_event(hit["_source"]) for hit in hits]
            if hits:
                key = hits[-1]["sort"]
            if len(hits) < size:
                break
        if not events:
            return Page([], None)
        return Page(events, tuple(_from_sort_value(name, value) for (name, _), value in zip(sort, key)))

    def count(self, flt: EventFilter) -> int:
        return self._search(flt).count()

    def series(self, flt: EventFilter) -> dict[tuple[str, str, str], SeriesInfo]:
        sources = [{name: A("terms", field=name)} for name in ("task", "metric", "variant")]
        result: dict[tuple[str, str, str], SeriesInfo] = {}
        after_key = None
        while True:
            search = self._search(flt).extra(size=0, track_total_hits=False)
            composite = A("composite", sources=sources, size=SERIES_PAGE,
                          **({"after": after_key} if after_key else {}))
            series = search.aggs.bucket("series", composite)
            for name, (kind, field) in _SERIES_RANGES.items():
                series.metric(name, kind, field=field)
            page = search.execute().to_dict().get("aggregations", {}).get("series", {})
            for bucket in page.get("buckets", ()):
                key = bucket["key"]
                ranges = {name: _integer(bucket[name].get("value")) for name in _SERIES_RANGES}
                result[(key["task"], key["metric"], key["variant"])] = SeriesInfo(bucket["doc_count"], **ranges)
            after_key = page.get("after_key")
            if not after_key or len(page.get("buckets", ())) < SERIES_PAGE:
                return result

    def _search(self, flt: EventFilter) -> Search:
        types = sorted(flt.types or EVENT_TYPES)
        indices = [self.index_name(event_type, flt.company) for event_type in types]
        search = Search(using=self.client, index=indices).params(ignore_unavailable=True, allow_no_indices=True)
        return search.filter(_query(flt))


# SeriesInfo's ranges: field name -> (aggregation, event field).
_SERIES_RANGES = {
    "max_iter": ("max", "iter"), "min_iter": ("min", "iter"),
    "min_timestamp": ("min", "timestamp"), "max_timestamp": ("max", "timestamp"),
}


def _integer(value: float | None) -> int | None:
    """A min/max of a long field comes back as a double (exact below 2**53); None when no event had it."""
    return None if value is None else int(value)


def _query(flt: EventFilter) -> Q:
    conditions = [Q("term", company=flt.company), Q("term", model_event=flt.model_events)]
    if flt.tasks:
        conditions.append(Q("terms", task=list(flt.tasks)))
    if flt.types:
        conditions.append(Q("terms", type=list(flt.types)))
    if flt.metrics:
        conditions.append(Q("bool", minimum_should_match=1, should=[
            Q("term", metric=metric) & Q("terms", variant=list(variants)) if variants else Q("term", metric=metric)
            for metric, variants in flt.metrics.items()
        ]))
    for name, low, high in (("iter", flt.iter_min, flt.iter_max),
                            ("timestamp", flt.timestamp_min, flt.timestamp_max), ("seq", flt.seq_min, flt.seq_max)):
        bounds = {op: value for op, value in (("gte", low), ("lte", high)) if value is not None}
        if bounds:
            conditions.append(Q("range", **{name: bounds}))
    return Q("bool", filter=conditions)


def _sort_clause(name: str, order: int) -> dict:
    clause: dict[str, Any] = {"order": "asc" if order == ASC else "desc"}
    if name == "iter":
        clause["missing"] = "_first" if order == ASC else "_last"  # lowest either way
    return {name: clause}


def _to_sort_value(name: str, value):
    return MISSING_ITER if name == "iter" and value is None else value


def _from_sort_value(name: str, value):
    return None if name == "iter" and value == MISSING_ITER else value


def _event(source: dict) -> dict:
    event = dict(source)
    time = event.get("time")
    if isinstance(time, str):
        event["time"] = datetime.fromisoformat(time)
    return event
