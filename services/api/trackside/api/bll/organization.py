"""Organization-wide reads: tags over every task and model, the company's users, entity counts, and the
CSV export of a ``get_all_ex`` query (the request is kept in Redis between "prepare" and "download")."""
from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any, Callable, Iterable, Iterator, Mapping

from pymongo.collection import Collection
from pymongo.database import Database
from pyhocon import ConfigTree
from redis import Redis

from trackside.api import errors
from trackside.api.bll import models as models_bll
from trackside.api.bll import projects as projects_bll
from trackside.api.bll import tasks as tasks_bll
from trackside.api.bll.common import HIDDEN_TAG, company_filter, query_error
from trackside.api.bll.listing_reads import ListingReads
from trackside.api.bll.projects import tags_filter
from trackside.api.context import Identity
from trackside.shared.storage import query
from trackside.shared.storage.query import QueryError, QuerySpec

PREPARED_KEY = "get_all_download_{}"
REPORT_TYPE = "report"
# Entity counts the reference reports, and what each counts: (collection, query spec).
COUNTED = {
    "projects": ("projects", projects_bll.SPEC),
    "tasks": ("tasks", tasks_bll.SPEC),
    "models": ("models", models_bll.SPEC),
    "pipelines": ("projects", projects_bll.SPEC),
    "datasets": ("projects", projects_bll.SPEC),
    "reports": ("tasks", tasks_bll.SPEC),
}
# Counts of these never hide hidden entities: their projects are hidden by design.
HIDDEN_BY_DESIGN = {"pipelines", "datasets", "reports"}


def tags_of(coll: Collection, match: dict, include_system: bool) -> dict[str, set]:
    found = {"tags": set(coll.distinct("tags", match))}
    if include_system:
        found["system_tags"] = set(coll.distinct("system_tags", match))
    return {field: {t for t in values if isinstance(t, str)} for field, values in found.items()}


