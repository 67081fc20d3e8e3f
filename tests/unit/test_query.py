"""The ClearML ``get_all`` query language as pure functions: filters, sorts, paging and projections.

Expected filters are compared after :func:`canon`, which orders the branches of ``$and``/``$or`` (their order
carries no meaning), so the tables state the semantics, not an incidental ordering.
"""
from __future__ import annotations

import pytest

from trackside.shared.storage.query import (
    DEFAULT_PAGE_SIZE,
    QueryError,
    QuerySpec,
    build_filter,
    list_field_filter,
    mongo_projection,
    paging,
    sort_spec,
    trim,
)


def canon(value):
    """Order-insensitive form of a filter: ``$and``/``$or`` branch lists are sorted."""
    if isinstance(value, dict):
        return {k: (sorted((canon(v) for v in vs), key=repr) if k in ("$and", "$or") else canon(vs))
                for k, vs in value.items()}
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def IN(*values):
    return {"tags": {"$in": list(values)}}


def ALL(*values):
    return {"tags": {"$all": list(values)}}


def NIN(*values):
    return {"tags": {"$nin": list(values)}}


EMPTY = [{"tags": {"$exists": False}}, {"tags": []}, {"tags": None}]


# -- list fields: operators -------------------------------------------------------------------------------

LIST_FIELD_CASES = [
    # plain values are OR-ed
    ("single", ["a"], IN("a")),
    ("scalar-is-a-list-of-one", "a", IN("a")),
    ("tuple", ("b", "a"), IN("a", "b")),
    ("or-by-default", ["b", "a"], IN("a", "b")),
    ("duplicates-collapse", ["a", "a", "b"], IN("a", "b")),
    ("empty-list-no-filter", [], {}),
    ("empty-string-is-a-value", [""], IN("")),
    # AND / OR contexts
    ("all", ["__$all", "a", "b"], ALL("a", "b")),
    ("and-is-all", ["__$and", "a", "b"], ALL("a", "b")),
    ("any", ["__$any", "a", "b"], IN("a", "b")),
    ("or-is-any", ["__$or", "a", "b"], IN("a", "b")),
    ("all-single", ["__$all", "a"], ALL("a")),
    ("operator-only", ["__$all"], {}),
    # exclusion
    ("not", ["__$not", "a"], NIN("a")),
    ("not-applies-to-next-only", ["__$not", "a", "b"], {"$and": [IN("b"), NIN("a")]}),
    ("not-in-all-context-is-nin", ["__$all", "__$not", "a"], NIN("a")),
    ("all-and-not", ["__$all", "a", "b", "__$not", "c"], {"$and": [ALL("a", "b"), NIN("c")]}),
    ("any-or-not", ["__$any", "a", "__$not", "c"], {"$or": [IN("a"), NIN("c")]}),
    ("not-keeps-dash", ["__$not", "-a"], NIN("-a")),
    # legacy "-x" exclusion: on until an operator is used, back after __$nop
    ("legacy-exclude", ["-a"], NIN("a")),
    ("legacy-exclude-several", ["-a", "-b"], NIN("a", "b")),
    ("legacy-include-and-exclude", ["a", "-b"], {"$and": [IN("a"), NIN("b")]}),
    ("legacy-off-after-operator", ["__$all", "-a"], ALL("-a")),
    ("legacy-off-after-any", ["__$any", "-a", "b"], IN("-a", "b")),
    ("nop-restores-legacy", ["__$all", "a", "__$nop", "-b"], {"$and": [ALL("a"), NIN("b")]}),
    ("nop-restores-or-context", ["__$all", "a", "__$nop", "b", "c"], {"$and": [ALL("a"), IN("b", "c")]}),
    ("nop-cancels-not", ["__$not", "__$nop", "a"], IN("a")),
    ("dash-in-the-middle-is-a-value", ["a-b"], IN("a-b")),
    # the first operator is the global one combining the buckets
    ("global-and-first", ["__$all", "a", "__$any", "b"], {"$and": [ALL("a"), IN("b")]}),
    ("global-or-first", ["__$any", "a", "__$all", "b", "c"], {"$or": [IN("a"), ALL("b", "c")]}),
    ("global-or-with-all-buckets", ["__$or", "a", "__$and", "b", "__$not", "c"],
     {"$or": [IN("a"), ALL("b"), NIN("c")]}),
    # null: empty or missing
    ("null-only", [None], {"$or": EMPTY}),
    ("null-scalar", None, {"$or": EMPTY}),
    ("null-or-value", [None, "a"], {"$or": [IN("a"), *EMPTY]}),
    ("value-or-null", ["a", None], {"$or": [IN("a"), *EMPTY]}),
    ("null-with-all", ["__$all", "a", "b", None], {"$or": [ALL("a", "b"), *EMPTY]}),
    ("null-with-exclusion", ["-a", None], {"$or": [NIN("a"), *EMPTY]}),
    ("null-cancels-not", ["__$not", None, "a"], {"$or": [IN("a"), *EMPTY]}),
    ("null-with-two-buckets", [None, "__$all", "a", "__$not", "b"],
     {"$or": [{"$and": [ALL("a"), NIN("b")]}, *EMPTY]}),
]


