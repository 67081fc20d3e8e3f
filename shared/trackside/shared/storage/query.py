"""Translate the ClearML ``get_all`` query language into MongoDB filters, projections and sorts.

Pure functions with no database access, shared by every service that lists objects.

- ``name`` (and other pattern fields) is a regular expression;
- list fields (``tags``, ``system_tags``, ``id``, ...) take a list of values, OR-ed by default, with the
  operators ``__$all``/``__$and``, ``__$any``/``__$or``, ``__$not`` (negates the next value) and
  ``__$nop`` (reset), the legacy ``-value`` exclusion, and ``null`` meaning "empty or missing";
- ``only_fields`` is a projection that always keeps ``id`` and keeps an existing parent sub-document even
  when the requested leaf is missing;
- ``order_by`` is a list of fields, ``-`` meaning descending; ``page``/``page_size`` page the results;
  documents whose first ascending sort field is empty (missing, null, "" or []) come last, as in the
  reference, so the caller runs :func:`null_split` as two queries;
- range fields take ``[min, max]`` (inclusive; a null min also finds empty values), datetime fields take
  conditions such as ``">=2024-01-01"`` (or a plain ``[from, to]`` pair), and ``filters`` takes
  ``{field: {any: {include, exclude}, all: {include, exclude}, op}}`` for list fields;
- a spec field ending in ``.*`` matches every request key under that prefix (``hyperparams.*``).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

ASCENDING, DESCENDING = 1, -1
DEFAULT_PAGE_SIZE = 500
# The reference caps page_size at its mongo max_page_size (500).
MAX_PAGE_SIZE = 500

_OPERATOR_PREFIX = "__$"
_NOT, _RESET = "__$not", "__$nop"
_AND, _OR = "and", "or"
_CONTEXTS = {"__$all": _AND, "__$and": _AND, "__$any": _OR, "__$or": _OR}


class QueryError(ValueError):
    """A query parameter is malformed; ``field`` names it, ``regex`` tells a bad pattern apart."""

    def __init__(self, field: str, message: str, regex: bool = False, validation: bool = False):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.regex = regex
        # The reference answers these with its generic validation error (400/12) rather than 400/16.
        self.validation = validation


@dataclass(frozen=True)
class QuerySpec:
    """Which request keys of a ``get_all`` call filter which document fields, and how."""

    pattern_fields: Sequence[str] = ("name",)
    list_fields: Sequence[str] = ("id", "tags", "system_tags")
    plain_fields: Sequence[str] = ()
    # Request key -> document field, where the two differ.
    renames: Mapping[str, str] = field(default_factory=lambda: {"id": "_id"})
    # [min, max] ranges; those in date_fields compare dates (ISO strings in the request).
    range_fields: Sequence[str] = ()
    # Conditions with a comparison prefix: ">=2024-01-01T00:00:00", "<2024-02-01".
    datetime_fields: Sequence[str] = ()
    date_fields: frozenset = frozenset()
    # Fields under these prefixes hold user values (hyper-parameters, metrics): strings that are numbers
    # compare as numbers, as the reference's numericOrdering collation does.
    numeric_prefixes: Sequence[str] = ()
    # The fields of the reference's text index, searched by ``search_text``.
    text_fields: Sequence[str] = ()


def build_filter(params: Mapping[str, Any], spec: QuerySpec) -> dict:
    """The MongoDB filter for the request ``params`` (unknown keys are ignored)."""
    clauses: list[dict] = []
    for key in spec.pattern_fields:
        value = params.get(key)
        if value is not None and value != "":
            clauses.append({_doc_field(key, spec): {"$regex": _checked_regex(key, value)}})
    filters = params.get("filters")
    if filters is not None and not isinstance(filters, Mapping):
        raise QueryError("filters", "expected an object of {field: {any, all, op}}")
    filtered = set()
    for key, value in _matching(spec.list_fields, filters or {}).items():
        filtered.add(key)
        clause = list_filter_object(key, value, doc_field=_doc_field(key, spec))
        if clause:
            clauses.append(clause)
    for key, value in _matching(spec.list_fields, params).items():
        if key in filtered:  # filters wins over the plain list form of the same field, as in the reference
            continue
        clause = list_field_filter(key, value, doc_field=_doc_field(key, spec))
        if clause:
            clauses.append(clause)
    for key, value in _matching(spec.range_fields, params).items():
        clauses.append(range_filter(key, value, _doc_field(key, spec), _is_date(key, spec)))
    for key, value in _matching(spec.plain_fields, params).items():
        clauses.append({_doc_field(key, spec): value})
    for key in spec.datetime_fields:
        value = params.get(key)
        if value is not None:
            clause = datetime_filter(key, value, _doc_field(key, spec))
            if clause:
                clauses.append(clause)
    text = params.get("search_text")
    if text and spec.text_fields:
        clauses.append(text_search_filter(text, [_doc_field(f, spec) for f in spec.text_fields]))
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


def _matching(patterns: Sequence[str], params: Mapping[str, Any]) -> dict[str, Any]:
    """The non-null ``params`` whose key is one of ``patterns`` or under a ``prefix.*`` pattern."""
    found = {}
    for pattern in patterns:
        if pattern.endswith(".*"):
            prefix = pattern[:-1]
            found.update({k: v for k, v in params.items() if k.startswith(prefix) and len(k) > len(prefix)})
        elif pattern in params:
            found[pattern] = params[pattern]
    return {k: v for k, v in found.items() if v is not None}


def _is_date(key: str, spec: QuerySpec) -> bool:
    return key in spec.date_fields or key in spec.datetime_fields


_LIST_FILTER_OPS = {("any", True): "$in", ("all", True): "$all", ("all", False): "$nin"}


def list_filter_object(key: str, value: Any, doc_field: str | None = None) -> dict:
    """``filters.<field>``: ``{any: {include, exclude}, all: {include, exclude}, op: and|or}``.

    "any" includes are OR-ed (``$in``), its excludes mean "not all of them"; "all" includes must all be there
    (``$all``) and none of its excludes (``$nin``); a null term means "empty". ``op`` joins the two parts."""
    doc_field = doc_field or key
    if not isinstance(value, Mapping):
        raise QueryError(key, "a filter must be an object of {any, all, op}", validation=True)
    op = value.get("op", "and")
    if op not in ("and", "or"):
        raise QueryError(key, f"filter op must be 'and' or 'or', got {op!r}", validation=True)
    parts = []
    for part in ("any", "all"):
        terms = value.get(part)
        if terms is None:
            continue
        if not isinstance(terms, Mapping):
            raise QueryError(key, f"filter part {part!r} must be an object of {{include, exclude}}",
                             validation=True)
        conditions = []
        for kind, include in (("include", True), ("exclude", False)):
            values = terms.get(kind) or []
            if not isinstance(values, list) or not all(v is None or isinstance(v, str) for v in values):
                raise QueryError(key, f"filter {part}.{kind} must be a list of strings", validation=True)
            if None in values:
                conditions.append({doc_field: {"$size": 0}} if include else {doc_field: {"$not": {"$size": 0}}})
            strings = sorted({v for v in values if v is not None})
            if not strings:
                continue
            if (part, include) == ("any", False):
                conditions.append({doc_field: {"$not": {"$all": strings}}})
            else:
                conditions.append({doc_field: {_LIST_FILTER_OPS[(part, include)]: strings}})
        if conditions:
            parts.append(conditions[0] if len(conditions) == 1 else
                         {"$or" if part == "any" else "$and": conditions})
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and" if op == "and" else "$or": parts}


def range_filter(key: str, value: Any, doc_field: str | None = None, dates: bool = False) -> dict:
    """``[min, max]``, both inclusive; either may be null (a null min also finds missing/null values)."""
    doc_field = doc_field or key
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise QueryError(key, "min and max values should be specified for a range field", validation=True)
    low, high = (_range_value(key, v, dates) for v in value)
    if low is None and high is None:
        raise QueryError(key, "at least one of min or max should be given for a range field", validation=True)
    bounds = {}
    if low is not None:
        bounds["$gte"] = low
    if high is not None:
        bounds["$lte"] = high
    clause = {doc_field: bounds}
    return clause if low is not None else {"$or": [clause, {doc_field: None}]}


def _range_value(key: str, value: Any, dates: bool) -> Any:
    if value is None:
        return None
    if dates:
        parsed = parse_date(value)
        if parsed is None:
            raise QueryError(key, f"invalid date {value!r}")
        return parsed
    if isinstance(value, str):  # numbers may come as strings (query strings, the web app's metric filters)
        try:
            return float(value) if any(c in value for c in ".eEn") else int(value)
        except ValueError:
            return value
    return value


_DATE_CONDITION = re.compile(r"^(?P<op>>=|>|<=|<)?(?P<value>.*)$", re.S)
_DATE_OPS = {">=": "$gte", ">": "$gt", "<=": "$lte", "<": "$lt", None: "$eq"}


def datetime_filter(key: str, value: Any, doc_field: str | None = None) -> dict:
    """Conditions like ``[">=2024-01-01", "<2024-02-01"]``; two plain dates are an inclusive range.

    As in the reference, a condition whose date does not parse is skipped rather than refused."""
    doc_field = doc_field or key
    values = value if isinstance(value, list) else [value]
    if not all(v is None or isinstance(v, str) for v in values):
        raise QueryError(key, "expected date condition strings")
    if len(values) == 2 and not any(v and _DATE_CONDITION.match(v).group("op") for v in values):
        if values[0] is None and values[1] is None:
            raise QueryError(key, "at least one of min or max should be given for a range field", validation=True)
        return range_filter(key, values, doc_field, dates=True)
    bounds = {}
    for item in values:
        if item is None:
            continue
        match = _DATE_CONDITION.match(item)
        parsed = parse_date(match.group("value"))
        if parsed is not None:
            bounds[_DATE_OPS[match.group("op")]] = parsed
    if not bounds:
        return {}
    return {doc_field: bounds["$eq"]} if list(bounds) == ["$eq"] else {doc_field: bounds}


def parse_date(value: Any) -> datetime | None:
    """An ISO-8601 date or datetime (naive means UTC), or None when it does not parse."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