class OrganizationBLL:
    def __init__(self, db: Database, auth_db: Database, redis: Redis, projects, config: ConfigTree):
        self._db = db
        self._users = auth_db["users"]
        self._redis = redis
        self._projects = projects
        self.listings = ListingReads(db)  # tag, user, metric and hyper-parameter listings
        self._prepared_ttl = config.get_int("services.organization.download.redis_timeout_sec", 300)
        self.batch_size = config.get_int("services.organization.download.batch_size", 500)
        self.max_items = config.get_int("services.organization.download.max_download_items", 50000)
        self.max_name_length = config.get_int("services.organization.download.max_project_name_length", 60)

    # -- tags and users --------------------------------------------------------------------------------
    def tags(self, company: str, include_system: bool, filter_: Mapping | None) -> dict:
        condition = tags_filter(filter_)
        if not condition:  # from the per-project summaries; a filter needs the documents themselves
            return self.listings.tags(("models", "tasks"), company, None, include_system)
        match = {"company": company, **condition}
        merged: dict[str, set] = {}
        for name in ("models", "tasks"):
            for field, values in tags_of(self._db[name], match, include_system).items():
                merged.setdefault(field, set()).update(values)
        return {field: sorted(values) for field, values in merged.items()}

    def user_companies(self, identity: Identity) -> dict:
        users = [{"id": u["_id"], "name": u.get("name", ""), "avatar": u.get("avatar")}
                 for u in self._users.find({"company": identity.company}, {"name": 1, "avatar": 1})]
        users.sort(key=lambda u: u["name"] or "")
        return {"companies": [{"id": identity.company, "name": identity.company_name,
                               "allocated": len(users), "owners": users}]}

    # -- counts ----------------------------------------------------------------------------------------
    def entities_count(self, company: str, criteria: Mapping[str, Any], active_users: list[str] | None,
                       search_hidden: bool, allow_public: bool) -> dict:
        result = {}
        for field, (coll_name, spec) in COUNTED.items():
            data = criteria.get(field)
            if data is None:
                continue
            data = dict(data)
            if field == "reports":  # reports live in hidden ".reports" sub-projects
                data.update(type=[REPORT_TYPE], include_subprojects=True)
            if active_users:
                if coll_name == "projects":
                    ids, _ = self._projects.stats.with_selected_children(
                        company, users=active_users, project_ids=_as_list(data.get("id")), allow_public=allow_public)
                    if not ids:
                        result[field] = 0
                        continue
                    data["id"] = ids
                elif not data.get("user"):
                    data["user"] = active_users
            hide = coll_name != "models" and field not in HIDDEN_BY_DESIGN and not search_hidden
            result[field] = self._count(company, coll_name, spec, data, hide, allow_public)
        return result

    def _count(self, company: str, coll_name: str, spec: QuerySpec, data: dict, hide: bool,
               allow_public: bool) -> int:
        if coll_name != "projects" and data.get("include_subprojects") and data.get("project"):
            data["project"] = self._projects.ids_with_children(company, _as_list(data["project"]))
        try:
            clauses = [company_filter(company, allow_public), query.build_filter(data, spec)]
            if coll_name == "projects" and "parent" in data:  # direct children; null: top-level projects
                clauses.append(query.list_field_filter("parent", _as_list(data["parent"])))
        except QueryError as exc:
            raise query_error(exc) from None
        if hide:
            clauses.append({"system_tags": {"$ne": HIDDEN_TAG}})
        return self._db[coll_name].count_documents({"$and": [c for c in clauses if c]})

    # -- CSV export ------------------------------------------------------------------------------------
    def prepare_download(self, request: dict) -> str:
        prepare_id = uuid.uuid4().hex
        self._redis.setex(PREPARED_KEY.format(prepare_id), self._prepared_ttl, json.dumps(request))
        return prepare_id

    def prepared(self, prepare_id: str) -> dict:
        stored = self._redis.get(PREPARED_KEY.format(prepare_id))
        if not stored:
            raise errors.InvalidId("prepare ID not found", prepare_id=prepare_id)
        try:
            return json.loads(stored)
        except ValueError as exc:
            raise errors.DataError("failed parsing prepared data", ex=str(exc)) from None

    def download_name(self, company: str, request: dict) -> str:
        """clearml[-<project basename>]-<entity>s.csv; "root" for the root project, nothing for several."""
        project = request.get("project")
        label = None
        if isinstance(project, list) and len(project) == 1:
            project = project[0]
            label = "root" if project is None else None
        if isinstance(project, str):
            doc = self._db["projects"].find_one({"_id": project, **company_filter(company, True)}, {"basename": 1})
            label = (doc.get("basename") or "")[: self.max_name_length] if doc else None
        return "-".join(p for p in ("clearml", label, f"{request['entity_type']}s.csv") if p)

    def csv_lines(self, field_mappings: list[dict], fetch_page: Callable[[int, int], list[dict]]) -> Iterator[str]:
        return csv_export(field_mappings, fetch_page, self.batch_size, self.max_items)


def csv_export(field_mappings: list[dict], fetch_page: Callable[[int, int], list[dict]], batch_size: int,
               max_items: int) -> Iterator[str]:
    """The header (after a UTF-8 signature) and one row per entity, fetched page by page up to ``max_items``."""
    columns = [(m.get("name") or m["field"], m["field"].split("."), _value_map(m.get("values")))
               for m in field_mappings]
    header = [name for name, _, _ in columns]
    page, left, more = 0, max_items, True
    while left > 0 and more:
        # Always whole pages (page * batch_size is the offset), cut to what is left of the limit.
        fetched = fetch_page(page, batch_size)
        more = len(fetched) >= batch_size
        entities = fetched[:left]
        if not entities:
            break
        left -= len(entities)
        rows = ([_cell(e, path, values) for _, path, values in columns] for e in entities)
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
        if page == 0:
            buffer.write("\ufeff")
            writer.writerow(header)
        writer.writerows(rows)
        page += 1
        yield buffer.getvalue()
    if page == 0:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(header)
        yield buffer.getvalue()


def _as_list(value: Any) -> list | None:
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def _value_map(values: Iterable[dict] | None) -> list[tuple[Any, Any]]:
    # A list of pairs, not a dict: keys may be unhashable JSON values.
    return [(v.get("key"), v.get("value")) for v in values or ()]


def _cell(entity: dict, path: list[str], values: list[tuple[Any, Any]]) -> str:
    value: Any = entity
    for part in path:
        value = value.get(part, "") if isinstance(value, dict) else ""
    if isinstance(value, dict):
        value = value.get("id", "")
    for key, mapped in values:
        if key == value:
            value = mapped
            break
    return str(value)
