"""Translate the ClearML ``get_all`` query language into MongoDB filters, projections and sorts.

Pure functions with no database access, shared by every service that lists objects.

- ``name`` (and other pattern fields) is a regular expression;
- list fields (``tags``, ``system_tags``, ``id``, ...) take a list of values, OR-ed by default, with the
  operators ``__$all``/``__$and``, ``__$any``/``__$or``, ``__$not`` (negates the next value) and
  ``__$nop`` (reset), the legacy ``-value`` exclusion, and ``null`` meaning "empty or missing";
- ``only_fields`` is a projection that always keeps ``id`` and keeps an existing parent sub-document even
  when the requested leaf is missing;
- ``order_by`` is a list of fields, ``-`` meaning descending; ``page``/``page_size`` page the results.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

ASCENDING, DESCENDING = 1, -1
DEFAULT_PAGE_SIZE = 500

_OPERATOR_PREFIX = "__$"
_NOT, _RESET = "__$not", "__$nop"
_AND, _OR = "and", "or"
_CONTEXTS = {"__$all": _AND, "__$and": _AND, "__$any": _OR, "__$or": _OR}


class QueryError(ValueError):
    """A query parameter is malformed; ``field`` names it and ``regex`` tells a bad pattern apart."""

    def __init__(self, field: str, message: str, regex: bool = False):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.regex = regex


@dataclass(frozen=True)
class QuerySpec:
    """Which request keys of a ``get_all`` call filter which document fields, and how."""

    pattern_fields: Sequence[str] = ("name",)
    list_fields: Sequence[str] = ("id", "tags", "system_tags")
    plain_fields: Sequence[str] = ()
    # Request key -> document field, where the two differ.
    renames: Mapping[str, str] = field(default_factory=lambda: {"id": "_id"})


def build_filter(params: Mapping[str, Any], spec: QuerySpec) -> dict:
    """The MongoDB filter for the request ``params`` (unknown keys are ignored)."""
    clauses: list[dict] = []
    for key in spec.pattern_fields:
        value = params.get(key)
        if value is not None and value != "":
            clauses.append({_doc_field(key, spec): {"$regex": _checked_regex(key, value)}})
    for key in spec.list_fields:
        value = params.get(key)
        if value is not None:
            clause = list_field_filter(key, value, doc_field=_doc_field(key, spec))
            if clause:
                clauses.append(clause)
    for key in spec.plain_fields:
        value = params.get(key)
        if value is not None:
            clauses.append({_doc_field(key, spec): value})
    any_clause = _any_all_filter(params, spec)
    if any_clause:
        clauses.append(any_clause)
    return _and(clauses)


def list_field_filter(key: str, values: Any, doc_field: str | None = None) -> dict:
    """Filter for a list-valued field with the ClearML tag operators."""
    doc_field = doc_field or key
    if not isinstance(values, (list, tuple)):
        values = [values]
    global_op, buckets, allow_empty = _parse_list_terms(key, values)
    conditions = [{doc_field: {op: sorted(set(vals))}} for op, vals in buckets.items() if vals]
    if len(conditions) > 1:
        combined = {"$and" if global_op == _AND else "$or": conditions}
    else:
        combined = conditions[0] if conditions else {}
    if not allow_empty:
        return combined
    empty = [{doc_field: {"$exists": False}}, {doc_field: []}, {doc_field: None}]
    return {"$or": ([combined] if combined else []) + empty}


def _parse_list_terms(key: str, values: Sequence[Any]) -> tuple[str, dict[str, list], bool]:
    context, global_op, negate, legacy = _OR, None, False, True
    buckets: dict[str, list] = {"$in": [], "$all": [], "$nin": []}
    allow_empty = False
    for value in values:
        is_operator = isinstance(value, str) and value.startswith(_OPERATOR_PREFIX) and value not in (_NOT, _RESET)
        if not is_operator:
            # Whatever comes first decides how the groups combine: a plain value means AND.
            global_op = global_op or _AND
        if value is None:
            allow_empty, negate = True, False
            continue
        if not isinstance(value, str):
            raise QueryError(key, f"expected a list of strings, got {type(value).__name__} {value!r}")
        if value == _RESET:
            context, negate, legacy = _OR, False, True
            continue
        if value.startswith(_OPERATOR_PREFIX):
            if negate:
                raise QueryError(key, f"a value is expected after {_NOT}")
            if value == _NOT:
                negate = True
                continue
            if value not in _CONTEXTS:
                raise QueryError(key, f"unsupported operator {value!r}")
            context, legacy = _CONTEXTS[value], False
            global_op = global_op or context
            continue
        include = not negate
        if not negate and legacy and value.startswith("-"):
            value, include = value[1:], False
            if not value:
                raise QueryError(key, "missing value after the exclude prefix '-'")
        negate = False
        op = ("$all" if context == _AND else "$in") if include else "$nin"
        buckets[op].append(value)
    if negate:
        raise QueryError(key, f"a value is expected after {_NOT}")
    return global_op or _AND, buckets, allow_empty


_SEARCH_KEYS = (("_any_", "$or"), ("_or_", "$or"), ("_all_", "$and"), ("_and_", "$and"))


def _any_all_filter(params: Mapping[str, Any], spec: QuerySpec) -> dict:
    """``_any_``/``_all_`` (aliases ``_or_``/``_and_``): {pattern, fields} searches several fields with one
    case-insensitive regular expression, as the web UI's search box does."""
    clauses = []
    for key, op in _SEARCH_KEYS:
        value = params.get(key)
        if not value:
            continue
        if not isinstance(value, Mapping) or not isinstance(value.get("fields"), list):
            raise QueryError(key, "expected {pattern, fields: [...]}")
        pattern = _checked_regex(f"{key}.pattern", value.get("pattern") or "")
        fields = [_doc_field(f, spec) for f in value["fields"] if isinstance(f, str)]
        if fields:
            clauses.append({op: [{f: {"$regex": pattern, "$options": "i"}} for f in fields]})
    return _and(clauses)