@pytest.mark.parametrize("values, expected", [c[1:] for c in LIST_FIELD_CASES], ids=[c[0] for c in LIST_FIELD_CASES])
def test_list_field_filter(values, expected):
    assert canon(list_field_filter("tags", values)) == canon(expected)


# The first term fixes how groups combine: a value, null or __$nop before any operator means AND.

@pytest.mark.parametrize(
    "values, expected",
    [
        (["-x", "__$or", "a"], {"$and": [IN("a"), NIN("x")]}),
        (["__$not", "x", "__$any", "a", "b"], {"$and": [IN("a", "b"), NIN("x")]}),
        (["a", "__$any", "__$not", "b"], {"$and": [IN("a"), NIN("b")]}),
        ([None, "__$or", "a", "__$not", "b"], {"$or": [{"$and": [IN("a"), NIN("b")]}, *EMPTY]}),
        (["__$nop", "__$or", "a", "__$not", "b"], {"$and": [IN("a"), NIN("b")]}),
    ],
    ids=["legacy-exclude-then-or", "not-then-any", "value-then-any-not", "null-then-or", "nop-then-or"],
)
def test_list_field_global_operator_fixed_by_first_term(values, expected):
    assert canon(list_field_filter("tags", values)) == canon(expected)


def test_list_field_filter_uses_doc_field():
    assert list_field_filter("id", ["a"], doc_field="_id") == {"_id": {"$in": ["a"]}}
    assert canon(list_field_filter("system_tags", [None], doc_field="system_tags")) == canon(
        {"$or": [{"system_tags": {"$exists": False}}, {"system_tags": []}, {"system_tags": None}]}
    )


def test_list_field_filter_dotted_field():
    assert list_field_filter("execution.queue", ["q1"]) == {"execution.queue": {"$in": ["q1"]}}


LIST_FIELD_ERRORS = [
    ("int-value", [1], "expected a list of strings"),
    ("int-among-strings", ["a", 2], "expected a list of strings"),
    ("dict-value", [{"a": 1}], "expected a list of strings"),
    ("bool-value", [True], "expected a list of strings"),
    ("scalar-int", 5, "expected a list of strings"),
    ("unknown-operator", ["__$xx", "a"], "unsupported operator"),
    ("unknown-operator-after-values", ["a", "__$nor"], "unsupported operator"),
    ("not-at-the-end", ["a", "__$not"], "a value is expected after __$not"),
    ("not-only", ["__$not"], "a value is expected after __$not"),
    ("operator-after-not", ["__$not", "__$all", "a"], "a value is expected after __$not"),
    ("not-not", ["__$not", "__$not", "a"], "a value is expected after __$not"),
    ("bare-dash", ["-"], "missing value after the exclude prefix"),
    ("bare-dash-after-nop", ["__$all", "a", "__$nop", "-"], "missing value after the exclude prefix"),
]


