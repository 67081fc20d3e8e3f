"""The events store as the API uses it: the configured backend, plus what the API keeps beside the events.

Two summaries live in the backend MongoDB database whatever the events backend (``scalar_pyramid``: the
pre-aggregated scalar buckets; ``event_log_lines``: each task's log line counter). They must go when the
events go, by whichever path deletes them (tasks.reset/delete, events.delete_for_task/model, models.delete,
clear_task_log): this wrapper forwards every call to the backend and drops the summaries of what it deleted.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from trackside.api.bll.event_log_lines import LogNumbering
from trackside.api.bll.scalar_pyramid import ScalarPyramid
from trackside.shared.events import SCALAR, EventFilter, EventStore, Page, SeriesInfo, WriteResult


class StoreWithSummaries(EventStore):
    def __init__(self, inner: EventStore, pyramid: ScalarPyramid, numbering: LogNumbering):
        self.inner = inner
        self.pyramid = pyramid
        self.numbering = numbering

    def __getattr__(self, name: str) -> Any:
        # Backend specifics (the Elasticsearch client the health check pings, the Mongo collection...).
        return getattr(self.inner, name)

    def setup(self) -> None:
        self.inner.setup()
        self.pyramid.setup()
        self.numbering.setup()

    def write(self, events: Sequence[dict]) -> WriteResult:
        return self.inner.write(events)

    def delete_for_tasks(self, company: str, task_ids: Iterable[str], model_events: bool = False) -> int:
        task_ids = list(task_ids)
        deleted = self.inner.delete_for_tasks(company, task_ids, model_events)
        if task_ids:
            self.pyramid.delete(company, task_ids, model_events)
            if not model_events:
                self.numbering.delete(company, task_ids)
        return deleted

    def delete(self, flt: EventFilter) -> int:
        deleted = self.inner.delete(flt)
        if not flt.types or SCALAR in flt.types:
            # Some scalars went: the buckets no longer describe the rest; charts fall back to the events.
            self.pyramid.invalidate(flt.company, list(flt.tasks), flt.model_events)
        # Log positions stay as they were (lines keep their numbers; cleared ones leave a gap), so a client
        # paging the log does not see lines move under it.
        return deleted

    def search(self, flt: EventFilter, sort: Sequence[tuple[str, int]], limit: int,
               after: Sequence | None = None, fields: Sequence[str] | None = None) -> Page:
        return self.inner.search(flt, sort, limit, after, fields)

    def count(self, flt: EventFilter) -> int:
        return self.inner.count(flt)

    def series(self, flt: EventFilter) -> dict[tuple[str, str, str], SeriesInfo]:
        return self.inner.series(flt)
