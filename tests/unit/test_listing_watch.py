"""Which writes invalidate the listing summaries (bll/listing_watch.py) and what a summary holds
(bll/listing_summaries.py summarize)."""
from __future__ import annotations

import pytest

from trackside.api.bll.listing_summaries import VALUES_CAP, metric_entry, summarize
from trackside.api.bll.listing_watch import _destination, added_tags, listed_kinds


@pytest.mark.parametrize("update, kinds", [
    ({"$set": {"tags": ["a"]}}, {"tags"}), ({"$addToSet": {"system_tags": "archived"}}, {"system_tags"}),
    ({"$pullAll": {"tags": ["a"]}, "$set": {"last_update": 1}}, {"tags"}),
    ({"$set": {"project": "p"}}, {"tags", "system_tags", "users", "metrics", "params"}),
    ({"$set": {"hyperparams.Args.lr": {"value": "1"}}}, {"params"}), ({"$unset": {"hyperparams.Args": 1}}, {"params"}),
    ({"$set": {"last_metrics": {}, "last_iteration": 0}}, {"metrics"}),
    ({"$unset": {"last_metrics.m1.v1": 1}}, {"metrics"}),
    ({"name": "a replacement"}, {"tags", "system_tags", "users", "metrics", "params"}),
    ([{"$set": {"tags": []}}], {"tags", "system_tags", "users", "metrics", "params"}),
])
def test_writes_of_listed_fields_name_the_lists_they_change(update, kinds):
    assert listed_kinds(update) == kinds


def test_added_tags_extend_in_place_only_when_nothing_else_listed_changes():
    assert added_tags({"$addToSet": {"system_tags": "archived"}, "$set": {"status_reason": ""}}) == {
        "system_tags": ["archived"]}
    assert added_tags({"$addToSet": {"tags": {"$each": ["a", "b"]}}}) == {"tags": ["a", "b"]}
    assert added_tags({"$addToSet": {"tags": "a"}, "$set": {"project": "p"}}) is None
    assert added_tags({"$pull": {"tags": "a"}}) is None


@pytest.mark.parametrize("update", [
    {"$set": {"status": "stopped", "last_update": 1}}, {"$max": {"last_iteration": 3}},
    {"$set": {"last_metrics.m1.v1.value": 1.0, "last_metrics.m1.v1.metric": "loss"}},  # a series' own fields
    {"$inc": {"last_metrics.m1.v1.count": 2}}, {"$set": {"execution.queue": "q"}},
])
def test_other_writes_change_no_list(update):
    assert listed_kinds(update) == set()


def test_destination_of_a_move():
    assert _destination({"$set": {"project": None, "last_update": 1}}) == [None]
    assert _destination({"$set": {"name": "x"}}) == []
    assert _destination({"name": "replaced", "project": "p"}) == ["p"]


def test_summarize_lists_each_value_once_with_the_first_hashes():
    docs = [
        {"tags": ["b", "a"], "system_tags": ["archived"], "user": "u1",
         "last_metrics": {"m1": {"v1": {"metric": "loss", "variant": "train", "value": 1}}},
         "hyperparams": {"Args": {"lr": {"section": "Args", "name": "lr", "value": "0.1"}}}},
        {"tags": ["a"], "user": "u2", "last_metrics": {"m1": {"v2": {"metric": "loss", "variant": "val"}}},
         "hyperparams": {"Args": {"lr": {"value": "0.2"}}, "a%2Eb": {"c": {"value": 3}}}},  # items without names
    ]
    summary = summarize(docs)
    assert summary["tags"] == ["a", "b"] and summary["system_tags"] == ["archived"] and summary["users"] == ["u1", "u2"]
    assert summary["metrics"] == [metric_entry("loss", "m1", "train", "v1"), metric_entry("loss", "m1", "val", "v2")]
    assert summary["params"] == [["Args", "lr"], ["a.b", "c"]]
    assert sorted(map(tuple, summary["values"]), key=str) == [("Args", "lr", "0.1"), ("Args", "lr", "0.2"),
                                                              ("a.b", "c", 3)]


def test_too_many_values_are_not_kept():
    docs = [{"hyperparams": {"General": {"seed": {"section": "General", "name": "seed", "value": i}}}}
            for i in range(VALUES_CAP + 5)]
    summary = summarize(docs)
    assert summary["values_overflow"] and summary["values"] == [] and summary["params"] == [["General", "seed"]]