@pytest.mark.parametrize("values, message", [c[1:] for c in LIST_FIELD_ERRORS], ids=[c[0] for c in LIST_FIELD_ERRORS])
def test_list_field_errors(values, message):
    with pytest.raises(QueryError) as info:
        list_field_filter("tags", values)
    assert info.value.field == "tags"
    assert info.value.regex is False
    assert message in str(info.value)
    assert str(info.value).startswith("tags: ")


def test_query_error_is_a_value_error():
    assert issubclass(QueryError, ValueError)


# -- build_filter -----------------------------------------------------------------------------------------

SPEC = QuerySpec()
FILTER_CASES = [
    ("no-params", {}, {}),
    ("unknown-keys-ignored", {"whatever": 1, "page": 2, "only_fields": ["x"]}, {}),
    ("none-values-ignored", {"name": None, "tags": None}, {}),
    ("name-regex", {"name": "^exp.*1$"}, {"name": {"$regex": "^exp.*1$"}}),
    # PCRE's inline flag after the anchor (the custom-apps docs' project filter), moved first for Python's re
    ("name-regex-flags-after-anchor", {"name": "^(?i)(?!example).*$"}, {"name": {"$regex": "(?i)^(?!example).*$"}}),
    ("id-renamed", {"id": ["a", "b"]}, {"_id": {"$in": ["a", "b"]}}),
    ("id-scalar", {"id": "a"}, {"_id": {"$in": ["a"]}}),
    ("tags", {"tags": ["x", "-y"]}, {"$and": [IN("x"), NIN("y")]}),
    ("empty-tags-ignored", {"tags": []}, {}),
    ("system-tags", {"system_tags": ["__$not", "archived"]}, {"system_tags": {"$nin": ["archived"]}}),
    ("name-and-tags", {"name": "exp", "tags": ["__$all", "a", "b"]},
     {"$and": [{"name": {"$regex": "exp"}}, ALL("a", "b")]}),
    ("name-and-null-system-tags", {"name": "e", "system_tags": [None]},
     {"$and": [{"name": {"$regex": "e"}},
               {"$or": [{"system_tags": {"$exists": False}}, {"system_tags": []}, {"system_tags": None}]}]}),
    ("any-pattern", {"_any_": {"pattern": "x", "fields": ["name", "comment"]}},
     {"$or": [{"name": {"$regex": "x", "$options": "i"}}, {"comment": {"$regex": "x", "$options": "i"}}]}),
    ("all-pattern", {"_all_": {"pattern": "x", "fields": ["name", "id"]}},
     {"$and": [{"name": {"$regex": "x", "$options": "i"}}, {"_id": {"$regex": "x", "$options": "i"}}]}),
    ("empty-any-ignored", {"_any_": {}}, {}),
]


@pytest.mark.parametrize("params, expected", [c[1:] for c in FILTER_CASES], ids=[c[0] for c in FILTER_CASES])
def test_build_filter(params, expected):
    assert canon(build_filter(params, SPEC)) == canon(expected)


def test_build_filter_with_custom_spec():
    spec = QuerySpec(
        pattern_fields=("name", "comment"), list_fields=("id", "tags", "user"), plain_fields=("status", "type"),
        renames={"id": "_id", "user": "user_id"},
    )
    params = {"comment": "c", "user": ["u1"], "status": "created", "type": None}
    assert canon(build_filter(params, spec)) == canon({"$and": [
        {"comment": {"$regex": "c"}}, {"user_id": {"$in": ["u1"]}}, {"status": "created"},
    ]})


