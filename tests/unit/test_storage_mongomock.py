"""The filters built by the query module select the right documents, end to end, on an in-process collection.

mongomock_ng evaluates the MongoDB filter language in memory, so these tests prove the ClearML semantics
(OR by default, ``__$all``, ``__$not``, legacy ``-x``, ``null`` = empty or missing, name regex, paging and
``only_fields``) without a server. The real Mongo-wire server path is covered by the integration tests.
"""
from __future__ import annotations

import mongomock_ng
import pytest

from trackside.shared.storage.query import (
    QuerySpec,
    build_filter,
    list_field_filter,
    mongo_projection,
    paging,
    sort_spec,
    trim,
)

SPEC = QuerySpec()

# _id, name, tags (MISSING: no field at all), system_tags
MISSING = object()
ROWS = [
    ("d01", "exp-alpha", ["a", "b"], ["hidden"]),
    ("d02", "exp-beta", ["a"], ["archived"]),
    ("d03", "exp-gamma", ["b"], ["pipeline"]),
    ("d04", "exp-delta", ["c"], ["archived"]),
    ("d05", "other-a", ["a", "c"], MISSING),
    ("d06", "other-b", [], []),
    ("d07", "exp-null", None, None),
    ("d08", "exp-missing", MISSING, MISSING),
    ("d09", "Exp-Upper", ["a", "b", "c"], []),
    ("d10", "exp-dash", ["-a"], []),
]
ALL_IDS = {row[0] for row in ROWS}


def make_doc(_id, name, tags, system_tags) -> dict:
    doc = {"_id": _id, "name": name, "execution": {"queue": f"q-{_id}"}, "rank": int(_id[1:])}
    if tags is not MISSING:
        doc["tags"] = tags
    if system_tags is not MISSING:
        doc["system_tags"] = system_tags
    return doc


@pytest.fixture(scope="module")
def collection():
    coll = mongomock_ng.MongoClient()["backend"]["tasks"]
    coll.insert_many([make_doc(*row) for row in ROWS])
    return coll


def ids(collection, mongo_filter: dict) -> set[str]:
    return {doc["_id"] for doc in collection.find(mongo_filter, {"_id": 1})}


def without(*excluded: str) -> set[str]:
    return ALL_IDS - set(excluded)


EMPTY_OR_MISSING = {"d06", "d07", "d08"}
HAS_A = {"d01", "d02", "d05", "d09"}

TAG_CASES = [
    ("one-value", ["a"], HAS_A),
    ("or-by-default", ["a", "b"], HAS_A | {"d03"}),
    ("any", ["__$any", "b", "c"], {"d01", "d03", "d04", "d05", "d09"}),
    ("all", ["__$all", "a", "b"], {"d01", "d09"}),
    ("and", ["__$and", "a", "b", "c"], {"d09"}),
    ("not-excludes-also-matches-empty-and-missing", ["__$not", "a"], without(*HAS_A)),
    ("legacy-minus", ["-a"], without(*HAS_A)),
    ("legacy-minus-several", ["-a", "-b"], {"d04", "d06", "d07", "d08", "d10"}),
    ("legacy-off-after-operator", ["__$all", "-a"], {"d10"}),
    ("value-and-legacy-exclusion", ["a", "-c"], {"d01", "d02"}),
    ("all-and-not", ["__$all", "a", "__$not", "c"], {"d01", "d02"}),
    ("any-or-not", ["__$any", "a", "__$not", "c"], without("d04")),
    ("nop-restores-legacy", ["__$all", "a", "__$nop", "-b"], {"d02", "d05"}),
    ("null-is-empty-or-missing", [None], EMPTY_OR_MISSING),
    ("null-or-value", [None, "c"], EMPTY_OR_MISSING | {"d04", "d05", "d09"}),
    ("all-or-null", ["__$all", "a", "b", None], EMPTY_OR_MISSING | {"d01", "d09"}),
    ("exclusion-or-null", ["-a", None], without(*HAS_A)),
    ("unknown-tag", ["zzz"], set()),
    ("empty-list-is-no-filter", [], ALL_IDS),
]


@pytest.mark.parametrize("tags, expected", [c[1:] for c in TAG_CASES], ids=[c[0] for c in TAG_CASES])
def test_tags(collection, tags, expected):
    assert ids(collection, list_field_filter("tags", tags)) == expected


@pytest.mark.parametrize("tags, expected", [c[1:] for c in TAG_CASES], ids=[c[0] for c in TAG_CASES])
def test_tags_through_build_filter(collection, tags, expected):
    assert ids(collection, build_filter({"tags": tags}, SPEC)) == expected


