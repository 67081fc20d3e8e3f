"""Reads across the tasks and models of projects: hyper-parameter names and values, model metadata keys and
values, and the parents of tasks (``projects.get_hyper_parameters`` and friends).

Section and parameter names (and metadata keys) are read from the stored items' own ``section``/``name``/
``key`` values; the document keys are escaped for MongoDB and only stand in for an item stored without them."""
from __future__ import annotations

import re
from typing import Any, Iterable

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import company_filter, query_error
from trackside.api.bll.listing_reads import ListingReads
from trackside.api.bll.listing_summaries import hashable
from trackside.shared.storage import query
from trackside.shared.storage.query import QueryError

ARCHIVED = "archived"
_CHUNKS = re.compile(r"(\d+)")


def numeric_order(value: Any) -> tuple:
    """Sort key that orders digit runs by their number ("-1" < "2" < "10" < "10a"), as the reference's
    numeric-ordering collation does; case is compared last."""
    if value is None:
        return (0,)
    text = str(value)
    parts = []
    for i, chunk in enumerate(_CHUNKS.split(text)):
        if i % 2:
            parts.append((1, int(chunk), ""))
        elif chunk:
            # Punctuation and spaces sort before digits, letters after them, as in the ICU collation.
            parts.append((2 if chunk[0].isalnum() else 0, 0, chunk.casefold()))
    return (1, tuple(parts), text)


def page_of(items: list, page: int, page_size: int) -> list:
    page, page_size = max(0, page), max(1, page_size)
    return items[page * page_size:(page + 1) * page_size]


class ProjectQueries:
    def __init__(self, db: Database, projects):
        self._tasks = db["tasks"]
        self._models = db["models"]
        self._projects = projects
        self._listings = ListingReads(db)  # hyper-parameter names and values from per-project summaries

    def _project_scope(self, company: str, project_ids: list | None, include_subprojects: bool) -> list | None:
        """The projects read (None: all). No projects: everything when including sub-projects, else the root's
        (project-less) entities."""
        if include_subprojects:
            if not project_ids:
                return None
            project_ids = self._projects.ids_with_children(company, project_ids)
        if project_ids is None:
            project_ids = [None]
        return project_ids or None

    def _project_clause(self, company: str, project_ids: list | None, include_subprojects: bool) -> dict:
        scope = self._project_scope(company, project_ids, include_subprojects)
        return {} if scope is None else {"project": {"$in": scope}}

    @staticmethod
    def _company_clause(company: str, allow_public: bool = True) -> dict:
        return company_filter(company, allow_public)

    # -- hyper-parameters ------------------------------------------------------------------------------
    def hyper_parameters(self, company: str, project_ids: list | None, include_subprojects: bool,
                         page: int, page_size: int) -> dict:
        pairs = self._listings.hyper_parameters(_companies(company, True),
                                                self._project_scope(company, project_ids, include_subprojects))
        ordered = [{"section": s, "name": n} for s, n in pairs]
        found = page_of(ordered, page, page_size)
        return {"total": len(ordered), "remaining": max(0, len(ordered) - max(0, page) * max(1, page_size) - len(found)),
                "parameters": found}

    def hyperparam_values(self, company: str, project_ids: list | None, section: str, name: str,
                          include_subprojects: bool, allow_public: bool, pattern: str | None,
                          page: int, page_size: int) -> dict:
        regex = _compiled(pattern, "pattern")
        values = self._listings.hyperparam_values(_companies(company, allow_public),
                                                  self._project_scope(company, project_ids, include_subprojects),
                                                  section, name, regex)
        ordered = sorted(values, key=numeric_order)
        return {"total": len(ordered), "values": page_of(ordered, page, page_size)}

    # -- model metadata --------------------------------------------------------------------------------
    def metadata_keys(self, company: str, project_ids: list | None, include_subprojects: bool,
                      page: int, page_size: int) -> dict:
        match = {**self._company_clause(company), **self._project_clause(company, project_ids, include_subprojects),
                 "metadata": {"$exists": True, "$gt": {}}}
        keys = {item["key"] for model in self._models.find(match, {"metadata": 1})
                for item in _metadata_items(model.get("metadata"))}
        ordered = sorted(keys)
        found = page_of(ordered, page, page_size)
        return {"total": len(ordered), "remaining": max(0, len(ordered) - max(0, page) * max(1, page_size) - len(found)),
                "keys": found}

    def metadata_values(self, company: str, project_ids: list | None, key: str, include_subprojects: bool,
                        allow_public: bool, page: int, page_size: int) -> dict:
        match = {**self._company_clause(company, allow_public),
                 **self._project_clause(company, project_ids, include_subprojects),
                 "metadata": {"$exists": True, "$gt": {}}}
        values = {hashable(item.get("value")) for model in self._models.find(match, {"metadata": 1})
                  for item in _metadata_items(model.get("metadata")) if item["key"] == key}
        ordered = sorted(values, key=numeric_order)
        return {"total": len(ordered), "values": page_of(ordered, page, page_size)}

    # -- task parents ----------------------------------------------------------------------------------
    def task_parents(self, company: str, project_ids: list | None, include_subprojects: bool,
                     state: str | None, name: str | None) -> list[dict]:
        """The distinct parents of the tasks in the projects, {id, name, project: {id, name}}, by name."""
        match: dict = self._company_clause(company)
        if project_ids:
            match["project"] = {"$in": self._projects.ids_with_children(company, project_ids)
                                if include_subprojects else project_ids}
        if state == ARCHIVED:
            match["system_tags"] = ARCHIVED
        elif state:
            match["system_tags"] = {"$ne": ARCHIVED}
        parent_ids = [p for p in self._tasks.distinct("parent", match) if p]
        if not parent_ids:
            return []
        clauses = [self._company_clause(company), {"_id": {"$in": parent_ids}}]
        if name:
            try:
                clauses.append(query.build_filter({"name": name}, query.QuerySpec(pattern_fields=("name",),
                                                                                 list_fields=())))
            except QueryError as exc:
                raise query_error(exc) from None
        parents = list(self._tasks.find({"$and": clauses}, {"name": 1, "project": 1}))
        project_names = {p["_id"]: p.get("name") for p in self._projects.coll.find(
            {"_id": {"$in": list({t.get("project") for t in parents if t.get("project")})}}, {"name": 1})}
        result = []
        for task in parents:
            entry = {"id": task["_id"], "name": task.get("name")}
            if task.get("project"):
                entry["project"] = {"id": task["project"], "name": project_names.get(task["project"])}
            result.append(entry)
        return sorted(result, key=lambda t: t["name"] or "")


def _metadata_items(metadata: Any) -> Iterable[dict]:
    for item in metadata.values() if isinstance(metadata, dict) else ():
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            yield item


def _compiled(pattern: str | None, field: str):
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise errors.InvalidRegex(f"{field}: malformed regular expression: {exc}", field=field) from None


def _companies(company: str, allow_public: bool) -> list[str]:
    """The companies whose documents are read (company_filter's)."""
    return [company, ""] if allow_public and company else [company]