FILTER_ERRORS = [
    ("bad-name-regex", {"name": "("}, "name", True),
    ("bad-name-regex-bracket", {"name": "[a-"}, "name", True),
    ("name-not-a-string", {"name": 5}, "name", False),
    ("tags-not-strings", {"tags": [1]}, "tags", False),
    ("tags-unknown-operator", {"tags": ["__$xx"]}, "tags", False),
    ("id-not-at-end", {"id": ["__$not"]}, "id", False),
    ("any-not-a-dict", {"_any_": "x"}, "_any_", False),
    ("any-fields-not-a-list", {"_any_": {"pattern": "x", "fields": "name"}}, "_any_", False),
    ("any-bad-regex", {"_any_": {"pattern": "(", "fields": ["name"]}}, "_any_.pattern", True),
    ("all-bad-regex", {"_all_": {"pattern": "*", "fields": ["name"]}}, "_all_.pattern", True),
]


@pytest.mark.parametrize("params, field, regex", [c[1:] for c in FILTER_ERRORS], ids=[c[0] for c in FILTER_ERRORS])
def test_build_filter_errors(params, field, regex):
    with pytest.raises(QueryError) as info:
        build_filter(params, SPEC)
    assert info.value.field == field
    assert info.value.regex is regex


# -- sort_spec --------------------------------------------------------------------------------------------

SORT_CASES = [
    ("none", None, None, []),
    ("one-field", ["name"], None, [("name", 1), ("_id", 1)]),
    ("descending", ["-last_update"], None, [("last_update", -1), ("_id", 1)]),
    ("several", ["-last_update", "name"], None, [("last_update", -1), ("name", 1), ("_id", 1)]),
    ("string", "name", None, [("name", 1), ("_id", 1)]),
    ("id-renamed-not-repeated", ["-id"], None, [("_id", -1)]),
    ("id-in-the-middle", ["name", "id", "x"], None, [("name", 1), ("_id", 1), ("x", 1)]),
    ("dotted", ["-execution.queue"], None, [("execution.queue", -1), ("_id", 1)]),
    ("custom-rename", ["-user"], {"user": "user_id"}, [("user_id", -1), ("_id", 1)]),
]


@pytest.mark.parametrize("order_by, renames, expected", [c[1:] for c in SORT_CASES], ids=[c[0] for c in SORT_CASES])
def test_sort_spec(order_by, renames, expected):
    assert sort_spec(order_by, renames) == expected


@pytest.mark.parametrize(
    "order_by",
    [[1], ["name", 2], {"name": 1}, 5, ["-"], [""], ("name",), [None]],
    ids=["int-item", "mixed", "dict", "int", "bare-dash", "empty-name", "tuple", "none-item"],
)
def test_sort_spec_errors(order_by):
    with pytest.raises(QueryError) as info:
        sort_spec(order_by)
    assert info.value.field == "order_by"
    assert info.value.regex is False


# -- paging -----------------------------------------------------------------------------------------------

PAGING_CASES = [
    ("defaults", {}, (0, DEFAULT_PAGE_SIZE)),
    ("explicit-none", {"page": None, "page_size": None}, (0, DEFAULT_PAGE_SIZE)),
    ("first-page", {"page": 0, "page_size": 10}, (0, 10)),
    ("third-page", {"page": 2, "page_size": 10}, (20, 10)),
    ("page-only", {"page": 3}, (3 * DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE)),
    ("page-size-only", {"page_size": 1}, (0, 1)),
]


@pytest.mark.parametrize("params, expected", [c[1:] for c in PAGING_CASES], ids=[c[0] for c in PAGING_CASES])
def test_paging(params, expected):
    assert paging(params) == expected