_TEXT_TERMS = re.compile(r'(-?)"([^"]+)"|(-?)(\S+)')


def text_search_filter(text: Any, fields: Sequence[str]) -> dict:
    """``search_text`` as MongoDB's ``$text`` reads it, without needing a text index: any of the words found
    at a word start in any of ``fields``, case-insensitively; a "quoted phrase" is required (then the words
    only rank, so they do not filter); ``-word`` excludes. Prefix matching stands in for the text index's
    stemming ("run" finds "running")."""
    if not isinstance(text, str):
        raise QueryError("search_text", "expected a string")
    words, phrases, excluded = [], [], []
    for match in _TEXT_TERMS.finditer(text):
        phrase = match.group(2)
        negated, term = (match.group(1), phrase) if phrase else (match.group(3), match.group(4))
        branches = [{field: {"$regex": r"\b" + re.escape(term), "$options": "i"}} for field in fields]
        (excluded if negated else phrases if phrase else words).append(branches)
    clauses = [{"$or": term} for term in phrases]
    if words and not phrases:
        clauses.append({"$or": [branch for term in words for branch in term]})
    clauses += [{"$nor": term} for term in excluded]
    return _and(clauses)


_SEARCH_KEYS = (("_any_", "$or"), ("_or_", "$or"), ("_all_", "$and"), ("_and_", "$and"))


