"""Helpers every domain module uses: id look-ups, ``get_all`` queries and document shaping."""
from __future__ import annotations

from typing import Any, Mapping

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from trackside.api import errors
from trackside.api.bll import event_scroll
from trackside.shared.storage import query
from trackside.shared.storage.query import QueryError, QuerySpec
from trackside.shared.timeutil import utcnow

HIDDEN_TAG = "hidden"


# Public objects (make_public) keep their owner here; the API never shows it, as in the reference.
COMPANY_ORIGIN = "company_origin"
# A scroll id of get_all/get_all_ex is the position reached, encoded (see scroll_reply).
SCROLL_KIND = "get_all"


def to_api(doc: dict | None) -> dict | None:
    """A stored document as the API shows it: ``_id`` becomes ``id``."""
    if doc is None:
        return None
    doc = dict(doc)
    if "_id" in doc:
        doc["id"] = doc.pop("_id")
    doc.pop(COMPANY_ORIGIN, None)
    return doc


def company_filter(company: str, allow_public: bool = False) -> dict:
    """The caller's own documents, plus public ones (company "") when reading allows them."""
    return {"company": {"$in": [company, ""]}} if allow_public and company else {"company": company}


def public_allowed(params: Mapping[str, Any]) -> bool:
    """Whether a listing includes public objects: ``allow_public`` (get_all_ex, 2.23), else the older
    ``non_public`` (projects), else yes, as every reference get_all."""
    if params.get("allow_public") is not None:
        return bool(params["allow_public"])
    if params.get("non_public") is not None:
        return not params["non_public"]
    return True


def get_all(
    coll: Collection,
    company: str,
    params: Mapping[str, Any],
    spec: QuerySpec,
    extra_filter: dict | None = None,
    hidden_aware: bool = True,
    allow_public: bool = False,
) -> list[dict]:
    """Run a ``get_all`` query: filters, ``search_hidden``, ``only_fields``, ``order_by`` (empty first-key
    values last), and paging by ``page``/``page_size`` or by ``scroll_id``/``size`` (see :func:`scroll_reply`)."""
    only_fields = params.get("only_fields")
    try:
        clauses = [company_filter(company, allow_public), query.build_filter(params, spec)]
        if extra_filter:
            clauses.append(extra_filter)
        # Asking for ids finds them even when hidden, as in the reference.
        if hidden_aware and not params.get("search_hidden") and not params.get("id"):
            clauses.append({"system_tags": {"$ne": HIDDEN_TAG}})
        sort = query.sort_spec(params.get("order_by"), spec.renames)
        if "scroll_id" in params:
            skip, limit = query.scroll_window(params, scroll_position(params.get("scroll_id")))
        else:
            skip, limit = query.paging(params)
    except QueryError as exc:
        raise query_error(exc) from None
    base = {"$and": [c for c in clauses if c]}
    projection = query.mongo_projection(only_fields, spec.renames)
    docs = _read_sorted(coll, base, projection, sort, skip, limit, query.collation(params, sort, spec))
    return [query.trim(to_api(doc), only_fields) for doc in docs]


def _read_sorted(coll: Collection, base: dict, projection, sort, skip: int, limit: int,
                 collation: dict | None = None) -> list[dict]:
    """One page of ``base`` in ``sort`` order; with an ascending first key, the documents where that key is
    empty follow all the others (two reads, the second continuing where the first ran out)."""
    def find(filter_: dict, skip_: int, limit_: int) -> list[dict]:
        cursor = coll.find(filter_, projection, collation=collation)
        if sort:
            cursor = cursor.sort(sort)
        return list(cursor.skip(skip_).limit(limit_))

    split = query.null_split(sort)
    if split is None:
        return find(base, skip, limit)
    set_part, empty_part = ({"$and": [base, part]} for part in split)
    docs = find(set_part, skip, limit)
    if len(docs) == limit:
        return docs
    # The first part ran out inside this page: its size is known unless the page started beyond it.
    if docs or skip == 0:
        first_size = skip + len(docs)
    else:
        first_size = coll.count_documents(set_part, **({"collation": collation} if collation else {}))
    return docs + find(empty_part, max(0, skip - first_size), limit - len(docs))