@pytest.mark.parametrize(
    "params, field",
    [
        ({"page": -1}, "page"),
        ({"page": "1"}, "page"),
        ({"page": 1.5}, "page"),
        ({"page": True}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": -5}, "page_size"),
        ({"page_size": "10"}, "page_size"),
        ({"page_size": False}, "page_size"),
        ({"page": 0, "page_size": 0}, "page_size"),
    ],
    ids=["page-negative", "page-string", "page-float", "page-bool", "size-zero", "size-negative", "size-string",
         "size-bool", "page-ok-size-zero"],
)
def test_paging_errors(params, field):
    with pytest.raises(QueryError) as info:
        paging(params)
    assert info.value.field == field


# -- only_fields: mongo_projection + trim -------------------------------------------------------------------

PROJECTION_CASES = [
    ("none", None, None, None),
    ("empty", [], None, None),
    ("one", ["name"], None, {"name": 1, "_id": 1}),
    ("id-only", ["id"], None, {"_id": 1}),
    ("leaves-project-their-root", ["execution.parameters.lr", "execution.queue", "name"], None,
     {"execution": 1, "name": 1, "_id": 1}),
    ("rename", ["user.name"], {"user": "user_id"}, {"user_id": 1, "_id": 1}),
]


@pytest.mark.parametrize(
    "only_fields, renames, expected", [c[1:] for c in PROJECTION_CASES], ids=[c[0] for c in PROJECTION_CASES]
)
def test_mongo_projection(only_fields, renames, expected):
    assert mongo_projection(only_fields, renames) == expected


DOC = {
    "id": "t1",
    "name": "exp",
    "status": "created",
    "execution": {"queue": "q1", "parameters": {"lr": 0.1, "batch": 32}},
    "script": None,
    "comment": 5,
    "hyperparams": {"Args": {"lr": {"value": "0.1", "type": "float"}}},
}

TRIM_CASES = [
    ("no-only-fields", None, DOC),
    ("empty-only-fields", [], DOC),
    ("one-field-keeps-id", ["name"], {"id": "t1", "name": "exp"}),
    ("id-only", ["id"], {"id": "t1"}),
    ("missing-field", ["nope"], {"id": "t1"}),
    ("leaf", ["execution.queue"], {"id": "t1", "execution": {"queue": "q1"}}),
    ("deep-leaf", ["execution.parameters.lr"], {"id": "t1", "execution": {"parameters": {"lr": 0.1}}}),
    ("sibling-leaves-merge", ["execution.queue", "execution.parameters.batch"],
     {"id": "t1", "execution": {"queue": "q1", "parameters": {"batch": 32}}}),
    ("whole-sub-document", ["execution"], {"id": "t1", "execution": DOC["execution"]}),
    ("leaf-then-whole", ["execution.queue", "execution"], {"id": "t1", "execution": DOC["execution"]}),
    ("missing-leaf-keeps-existing-parent", ["execution.nope"], {"id": "t1", "execution": {}}),
    ("missing-middle-keeps-existing-parent", ["execution.nope.deeper"], {"id": "t1", "execution": {}}),
    ("missing-leaf-keeps-nested-parents", ["hyperparams.Args.nope"], {"id": "t1", "hyperparams": {"Args": {}}}),
    ("missing-parent-not-created", ["models.input"], {"id": "t1"}),
    ("null-parent-omitted", ["script.diff"], {"id": "t1"}),
    ("scalar-parent-omitted", ["comment.text"], {"id": "t1"}),
    ("null-leaf-kept", ["script"], {"id": "t1", "script": None}),
]


@pytest.mark.parametrize("only_fields, expected", [c[1:] for c in TRIM_CASES], ids=[c[0] for c in TRIM_CASES])
def test_trim(only_fields, expected):
    assert trim(DOC, only_fields) == expected


def test_trim_without_id():
    assert trim({"name": "x", "a": 1}, ["name"]) == {"name": "x"}


def test_trim_does_not_modify_the_document():
    import copy

    doc = copy.deepcopy(DOC)
    trim(doc, ["execution.queue", "execution.nope", "hyperparams.Args.lr.value"])
    assert doc == DOC


def test_trim_descends_into_lists_of_sub_documents():
    doc = {"id": "t1", "models": {"input": [{"model": "m1", "name": "a"}, {"model": "m2", "name": "b"}]}}
    assert trim(doc, ["models.input.model"]) == {"id": "t1", "models": {"input": [{"model": "m1"}, {"model": "m2"}]}}
