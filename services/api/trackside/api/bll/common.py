"""Helpers every domain module uses: id look-ups, ``get_all`` queries and document shaping."""
from __future__ import annotations

from typing import Any, Mapping

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from trackside.api import errors
from trackside.shared.storage import query
from trackside.shared.storage.query import QueryError, QuerySpec

HIDDEN_TAG = "hidden"


def to_api(doc: dict | None) -> dict | None:
    """A stored document as the API shows it: ``_id`` becomes ``id``."""
    if doc is None:
        return None
    doc = dict(doc)
    if "_id" in doc:
        doc["id"] = doc.pop("_id")
    return doc


def get_all(
    coll: Collection,
    company: str,
    params: Mapping[str, Any],
    spec: QuerySpec,
    extra_filter: dict | None = None,
    hidden_aware: bool = True,
    window: tuple[int, int] | None = None,
) -> list[dict]:
    """Run a ``get_all`` query: filters, ``search_hidden``, ``only_fields``, ``order_by`` and paging
    (``window``: an explicit (skip, limit) instead of ``page``/``page_size``, for scroll paging)."""
    only_fields = params.get("only_fields")
    try:
        clauses = [{"company": company}, query.build_filter(params, spec)]
        if extra_filter:
            clauses.append(extra_filter)
        # Asking for ids finds them even when hidden, as in the reference.
        if hidden_aware and not params.get("search_hidden") and not params.get("id"):
            clauses.append({"system_tags": {"$ne": HIDDEN_TAG}})
        sort = query.sort_spec(params.get("order_by"), spec.renames)
        skip, limit = window if window is not None else query.paging(params)
    except QueryError as exc:
        raise query_error(exc) from None
    cursor = coll.find({"$and": [c for c in clauses if c]}, query.mongo_projection(only_fields, spec.renames))
    if sort:
        cursor = cursor.sort(sort)
    cursor = cursor.skip(skip).limit(limit)
    return [query.trim(to_api(doc), only_fields) for doc in cursor]


def query_error(exc: QueryError) -> errors.APIError:
    if exc.regex:
        return errors.InvalidRegex(str(exc), field=exc.field)
    return errors.FieldsValueError(str(exc), field=exc.field)


def get_one(coll: Collection, company: str, obj_id: str, not_found: type[errors.APIError],
            only_fields: list[str] | None = None, kind: str = "object") -> dict:
    doc = coll.find_one({"_id": obj_id, "company": company}, query.mongo_projection(only_fields))
    if doc is None:
        raise not_found(f"{not_found.default_message}: {kind} id={obj_id!r} not found", id=obj_id)
    return query.trim(to_api(doc), only_fields)


def require_ids(coll: Collection, company: str, ids: list[str], not_found: type[errors.APIError]) -> None:
    found = {d["_id"] for d in coll.find({"_id": {"$in": ids}, "company": company}, {"_id": 1})}
    missing = [i for i in ids if i not in found]
    if missing:
        raise not_found(f"{not_found.default_message}: {', '.join(missing)}", ids=missing)


def insert_unique(coll: Collection, doc: dict, what: str) -> None:
    try:
        coll.insert_one(doc)
    except DuplicateKeyError:
        raise errors.ExpectedUniqueData(f"{what} already exists", name=doc.get("name")) from None


def set_fields(target: dict, updates: Mapping[str, Any], allowed: set[str]) -> dict:
    """Keep only the keys of ``updates`` that the API lets callers write, skipping ``None`` (not given)."""
    for key, value in updates.items():
        if key in allowed and value is not None:
            target[key] = value
    return target


def owner_ids(coll: Collection, company: str, project_ids: list[str] | None) -> list[str]:
    """Ids of the users who own documents in ``coll`` (optionally within some projects)."""
    query: dict = {"company": company}
    if project_ids:
        query["project"] = {"$in": project_ids}
    return [user for user in coll.distinct("user", query) if user]