def scroll_position(scroll_id: Any) -> int:
    """Where a get_all scroll continues; an unknown or malformed id starts over, as the reference does for
    an expired scroll state."""
    if not scroll_id:
        return 0
    try:
        state = event_scroll.decode(scroll_id, SCROLL_KIND)
    except errors.APIError:
        return 0
    position = state.get("p")
    return position if event_scroll.is_int(position) and position >= 0 else 0


def scroll_reply(params: Mapping[str, Any], returned: int) -> dict:
    """``{"scroll_id": ...}`` for a scroll read that returned ``returned`` items (``{}`` without scrolling).

    The id is the position reached, base64 JSON as the events scroll ids: any API process continues it,
    nothing expires and nothing is stored (the reference keeps the position in Redis for 10 minutes)."""
    if "scroll_id" not in params:
        return {}
    start = 0 if params.get("refresh_scroll") else scroll_position(params.get("scroll_id"))
    return {"scroll_id": event_scroll.encode(SCROLL_KIND, {"p": start + returned})}


def query_error(exc: QueryError) -> errors.APIError:
    if exc.regex:
        return errors.InvalidRegex(str(exc), field=exc.field)
    if exc.validation:
        return errors.ValidationError(str(exc), field=exc.field)
    return errors.FieldsValueError(str(exc), field=exc.field)


def set_public(coll: Collection, identity, ids: list[str], not_found: type[errors.APIError],
               public: bool) -> dict:
    """make_public / make_private: a public document has company "" and remembers its owner; only the
    owning company may make it private again. Any id that is not the caller's (or not public) fails all."""
    company = identity.company
    query_ = {"_id": {"$in": ids}, "company": company} if public else \
        {"_id": {"$in": ids}, "company": "", COMPANY_ORIGIN: company}
    found = {d["_id"] for d in coll.find(query_, {"_id": 1})}
    missing = sorted(set(ids) - found)
    if missing:
        raise not_found(f"{not_found.default_message}: {', '.join(missing)}", ids=missing)
    if public:
        update = {"$set": {"company": "", COMPANY_ORIGIN: company}}
    else:
        update = {"$set": {"company": company}, "$unset": {COMPANY_ORIGIN: 1}}
    update["$set"].update({"last_change": utcnow(), "last_changed_by": identity.user})
    return {"updated": coll.update_many(query_, update).modified_count}


def get_one(coll: Collection, company: str, obj_id: str, not_found: type[errors.APIError],
            only_fields: list[str] | None = None, kind: str = "object", allow_public: bool = False) -> dict:
    """One document by id; ``allow_public`` (reads only) also finds public ones."""
    doc = coll.find_one({"_id": obj_id, **company_filter(company, allow_public)}, query.mongo_projection(only_fields))
    if doc is None:
        if not allow_public:
            refuse_public_writes(coll, [obj_id], kind)
        raise not_found(f"{not_found.default_message}: {kind} id={obj_id!r} not found", id=obj_id)
    return query.trim(to_api(doc), only_fields)


def require_ids(coll: Collection, company: str, ids: list[str], not_found: type[errors.APIError]) -> None:
    found = {d["_id"] for d in coll.find({"_id": {"$in": ids}, "company": company}, {"_id": 1})}
    missing = [i for i in ids if i not in found]
    if missing:
        refuse_public_writes(coll, missing)
        raise not_found(f"{not_found.default_message}: {', '.join(missing)}", ids=missing)


def refuse_public_writes(coll: Collection, ids: list[str], kind: str = "object") -> None:
    """403/21 when an id the caller's company does not own is a public document: those are read-only for
    everyone, their owner included, until made private again (the reference's rule). Only on a miss, so
    reads and writes of one's own documents cost nothing more."""
    public = sorted(d["_id"] for d in coll.find({"_id": {"$in": ids}, "company": ""}, {"_id": 1}))
    if public:
        raise errors.NoWritePermission(f"cannot modify public {kind}(s), ids={tuple(public)}", ids=public)


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
