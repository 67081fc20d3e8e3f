"""Every write to tasks and models through the API's database handle keeps the listing summaries honest
(:mod:`listing_summaries`): a write that may change a listed field (tags, system tags, owner, project,
hyper-parameters, the set of last_metrics pairs) invalidates those kinds of lists in the summaries of the
projects it touched; new documents and added tags ($addToSet, e.g. archiving) extend them in place, and a
tag edit of a few documents by id adds and drops the values that changed (a dropped one only when no other
document of the project still carries it).

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

from trackside.api.bll.listing_summaries import KINDS, MODELS, TASKS, ListingSummaries, summarize

WATCHED = (TASKS, MODELS)
# The kinds of listed values (listing_summaries.KINDS) each document field feeds; a move changes them all.
FIELD_KINDS = {"tags": {"tags"}, "system_tags": {"system_tags"}, "user": {"users"}, "hyperparams": {"params"},
               "last_metrics": {"metrics"}, "project": set(KINDS), "company": set(KINDS)}
ADDED_TAGS = ("tags", "system_tags")  # $addToSet on these only adds: summaries take the values in place
PROJECTION = {"company": 1, "project": 1}
RETAG_MAX = 100  # tag edits of more documents at once invalidate the tags instead of comparing each document


def listed_kinds(update: Any) -> set[str]:
    """The kinds of listed values an update (operators, a replacement or a pipeline) may change. The
    per-series paths of last_metrics (4 parts and more) never add or remove a pair by themselves."""
    if not isinstance(update, Mapping) or not all(str(op).startswith("$") for op in update):
        return set(KINDS)  # a pipeline or a replacement
    kinds: set[str] = set()
    for fields in update.values():
        for path in fields if isinstance(fields, Mapping) else ():
            parts = str(path).split(".")
            if parts[0] != "last_metrics" or len(parts) < 4:
                kinds |= FIELD_KINDS.get(parts[0], set())
    return kinds


def added_tags(update: Any) -> dict | None:
    """{tags/system_tags: values} when the update's only listed change is adding tags ($addToSet)."""
    added = update.get("$addToSet") if isinstance(update, Mapping) else None
    if not isinstance(added, Mapping) or not set(added) <= set(ADDED_TAGS):
        return None
    others = {op: fields for op, fields in update.items() if op != "$addToSet"}
    if listed_kinds(others):
        return None
    values = {f: v["$each"] if isinstance(v, Mapping) and "$each" in v else [v] for f, v in added.items()}
    return values if all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in values.values()) \
        else None


def _destination(update: Any) -> list:
    """The project an update moves documents to (``[project]``), or ``[]`` when it sets none."""
    if not isinstance(update, Mapping):
        return []
    fields = update.get("$set") if any(str(op).startswith("$") for op in update) else update  # or a replacement
    return [fields["project"]] if isinstance(fields, Mapping) and "project" in fields else []


def _strings(values: Any) -> set[str]:
    return {v for v in values if isinstance(v, str)} if isinstance(values, list) else set()


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

    def _invalidate(self, touched: Iterable[tuple[Any, Any]], kinds: Iterable[str] = KINDS) -> None:
        by_company: dict[Any, set] = {}
        for company, project in touched:
            by_company.setdefault(company, set()).add(project)
        for company, projects in by_company.items():
            if company is not None:
                self._summaries.invalidate(self.name, company, projects, kinds)

    def _added(self, docs: Iterable[Mapping]) -> None:
        """New documents only add values: each project's summary takes them in place."""
        by_project: dict[tuple[Any, Any], list] = {}
        for doc in docs:
            by_project.setdefault((doc.get("company"), doc.get("project")), []).append(doc)
        for (company, project), new in by_project.items():
            if company is not None:
                self._summaries.add(self.name, company, project, summarize(new))

    def _retagging(self, filter_: Mapping, write):
        """``write()`` of tags only, by id: the summaries take the values added and removed, compared per
        document before and after it (an edit of a few tasks); None (nothing written) for a write of many
        documents or not by id, which invalidates instead."""
        ids = filter_.get("_id")
        if not (isinstance(ids, str) or (isinstance(ids, Mapping) and set(ids) == {"$in"})):
            return None  # documents matched otherwise could change between the reads and the write
        fields = {f: 1 for f in (*ADDED_TAGS, "company", "project")}
        before = {d["_id"]: d for d in super().find({"_id": ids}, fields).limit(RETAG_MAX + 1)}
        if len(before) > RETAG_MAX:
            return None
        result = write()
        changes: dict[tuple[Any, Any], dict[str, tuple[set, set]]] = {}
        for doc in super().find({"_id": {"$in": list(before)}}, fields):
            old = before[doc["_id"]]
            per_project = changes.setdefault((doc.get("company"), doc.get("project")), {})
            for field in ADDED_TAGS:
                new_values, old_values = _strings(doc.get(field)), _strings(old.get(field))
                added, removed = per_project.setdefault(field, (set(), set()))
                added |= new_values - old_values
                removed |= old_values - new_values
        for (company, project), fields_changed in changes.items():
            wanted = {f: ch for f, ch in fields_changed.items() if ch[0] or ch[1]}
            if company is not None and wanted:
                self._summaries.retag(self.name, company, project, wanted)
        return (result,)

    def _updating(self, filter_: Mapping, update: Any, write):
        """``write()``, then the summaries of the documents' projects (read before it) follow it."""
        kinds = listed_kinds(update)
        if not kinds:
            return write()
        if kinds <= set(ADDED_TAGS) and added_tags(update) is None:
            done = self._retagging(filter_, write)
            if done is not None:
                return done[0]
        touched = self._touched(filter_)
        result = write()
        tags = added_tags(update)
        if tags is not None:
            for company, project in touched:
                if company is not None:
                    self._summaries.add(self.name, company, project, tags, tags.keys())
        else:
            self._invalidate(touched | {(c, p) for c, _ in touched for p in _destination(update)}, kinds)
        return result

    # -- the writes ------------------------------------------------------------------------------------
    def insert_one(self, document, *args, **kwargs):
        result = super().insert_one(document, *args, **kwargs)
        self._added([document])
        return result

    def insert_many(self, documents, *args, **kwargs):
        documents = list(documents)
        result = super().insert_many(documents, *args, **kwargs)
        self._added(documents)
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
        # pymongo's operations have no public accessors for their filter and document.
        requests = list(requests)
        touched: set = set()
        inserted: list = []
        for op in requests:
            if isinstance(op, InsertOne):
                inserted.append(op._doc)  # noqa: SLF001
            elif isinstance(op, (DeleteOne, DeleteMany)):
                touched |= self._touched(op._filter)  # noqa: SLF001
            elif isinstance(op, (UpdateOne, UpdateMany, ReplaceOne)) and listed_kinds(op._doc):  # noqa: SLF001
                found = self._touched(op._filter)  # noqa: SLF001
                touched |= found | {(c, p) for c, _ in found for p in _destination(op._doc)}  # noqa: SLF001
        result = super().bulk_write(requests, *args, **kwargs)
        self._invalidate(touched)
        self._added(inserted)
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