def _any_all_filter(params: Mapping[str, Any], spec: QuerySpec) -> dict:
    """``_any_``/``_all_`` (aliases ``_or_``/``_and_``): ``{pattern, fields}`` searches several fields with one
    case-insensitive regular expression, as the web UI's search box does; ``{datetime, fields}`` applies one
    date condition to those of the fields that are datetime fields."""
    clauses = []
    for key, op in _SEARCH_KEYS:
        value = params.get(key)
        if not value:
            continue
        if not isinstance(value, Mapping) or not isinstance(value.get("fields"), list):
            raise QueryError(key, "expected {pattern, fields: [...]}", validation=True)
        pattern, when = value.get("pattern"), value.get("datetime")
        if (pattern is None) == (when is None):
            raise QueryError(key, "exactly one of 'pattern' and 'datetime' must be given", validation=True)
        names = [f for f in value["fields"] if isinstance(f, str) and f]
        if pattern is not None:
            regex = _checked_regex(f"{key}.pattern", pattern)
            branches = [{_doc_field(f, spec): {"$regex": regex, "$options": "i"}} for f in names]
        else:
            branches = [datetime_filter(f, when, _doc_field(f, spec)) for f in names if f in spec.datetime_fields]
            branches = [b for b in branches if b]
        if branches:
            clauses.append(branches[0] if len(branches) == 1 else {op: branches})
    return _and(clauses)


# MongoDB's PCRE takes inline flags anywhere ("^(?i)(?!example).*$", as the custom-apps docs write it); Python's
# re, which checks patterns here and runs them in the embedded store, wants them first. "(?i)^..." is the same.
_FLAGS_AFTER_ANCHOR = re.compile(r"^\^((?:\(\?[aiLmsux]+\))+)")