def _checked_regex(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise QueryError(key, f"expected a regular expression string, got {type(value).__name__}")
    try:
        re.compile(value)
    except re.error as exc:
        raise QueryError(key, f"malformed regular expression: {exc}", regex=True) from None
    return value


def _doc_field(key: str, spec: QuerySpec) -> str:
    return spec.renames.get(key, key)


def _and(clauses: list[dict]) -> dict:
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def sort_spec(order_by: Any, renames: Mapping[str, str] | None = None) -> list[tuple[str, int]]:
    """``["-last_update", "name"]`` -> MongoDB sort; ``_id`` is appended so paging is stable."""
    renames = {"id": "_id", **(renames or {})}
    if order_by is None:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    if not isinstance(order_by, list) or not all(isinstance(x, str) and x.strip("-") for x in order_by):
        raise QueryError("order_by", "expected a list of field names, optionally prefixed with '-'")
    sort = []
    for name in order_by:
        direction = DESCENDING if name.startswith("-") else ASCENDING
        key = name.lstrip("-")
        sort.append((renames.get(key, key), direction))
    if not any(key == "_id" for key, _ in sort):
        sort.append(("_id", ASCENDING))
    return sort


def paging(params: Mapping[str, Any]) -> tuple[int, int]:
    """(skip, limit) from ``page`` (0-based) and ``page_size``."""
    page = params.get("page")
    page_size = params.get("page_size")
    page = 0 if page is None else page
    page_size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise QueryError("page", "must be an integer >= 0")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise QueryError("page_size", "must be an integer > 0")
    return page * page_size, page_size


def mongo_projection(only_fields: Iterable[str] | None, renames: Mapping[str, str] | None = None) -> dict | None:
    """The top-level fields to fetch for ``only_fields``; :func:`trim` then cuts to the exact paths.

    Projecting whole top-level fields and trimming in Python keeps the "parent sub-document is kept"
    rule identical on every Mongo-wire server.
    """
    if not only_fields:
        return None
    renames = {"id": "_id", **(renames or {})}
    roots = {renames.get(path.split(".")[0], path.split(".")[0]) for path in only_fields}
    return {root: 1 for root in roots | {"_id"}}


def trim(doc: dict, only_fields: Iterable[str] | None) -> dict:
    """Keep ``id`` and the dotted paths in ``only_fields``; an existing parent dict survives a missing leaf."""
    if not only_fields:
        return doc
    result: dict = {"id": doc["id"]} if "id" in doc else {}
    for path in only_fields:
        _copy_path(doc, result, path.split("."))
    return result


def _copy_path(src: Any, dst: dict, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(src, dict) or head not in src:
        return
    value = src[head]
    if not rest:
        dst[head] = value
    elif isinstance(value, dict):
        child = dst.setdefault(head, {})
        if isinstance(child, dict):
            _copy_path(value, child, rest)
    elif isinstance(value, list):
        # A path into a list of sub-documents projects each element, as a MongoDB projection does.
        elements = [item for item in value if isinstance(item, dict)]
        projected = dst.get(head)
        if not isinstance(projected, list) or len(projected) != len(elements):
            projected = dst[head] = [{} for _ in elements]
        for item, out in zip(elements, projected):
            _copy_path(item, out, rest)