QUERY_CASES = [
    ("name-regex", {"name": "^exp-"}, without("d05", "d06", "d09")),
    ("name-regex-is-case-sensitive", {"name": "^Exp"}, {"d09"}),
    ("name-regex-contains", {"name": "a$"}, {"d01", "d02", "d03", "d04", "d05"}),
    ("name-and-tags", {"name": "^exp-", "tags": ["a"]}, {"d01", "d02"}),
    ("name-and-null-tags", {"name": "^exp", "tags": [None]}, {"d07", "d08"}),
    ("name-and-exclusion", {"name": "a$", "tags": ["-c"]}, {"d01", "d02", "d03"}),
    ("name-and-all", {"name": "alpha|Upper", "tags": ["__$all", "a", "b"]}, {"d01", "d09"}),
    ("ids", {"id": ["d01", "d02", "d03"]}, {"d01", "d02", "d03"}),
    ("ids-and-tags", {"id": ["d01", "d02", "d03"], "tags": ["b"]}, {"d01", "d03"}),
    ("ids-excluded", {"id": ["-d01", "-d02"]}, without("d01", "d02")),
    ("system-tags-not-archived", {"system_tags": ["-archived"]}, without("d02", "d04")),
    ("system-tags-archived-or-none", {"system_tags": ["archived", None]}, without("d01", "d03")),
    ("tags-and-system-tags", {"tags": ["a"], "system_tags": ["__$not", "archived"]}, {"d01", "d05", "d09"}),
    ("any-pattern", {"_any_": {"pattern": "^other", "fields": ["name", "id"]}}, {"d05", "d06"}),
    ("all-pattern", {"_all_": {"pattern": "1", "fields": ["name", "id"]}}, set()),
    ("everything", {}, ALL_IDS),
]


@pytest.mark.parametrize("params, expected", [c[1:] for c in QUERY_CASES], ids=[c[0] for c in QUERY_CASES])
def test_build_filter_end_to_end(collection, params, expected):
    assert ids(collection, build_filter(params, SPEC)) == expected


def test_tags_exclusion_then_or_is_and_like_the_reference(collection):
    assert ids(collection, list_field_filter("tags", ["-c", "__$or", "a"])) == {"d01", "d02"}


def test_any_pattern_is_case_insensitive(collection):
    assert ids(collection, build_filter({"_any_": {"pattern": "upper", "fields": ["name"]}}, SPEC)) == {"d09"}


def test_or_alias_of_any(collection):
    assert ids(collection, build_filter({"_or_": {"pattern": "^other", "fields": ["name"]}}, SPEC)) == {"d05", "d06"}


def test_any_with_no_fields_is_no_filter(collection):
    assert ids(collection, build_filter({"_any_": {"pattern": "x", "fields": []}}, SPEC)) == ALL_IDS


# -- sort, paging and only_fields together ----------------------------------------------------------------


def get_all(collection, params: dict) -> list[dict]:
    """What a get_all handler does with the query module: filter, project, sort, page, rename, trim."""
    skip, limit = paging(params)
    cursor = collection.find(build_filter(params, SPEC), mongo_projection(params.get("only_fields")))
    sort = sort_spec(params.get("order_by"))
    if sort:
        cursor = cursor.sort(sort)
    docs = []
    for doc in cursor.skip(skip).limit(limit):
        doc["id"] = doc.pop("_id")
        docs.append(trim(doc, params.get("only_fields")))
    return docs


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"order_by": ["name"], "page": 0, "page_size": 3}, ["d09", "d01", "d02"]),
        ({"order_by": ["name"], "page": 1, "page_size": 3}, ["d10", "d04", "d03"]),
        ({"order_by": ["-rank"], "page": 0, "page_size": 2}, ["d10", "d09"]),
        ({"order_by": ["-rank"], "page": 4, "page_size": 2}, ["d02", "d01"]),
        ({"order_by": ["-rank"], "page": 5, "page_size": 2}, []),
        ({"order_by": ["rank"], "tags": ["a"], "page_size": 10}, ["d01", "d02", "d05", "d09"]),
        ({"order_by": ["-id"], "tags": [None]}, ["d08", "d07", "d06"]),
    ],
    ids=["by-name-page-0", "by-name-page-1", "desc-first", "desc-last", "past-the-end", "filtered", "by-id-desc"],
)
def test_sort_and_paging(collection, params, expected):
    assert [doc["id"] for doc in get_all(collection, params)] == expected


def test_only_fields_keeps_id_and_requested_paths(collection):
    docs = get_all(collection, {"id": ["d01"], "only_fields": ["name", "execution.queue"]})
    assert docs == [{"id": "d01", "name": "exp-alpha", "execution": {"queue": "q-d01"}}]


def test_only_fields_keeps_existing_parent_when_leaf_is_missing(collection):
    docs = get_all(collection, {"id": ["d01", "d02"], "order_by": ["id"], "only_fields": ["execution.nope"]})
    assert docs == [{"id": "d01", "execution": {}}, {"id": "d02", "execution": {}}]


def test_only_fields_missing_parent_is_not_invented(collection):
    docs = get_all(collection, {"id": ["d01"], "only_fields": ["models.input", "tags"]})
    assert docs == [{"id": "d01", "tags": ["a", "b"]}]
