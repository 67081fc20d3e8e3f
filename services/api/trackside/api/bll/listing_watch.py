"""Every write to tasks and models through the API's database handle keeps the listing summaries honest
(:mod:`listing_summaries`): a write that may change a listed field (tags, system tags, owner, project,
hyper-parameters, the set of last_metrics pairs) invalidates the summaries of the projects it touched.

One place instead of a hook in each write path: :func:`watched` wraps the API's ``backend`` database so that
its ``tasks`` and ``models`` collections are :class:`WatchedCollection`s. The projects a write touches are
taken from the filter when it pins company and project, else read before the write (a delete or a move
leaves nothing to read afterwards); the summaries are invalidated after the write lands, which is what makes
a concurrent rebuild miss rather than store stale values.

Not listed, so not watched: everything else, including the per-series paths events ingestion updates
(``last_metrics.<metric>.<variant>.<field>``). Pairs new to a task are reported by the ingestion itself
(``ListingSummaries.metrics_reported``), which knows which pairs the task already had.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from trackside.api.bll.listing_summaries import MODELS, TASKS, ListingSummaries

WATCHED = (TASKS, MODELS)
LISTED_FIELDS = ("tags", "system_tags", "user", "project", "company", "hyperparams")
PROJECTION = {"company": 1, "project": 1}


def touches_listed(update: Any) -> bool:
    """Whether an update (operators, a replacement or a pipeline) may change a listed value. The per-series
    paths of last_metrics (4 parts and more) never add or remove a pair by themselves."""
    if not isinstance(update, Mapping) or not all(str(op).startswith("$") for op in update):
        return True  # a pipeline or a replacement
    for fields in update.values():
        for path in fields if isinstance(fields, Mapping) else ():
            parts = str(path).split(".")
            if parts[0] in LISTED_FIELDS or (parts[0] == "last_metrics" and len(parts) < 4):
                return True
    return False


def _destination(update: Any) -> list:
    """The project an update moves documents to (``[project]``), or ``[]`` when it sets none."""
    if not isinstance(update, Mapping):
        return []
    fields = update.get("$set") if any(str(op).startswith("$") for op in update) else update  # or a replacement
    return [fields["project"]] if isinstance(fields, Mapping) and "project" in fields else []


class WatchedCollection(Collection):
    """A tasks or models collection whose writes invalidate the listing summaries they may change."""

    @property
    def _summaries(self) -> ListingSummaries:
        return ListingSummaries(self.database)

    def _touched(self, filter_: Mapping) -> set[tuple[Any, Any]]:
        """(company, project) of the documents ``filter_`` may write. By id alone when it names ids: a
        condition that stops matching just before the write must not hide the document (and an index
        serves it)."""
        company, project = filter_.get("company"), filter_.get("project", ...)
        if isinstance(company, str) and (project is None or isinstance(project, str)):
            return {(company, project)}
        ids = filter_.get("_id")
        if isinstance(ids, str) or (isinstance(ids, Mapping) and set(ids) == {"$in"}):
            filter_ = {"_id": ids}
        return {(d.get("company"), d.get("project")) for d in super().find(filter_, PROJECTION)}

    def _invalidate(self, touched: Iterable[tuple[Any, Any]]) -> None:
        by_company: dict[Any, set] = {}
        for company, project in touched:
            by_company.setdefault(company, set()).add(project)
        for company, projects in by_company.items():
            if company is not None:
                self._summaries.invalidate(self.name, company, projects)

    def _updating(self, filter_: Mapping, update: Any, write):
        """``write()``, invalidating the summaries of the documents' projects before and after it."""
        if not touches_listed(update):
            return write()
        touched = self._touched(filter_)
        result = write()
        self._invalidate(touched | {(company, project) for company, _ in touched for project in _destination(update)})
        return result

    # -- the writes ------------------------------------------------------------------------------------
    def insert_one(self, document, *args, **kwargs):
        result = super().insert_one(document, *args, **kwargs)
        self._invalidate({(document.get("company"), document.get("project"))})
        return result

    def insert_many(self, documents, *args, **kwargs):
        documents = list(documents)
        result = super().insert_many(documents, *args, **kwargs)
        self._invalidate({(d.get("company"), d.get("project")) for d in documents})
        return result

    def update_one(self, filter, update, *args, **kwargs):
        return self._updating(filter, update, lambda: super(WatchedCollection, self).update_one(
            filter, update, *args, **kwargs))

    def update_many(self, filter, update, *args, **kwargs):
        return self._updating(filter, update, lambda: super(WatchedCollection, self).update_many(
            filter, update, *args, **kwargs))

    def replace_one(self, filter, replacement, *args, **kwargs):
        return self._updating(filter, replacement, lambda: super(WatchedCollection, self).replace_one(
            filter, replacement, *args, **kwargs))

    def find_one_and_update(self, filter, update, *args, **kwargs):
        return self._updating(filter, update, lambda: super(WatchedCollection, self).find_one_and_update(
            filter, update, *args, **kwargs))

    def find_one_and_replace(self, filter, replacement, *args, **kwargs):
        return self._updating(filter, replacement, lambda: super(WatchedCollection, self).find_one_and_replace(
            filter, replacement, *args, **kwargs))

    def delete_one(self, filter, *args, **kwargs):
        touched = self._touched(filter)
        result = super().delete_one(filter, *args, **kwargs)
        self._invalidate(touched)
        return result

    def delete_many(self, filter, *args, **kwargs):
        touched = self._touched(filter)
        result = super().delete_many(filter, *args, **kwargs)
        self._invalidate(touched)
        return result

    def find_one_and_delete(self, filter, *args, **kwargs):
        touched = self._touched(filter)
        result = super().find_one_and_delete(filter, *args, **kwargs)
        self._invalidate(touched)
        return result

    def bulk_write(self, requests, *args, **kwargs):
        requests = list(requests)
        touched: set = set()
        inserted: set = set()
        for op in requests:
            if isinstance(op, InsertOne):
                inserted.add((op._doc.get("company"), op._doc.get("project")))  # noqa: SLF001 (pymongo has no accessor)
            elif isinstance(op, (DeleteOne, DeleteMany)):
                touched |= self._touched(op._filter)  # noqa: SLF001
            elif isinstance(op, (UpdateOne, UpdateMany, ReplaceOne)) and touches_listed(op._doc):  # noqa: SLF001
                found = self._touched(op._filter)  # noqa: SLF001
                touched |= found | {(c, p) for c, _ in found for p in _destination(op._doc)}  # noqa: SLF001
        result = super().bulk_write(requests, *args, **kwargs)
        self._invalidate(touched | inserted)
        return result


class WatchedDatabase(Database):
    def __getitem__(self, name: str) -> Collection:
        return WatchedCollection(self, name) if name in WATCHED else super().__getitem__(name)

    def get_collection(self, name: str, *args, **kwargs) -> Collection:
        if name in WATCHED:
            return WatchedCollection(self, name, False, *args, **kwargs)
        return super().get_collection(name, *args, **kwargs)


def watched(db: Database) -> Database:
    """``db`` with its tasks and models writes watched (same client, name and options)."""
    return WatchedDatabase(db.client, db.name, db.codec_options, db.read_preference, db.write_concern,
                           db.read_concern)