def _checked_regex(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise QueryError(key, f"expected a regular expression string, got {type(value).__name__}")
    value = _FLAGS_AFTER_ANCHOR.sub(r"\1^", value)
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


# What "empty" means for the nulls-last rule: missing, null, an empty string or an empty list.
_EMPTY_VALUES = [None, "", []]
# Fields every stored document has set: sorting on them needs no split (the split's filter costs a full
# pass on a Mongo-wire server without a matching index: +26% on a 1,000-task name-ordered page).
ALWAYS_SET = frozenset({"_id", "name", "created", "status", "type", "user", "company"})


def null_split(sort: Sequence[tuple[str, int]]) -> tuple[dict, dict] | None:
    """Filters for the documents whose first sort field is set, and for those where it is empty, when that
    field sorts ascending (None otherwise).

    The reference returns documents with an empty first sort key last in either direction; MongoDB puts
    them first when ascending, so the caller reads the non-empty part, then the empty part."""
    if not sort:
        return None
    key, direction = sort[0]
    if direction != ASCENDING or key in ALWAYS_SET or "[" in key:
        return None
    return {key: {"$nin": _EMPTY_VALUES}}, {key: {"$in": _EMPTY_VALUES}}


NUMERIC_COLLATION = {"locale": "en_US", "numericOrdering": True}


def collation(params: Mapping[str, Any], sort: Sequence[tuple[str, int]], spec: QuerySpec) -> dict | None:
    """The numeric collation when a filter key or the first sort key is under ``spec.numeric_prefixes``."""
    if not spec.numeric_prefixes:
        return None
    keys = [k for k, v in params.items() if v is not None] + [key for key, _ in sort[:1]]
    if any(key.startswith(prefix) for key in keys for prefix in spec.numeric_prefixes):
        return dict(NUMERIC_COLLATION)
    return None


def scroll_window(params: Mapping[str, Any], position: int) -> tuple[int, int]:
    """(skip, limit) of a scroll read that continues at ``position``: ``size`` items from there, or with
    ``refresh_scroll`` everything read so far again (at least ``size``)."""
    size = params.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise QueryError("size", "an integer size >= 1 must be given with scroll_id", validation=True)
    if params.get("refresh_scroll"):
        return 0, max(position, size)
    return position, size


def paging(params: Mapping[str, Any]) -> tuple[int, int]:
    """(skip, limit) from ``page`` (0-based) and ``page_size`` (at most :data:`MAX_PAGE_SIZE`)."""
    page = params.get("page")
    page_size = params.get("page_size")
    page = 0 if page is None else page
    page_size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    # The reference answers bad paging with its validation error (400/12).
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise QueryError("page", "must be an integer >= 0", validation=True)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise QueryError("page_size", "must be an integer > 0", validation=True)
    page_size = min(page_size, MAX_PAGE_SIZE)
    return page * page_size, page_size


def mongo_projection(only_fields: Iterable[str] | None, renames: Mapping[str, str] | None = None) -> dict | None:
    """The top-level fields to fetch for ``only_fields``; :func:`trim` then cuts to the exact paths.

    Projecting whole top-level fields and trimming in Python keeps the "parent sub-document is kept"
    rule identical on every Mongo-wire server. ``-path`` entries exclude (the reference's projection
    syntax); with no plain entry at all, everything but them is fetched.
    """
    include, exclude = split_projection(only_fields)
    if not include:
        return None
    renames = {"id": "_id", **(renames or {})}
    roots = {renames.get(path.split(".")[0], path.split(".")[0]) for path in include}
    return {root: 1 for root in roots | {"_id"}}


def split_projection(only_fields: Iterable[str] | None) -> tuple[list[str], list[str]]:
    """(paths to keep, paths to drop) of ``only_fields``: a leading ``-`` drops a path."""
    include, exclude = [], []
    for path in only_fields or ():
        if path.startswith("-"):
            if path[1:]:
                exclude.append(path[1:])
        elif path:
            include.append(path)
    return include, exclude


def trim(doc: dict, only_fields: Iterable[str] | None) -> dict:
    """Keep ``id`` and the dotted paths in ``only_fields`` (an existing parent dict survives a missing leaf),
    then drop the ``-path`` ones."""
    include, exclude = split_projection(only_fields)
    if not include and not exclude:
        return doc
    result: dict = doc
    if include:
        result = {"id": doc["id"]} if "id" in doc else {}
        for path in include:
            _copy_path(doc, result, path.split("."))
    # Sub-documents are shared with ``doc`` until copied: dropping inside them must not change it.
    result = copy_dict(result, [path.split(".")[0] for path in exclude])
    for path in exclude:
        _drop_path(result, path.split("."))
    return result


def copy_dict(doc: dict, roots: Iterable[str]) -> dict:
    """A copy of ``doc`` whose sub-documents under ``roots`` are copied too (so dropping in them is safe)."""
    result = dict(doc)
    for root in roots:
        if root in result:
            result[root] = copy.deepcopy(result[root])
    return result


def _drop_path(doc: Any, parts: list[str]) -> None:
    if not isinstance(doc, dict):
        return
    head, rest = parts[0], parts[1:]
    if not rest:
        doc.pop(head, None)
    elif isinstance(doc.get(head), dict):
        _drop_path(doc[head], rest)


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
