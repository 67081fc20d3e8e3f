"""The reference's richer get_all conditions as pure functions: ranges, date conditions, ``filters`` objects,
``_any_``/``_all_`` over dates, wildcard fields, the empty-values-last split, scroll windows and the page cap."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from trackside.shared.storage.query import (
    MAX_PAGE_SIZE, QueryError, QuerySpec, build_filter, datetime_filter, list_filter_object, null_split, paging,
    parse_date, range_filter, scroll_window,
)

JAN = datetime(2024, 1, 1, tzinfo=timezone.utc)
FEB = datetime(2024, 2, 1, tzinfo=timezone.utc)
SPEC = QuerySpec(
    list_fields=("id", "tags", "hyperparams.*"),
    range_fields=("created", "last_iteration", "last_metrics.*"),
    datetime_fields=("last_update",),
    date_fields=frozenset({"created"}),
    plain_fields=("runtime.*",),
)


# -- ranges ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, dates, expected", [
    ([1, 5], False, {"x": {"$gte": 1, "$lte": 5}}),
    (["1", "2.5"], False, {"x": {"$gte": 1, "$lte": 2.5}}),
    ([3, None], False, {"x": {"$gte": 3}}),
    ([None, 3], False, {"$or": [{"x": {"$lte": 3}}, {"x": None}]}),
    (["2024-01-01", "2024-02-01T00:00:00+00:00"], True, {"x": {"$gte": JAN, "$lte": FEB}}),
])
def test_range_filter(value, dates, expected):
    assert range_filter("x", value, dates=dates) == expected


@pytest.mark.parametrize("value, dates", [(5, False), ([1], False), ([1, 2, 3], False), ([None, None], False),
                                          (["not a date", None], True)])
def test_range_filter_errors(value, dates):
    with pytest.raises(QueryError) as info:
        range_filter("x", value, dates=dates)
    assert info.value.field == "x"


# -- dates ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ([">=2024-01-01", "<2024-02-01"], {"d": {"$gte": JAN, "$lt": FEB}}),
    (">2024-01-01", {"d": {"$gt": JAN}}),
    (["<=2024-01-01"], {"d": {"$lte": JAN}}),
    ("2024-01-01", {"d": JAN}),
    (["2024-01-01", "2024-02-01"], {"d": {"$gte": JAN, "$lte": FEB}}),
    ([None, "2024-02-01"], {"$or": [{"d": {"$lte": FEB}}, {"d": None}]}),
    ([">=garbage"], {}),
    ([">=garbage", "<2024-02-01"], {"d": {"$lt": FEB}}),
])
def test_datetime_filter(value, expected):
    assert datetime_filter("d", value) == expected


def test_datetime_filter_refuses_non_strings():
    with pytest.raises(QueryError):
        datetime_filter("d", [5])


@pytest.mark.parametrize("text, expected", [
    ("2024-01-01", JAN), ("2024-01-01T00:00:00Z", JAN), ("2024-01-01 02:00:00+02:00", JAN), ("nope", None),
    ("", None), (5, None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


# -- filters objects ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    ({"any": {"include": ["a", "b"]}}, {"t": {"$in": ["a", "b"]}}),
    ({"any": {"exclude": ["a", "b"]}}, {"t": {"$not": {"$all": ["a", "b"]}}}),
    ({"all": {"include": ["a"], "exclude": ["b"]}}, {"$and": [{"t": {"$all": ["a"]}}, {"t": {"$nin": ["b"]}}]}),
    ({"any": {"include": ["a", None]}}, {"$or": [{"t": {"$size": 0}}, {"t": {"$in": ["a"]}}]}),
    ({"any": {"include": ["a"]}, "all": {"exclude": ["b"]}, "op": "or"},
     {"$or": [{"t": {"$in": ["a"]}}, {"t": {"$nin": ["b"]}}]}),
    ({}, {}),
])
def test_list_filter_object(value, expected):
    assert list_filter_object("t", value) == expected


@pytest.mark.parametrize("value", ["x", {"op": "xor"}, {"any": ["a"]}, {"all": {"include": "a"}},
                                   {"all": {"include": [1]}}])
def test_list_filter_object_errors(value):
    with pytest.raises(QueryError) as info:
        list_filter_object("t", value)
    assert info.value.validation  # the reference's ValidationError (400/12)


def test_filters_win_over_the_plain_list_form():
    params = {"tags": ["x"], "filters": {"tags": {"all": {"include": ["y"]}}}}
    assert build_filter(params, SPEC) == {"tags": {"$all": ["y"]}}


# -- build_filter with the new kinds ----------------------------------------------------------------------------
def test_build_filter_wildcards_ranges_and_dates():
    params = {
        "hyperparams.Args.lr.value": "0.1",
        "last_metrics.a.b.value": ["0.5", None],
        "created": ["2024-01-01", None],
        "last_update": [">=2024-02-01"],
        "runtime.gpu": "A100",
        "unrelated.key": 1,
    }
    clauses = build_filter(params, SPEC)["$and"]
    assert {"hyperparams.Args.lr.value": {"$in": ["0.1"]}} in clauses
    assert {"last_metrics.a.b.value": {"$gte": 0.5}} in clauses
    assert {"created": {"$gte": JAN}} in clauses
    assert {"last_update": {"$gte": FEB}} in clauses
    assert {"runtime.gpu": "A100"} in clauses
    assert len(clauses) == 5


def test_any_all_with_datetime_uses_date_fields_only():
    params = {"_any_": {"datetime": ">=2024-01-01", "fields": ["last_update", "name"]}}
    assert build_filter(params, SPEC) == {"last_update": {"$gte": JAN}}


@pytest.mark.parametrize("value", [{"fields": ["name"]}, {"pattern": "x", "datetime": "y", "fields": ["name"]},
                                   {"pattern": "x"}])
def test_any_all_format_errors_are_validation_errors(value):
    with pytest.raises(QueryError) as info:
        build_filter({"_any_": value}, SPEC)
    assert info.value.validation


# -- ordering, scrolling, paging ------------------------------------------------------------------------------
def test_null_split_only_for_an_ascending_first_key():
    assert null_split([("comment", 1), ("_id", 1)]) == ({"comment": {"$nin": [None, "", []]}},
                                                        {"comment": {"$in": [None, "", []]}})
    assert null_split([("comment", -1), ("_id", 1)]) is None
    assert null_split([("name", 1), ("_id", 1)]) is None  # always set
    assert null_split([("_id", 1)]) is None
    assert null_split([]) is None


@pytest.mark.parametrize("params, position, expected", [
    ({"size": 10}, 0, (0, 10)),
    ({"size": 10}, 30, (30, 10)),
    ({"size": 10, "refresh_scroll": True}, 30, (0, 30)),
    ({"size": 50, "refresh_scroll": True}, 30, (0, 50)),
])
def test_scroll_window(params, position, expected):
    assert scroll_window(params, position) == expected


@pytest.mark.parametrize("size", [None, 0, -1, "5", True])
def test_scroll_window_needs_a_size(size):
    with pytest.raises(QueryError) as info:
        scroll_window({"size": size}, 0)
    assert info.value.field == "size" and info.value.validation


def test_page_size_is_capped():
    assert paging({"page": 2, "page_size": 10_000}) == (2 * MAX_PAGE_SIZE, MAX_PAGE_SIZE)


def test_numeric_collation_for_user_value_fields():
    from trackside.shared.storage.query import NUMERIC_COLLATION, collation
    spec = QuerySpec(numeric_prefixes=("hyperparams.",))
    assert collation({}, [("hyperparams.a.b.value", 1)], spec) == NUMERIC_COLLATION
    assert collation({"hyperparams.a.b.value": ["1"]}, [], spec) == NUMERIC_COLLATION
    assert collation({"hyperparams.a.b.value": None}, [("name", 1)], spec) is None
    assert collation({}, [("name", 1), ("hyperparams.x", 1)], spec) is None
    assert collation({}, [("hyperparams.x", 1)], QuerySpec()) is None


@pytest.mark.parametrize("only_fields, expected", [
    (["-script"], {"id": "1", "name": "n", "execution": {"queue": "q", "args": "a"}}),
    (["-execution.args", "-script"], {"id": "1", "name": "n", "execution": {"queue": "q"}}),
    (["execution", "-execution.args"], {"id": "1", "execution": {"queue": "q"}}),
    (["name", "-"], {"id": "1", "name": "n"}),
])
def test_excluded_fields(only_fields, expected):
    from trackside.shared.storage.query import mongo_projection, trim
    doc = {"id": "1", "name": "n", "script": {"x": 1}, "execution": {"queue": "q", "args": "a"}}
    before = copy.deepcopy(doc)
    assert trim(doc, only_fields) == expected
    assert doc == before
    assert mongo_projection(["-script"]) is None


def test_text_search_filter():
    from trackside.shared.storage.query import text_search_filter

    def word(field, term):
        return {field: {"$regex": "\\b" + term, "$options": "i"}}

    assert text_search_filter("a b", ["n"]) == {"$or": [word("n", "a"), word("n", "b")]}
    assert text_search_filter('a "b c" -d', ["n"]) == {"$and": [{"$or": [word("n", "b\\ c")]}, {"$nor": [word("n", "d")]}]}
    assert text_search_filter("", ["n"]) == {}
    with pytest.raises(QueryError):
        text_search_filter(["a"], ["n"])
