"""events.scalar_metrics_iter_raw: one metric's scalar values as reported, not downsampled, a batch per call.

Values come in ascending order of the chosen x (``iter``, or ``timestamp`` for ``timestamp``/``iso_time``), per
variant as ``{"y": [...], <key>: [...]}``. A batch never splits the events sharing its last x value: they all come
with it (so a batch may exceed ``batch_size``), and the next call starts after that value. The scroll id carries
the next x, the x key, the total when it was counted and the batch size; when a call returned nothing the scroll
is done.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from trackside.api import errors
from trackside.api.bll import event_scroll
from trackside.api.bll.event_reads import EventReads, stream
from trackside.shared.events import ASC, SCALAR
from trackside.shared.events.store import MIN_LONG

DEFAULT_BATCH = 10_000
# services.events.events_retrieval.max_raw_scalars_size in the reference.
MAX_BATCH = 200_000
PAGE = 10_000
KIND = "raw-scalars"
KEYS = ("iter", "timestamp", "iso_time")


def scalar_raw(reads: EventReads, company: str, task: str, metric: str, variants: Sequence[str] | None,
               key: str = "iter", batch_size: int | None = None, count_total: bool = False,
               scroll_id: str | None = None, model_events: bool = False) -> dict:
    if batch_size is not None and batch_size < 0:
        raise errors.ValidationError("batch_size should be non negative number", field="batch_size")
    start, total = MIN_LONG, None
    if scroll_id:
        state = event_scroll.decode(scroll_id, KIND)
        key = event_scroll.field(state, "key", lambda v: v in KEYS, scroll_id, key)  # the x its first call chose
        total = event_scroll.field(state, "total", event_scroll.is_int, scroll_id)
        start = event_scroll.field(state, "from", event_scroll.is_int, scroll_id)
        if start is None:  # the previous call found nothing more
            return {"returned": 0, "total": total, "scroll_id": scroll_id, "variants": {}}
        batch_size = batch_size or event_scroll.field(state, "batch", event_scroll.is_int, scroll_id)
    field = "iter" if key == "iter" else "timestamp"
    reads.require(company, [task], model_events, fields=())
    batch = min(batch_size or DEFAULT_BATCH, MAX_BATCH)
    flt = reads.filter(company, [task], model_events, types=[SCALAR], metrics={metric: list(variants or [])})
    if count_total and total is None:
        total = reads.store.count(flt)

    window = replace(flt, **{f"{field}_min": start})
    events = _batch(reads, window, field, batch)
    variants_shown: dict[str, dict[str, list]] = {}
    for event in events:
        shown = variants_shown.setdefault(event["variant"], {"y": [], key: []})
        shown["y"].append(event["value"])
        shown[key].append(event[field])
    state = {"from": events[-1][field] + 1 if events else None, "total": total, "batch": batch, "key": key}
    return {"returned": len(events), "total": total, "scroll_id": event_scroll.encode(KIND, state),
            "variants": variants_shown}


def _batch(reads: EventReads, window, field: str, batch: int) -> list[dict]:
    """The first ``batch`` events of ``window`` by ``field``, and every other event sharing the last value."""
    sort = [(field, ASC)]
    fields = ["variant", "value", field]
    events: list[dict] = []
    after = None
    while len(events) < batch:
        wanted = min(PAGE, batch - len(events))
        page = reads.store.search(window, sort, wanted, after=after, fields=fields)
        events += page.events
        if len(page.events) < wanted:  # nothing more at all, so nothing shares the last value either
            return events
        after = page.next_after
    last = events[-1][field]
    same = replace(window, **{f"{field}_min": last, f"{field}_max": last})
    events += stream(reads.store, same, sort, fields=fields, page_size=PAGE, after=after)
    return events
