"""What every events backend must do, tested through the :class:`EventStore` interface only.

Expected results are computed here from the written events (Python sorting and filtering), so the same
assertions hold for any backend. See conftest.py for how backends are plugged in.
"""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from trackside.shared.events import (
    ASC, DESC, IMAGE, LOG, PLOT, SCALAR, VECTOR, EventFilter, SeriesInfo, complete_sort, normalise,
)

T0 = 1_700_000_000_000


def new_id() -> str:
    return uuid.uuid4().hex


def make(company: str, task: str, type_: str = SCALAR, **fields) -> dict:
    raw = {"type": type_, "task": task, "timestamp": T0, **fields}
    if type_ == SCALAR:
        raw.setdefault("value", 1.0)
    return normalise(raw, company)


def scalars(company: str, task: str, metric: str, variant: str, iters, value=lambda i: float(i), **fields):
    return [make(company, task, metric=metric, variant=variant, iter=i, value=value(i), timestamp=T0 + i, **fields)
            for i in iters]


def ids(events) -> list[str]:
    return [e["id"] for e in events]


def sort_key(event: dict, name: str):
    """Python's view of the contract order: a missing value sorts lowest."""
    value = event.get(name)
    return (value is not None, value if value is not None else 0)


def expected_order(events: list[dict], sort) -> list[str]:
    ordered = list(events)
    for name, order in reversed(complete_sort(sort)):
        ordered.sort(key=lambda e: sort_key(e, name), reverse=order == DESC)
    return ids(ordered)


def read_all(store, flt, sort, page_size: int, **kw) -> list[dict]:
    """Every matching event, page by page through ``after``."""
    events, after = [], None
    while True:
        page = store.search(flt, sort, page_size, after=after, **kw)
        events += page.events
        if len(page.events) < page_size:
            return events
        assert page.next_after is not None
        after = page.next_after


@pytest.fixture
def task() -> str:
    return new_id()


# -- writing ---------------------------------------------------------------------------------------------------
def test_written_events_read_back_in_normalised_form(store, company, task):
    events = [
        make(company, task, SCALAR, metric="loss", variant="train", iter=3, value=0.25, worker="vm"),
        make(company, task, VECTOR, metric="hist", variant="v", iter=3, values=[1, 2.5]),
        make(company, task, PLOT, metric="roc", variant="v", iter=3, plot_str='{"data": []}'),
        make(company, task, IMAGE, metric="img", variant="v", iter=3, key="a/b.jpg", url="http://f/a/b.jpg"),
        make(company, task, LOG, msg="hello", level="info"),
    ]
    result = store.write(events)
    assert result.created == frozenset(range(5)) and not result.failed
    found = store.search(EventFilter(company, [task]), [("id", ASC)], 100).events
    assert sorted(found, key=lambda e: e["id"]) == sorted(events, key=lambda e: e["id"])


def test_an_event_sent_again_replaces_its_earlier_copy(store, company, task):
    first = make(company, task, metric="m", variant="v", iter=1, value=1.0)
    assert store.write([first]).created == {0}
    again = make(company, task, metric="m", variant="v", iter=1, value=2.0)
    assert again["id"] == first["id"]
    result = store.write([again, make(company, task, metric="m", variant="v", iter=2)])
    assert result.created == {1} and not result.failed
    found = store.search(EventFilter(company, [task], types=[SCALAR]), [("iter", ASC)], 10).events
    assert [(e["iter"], e["value"]) for e in found] == [(1, 2.0), (2, 1.0)]


def test_log_lines_with_the_same_content_are_all_kept(store, company, task):
    lines = [make(company, task, LOG, msg="same") for _ in range(3)]
    assert store.write(lines).created == {0, 1, 2}
    assert store.count(EventFilter(company, [task], types=[LOG])) == 3


def test_writing_nothing(store):
    result = store.write([])
    assert result.created == frozenset() and not result.failed


def test_delete_for_tasks_removes_only_those_tasks_events(store, company):
    a, b, model = new_id(), new_id(), new_id()
    store.write([
        *scalars(company, a, "m", "v", range(3)), make(company, a, LOG, msg="x"),
        *scalars(company, b, "m", "v", range(2)),
        make(company, model, metric="m", variant="v", iter=1, model_event=True),
        make(company, a, metric="m", variant="v", iter=1, model_event=True),  # a model sharing a's id
    ])
    assert store.delete_for_tasks(company, [a]) == 4
    assert store.count(EventFilter(company, [a])) == 0
    assert store.count(EventFilter(company, [b])) == 2
    assert store.count(EventFilter(company, [a], model_events=True)) == 1
    assert store.delete_for_tasks(company, [model, a], model_events=True) == 2
    assert store.count(EventFilter(company, [model, a], model_events=True)) == 0
    assert store.delete_for_tasks(company, []) == 0


def test_delete_for_tasks_keeps_other_companies_events(store, company, task):
    other = new_id()
    store.write([make(company, task, LOG, msg="mine"), make(other, task, LOG, msg="theirs")])
    assert store.delete_for_tasks(company, [task]) == 1
    assert store.count(EventFilter(other, [task])) == 1


# -- filters ---------------------------------------------------------------------------------------------------
@pytest.fixture
def mixed(store, company):
    """Two tasks with scalars, plots, images and logs, plus a model event and another company's event."""
    a, b = new_id(), new_id()
    events = [
        *scalars(company, a, "loss", "train", range(0, 10)),
        *scalars(company, a, "loss", "val", range(0, 10, 2)),
        *scalars(company, a, "acc", "val", range(5)),
        *scalars(company, b, "loss", "train", range(3)),
        make(company, a, PLOT, metric="roc", variant="v", iter=4, plot_str="{}", timestamp=T0 + 4),
        make(company, a, IMAGE, metric="img", variant="v", iter=4, key="k1", url="u1", timestamp=T0 + 4),
        make(company, a, LOG, msg="first", timestamp=T0 - 5),
        make(company, a, LOG, msg="no iteration", timestamp=T0 + 100),
        make(company, a, metric="loss", variant="train", iter=1, model_event=True),
        make(new_id(), a, metric="loss", variant="train", iter=1),
    ]
    store.write(events)
    mine = [e for e in events if e["company"] == company and not e["model_event"]]
    return a, b, mine


def check_filter(store, flt, expected: list[dict]):
    found = store.search(flt, [("id", ASC)], 1000).events
    assert sorted(ids(found)) == sorted(ids(expected))
    assert store.count(flt) == len(expected)


def test_filter_by_tasks_and_company(store, company, mixed):
    a, b, events = mixed
    check_filter(store, EventFilter(company, [a]), [e for e in events if e["task"] == a])
    check_filter(store, EventFilter(company, [a, b]), events)
    check_filter(store, EventFilter(company, [new_id()]), [])
    check_filter(store, EventFilter(new_id(), [a, b]), [])


def test_filter_by_types(store, company, mixed):
    a, _, events = mixed
    check_filter(store, EventFilter(company, [a], types=[LOG]), [e for e in events if e["type"] == LOG])
    check_filter(store, EventFilter(company, [a], types=[PLOT, IMAGE]),
                 [e for e in events if e["type"] in (PLOT, IMAGE)])


def test_filter_by_model_events(store, company, mixed):
    a, _, _ = mixed
    found = store.search(EventFilter(company, [a], model_events=True), [("id", ASC)], 10).events
    assert [(e["model_event"], e["iter"]) for e in found] == [(True, 1)]


def test_filter_by_metrics_and_variants(store, company, mixed):
    a, _, events = mixed
    check_filter(store, EventFilter(company, [a], metrics={"loss": ["val"]}),
                 [e for e in events if e["task"] == a and (e["metric"], e["variant"]) == ("loss", "val")])
    check_filter(store, EventFilter(company, [a], metrics={"loss": [], "acc": ["val"]}),
                 [e for e in events if e["task"] == a and e["metric"] in ("loss", "acc")])
    check_filter(store, EventFilter(company, [a], metrics={"loss": ["train", "val"], "roc": []}),
                 [e for e in events if e["task"] == a and e["metric"] in ("loss", "roc")])
    check_filter(store, EventFilter(company, [a], metrics={"nothing": []}), [])


def test_filter_by_iteration_and_time(store, company, mixed):
    a, _, events = mixed
    mine = [e for e in events if e["task"] == a]
    check_filter(store, EventFilter(company, [a], iter_min=4, iter_max=6),
                 [e for e in mine if e.get("iter") is not None and 4 <= e["iter"] <= 6])
    check_filter(store, EventFilter(company, [a], iter_min=8), [e for e in mine if (e.get("iter") or -1) >= 8])
    check_filter(store, EventFilter(company, [a], timestamp_min=T0 + 4, timestamp_max=T0 + 100),
                 [e for e in mine if T0 + 4 <= e["timestamp"] <= T0 + 100])
    check_filter(store, EventFilter(company, [a], timestamp_max=T0 - 1), [e for e in mine if e["timestamp"] < T0])


def test_filter_narrowed_to_one_series_and_one_iteration(store, company, mixed):
    """The shape that reads one series from an index range: every bound is inclusive."""
    a, _, events = mixed
    one = EventFilter(company, [a], types=[SCALAR], metrics={"loss": ["train"]})
    check_filter(store, replace(one, iter_min=5, iter_max=5), [e for e in events if e["task"] == a and
                 (e["metric"], e["variant"], e.get("iter")) == ("loss", "train", 5)])
    check_filter(store, replace(one, iter_max=3), [e for e in events if e["task"] == a and
                 (e["metric"], e["variant"]) == ("loss", "train") and e["iter"] <= 3])
    check_filter(store, replace(one, timestamp_max=T0 + 2), [e for e in events if e["task"] == a and
                 (e["metric"], e["variant"]) == ("loss", "train") and e["timestamp"] <= T0 + 2])
    found = store.search(replace(one, iter_max=7), [("iter", DESC)], 2).events
    assert [e["iter"] for e in found] == [7, 6]


# -- sorting and paging ----------------------------------------------------------------------------------------
SORTS = [
    [("timestamp", ASC)],
    [("timestamp", DESC)],
    [("iter", ASC)],
    [("iter", DESC)],
    [("metric", ASC), ("variant", ASC), ("iter", DESC)],
    [("metric", DESC), ("variant", DESC), ("iter", ASC)],
    [("task", ASC), ("timestamp", DESC)],
    [("id", DESC)],
    [],
]


@pytest.mark.parametrize("sort", SORTS, ids=lambda s: ",".join(f"{n}{'+' if o > 0 else '-'}" for n, o in s) or "none")
def test_every_sort_in_one_page_and_paged(store, company, mixed, sort):
    a, b, events = mixed
    flt = EventFilter(company, [a, b])
    expected = expected_order(events, sort)
    assert ids(store.search(flt, sort, 1000).events) == expected
    assert ids(read_all(store, flt, sort, 7)) == expected
    assert ids(read_all(store, flt, sort, 1)) == expected


@pytest.mark.parametrize("sort", SORTS[:4], ids=lambda s: ",".join(f"{n}{'+' if o > 0 else '-'}" for n, o in s) or "none")
def test_several_tasks_and_types_merge_in_order(store, company, mixed, sort):
    """The Mongo backend asks one query per (task, type) pair (the embedded server scans for `$in`) and merges."""
    a, b, events = mixed
    flt = EventFilter(company, [a, b], types=[SCALAR, LOG, IMAGE])
    chosen = [e for e in events if e["type"] in (SCALAR, LOG, IMAGE)]
    expected = expected_order(chosen, sort)
    assert ids(store.search(flt, sort, 1000).events) == expected
    assert ids(read_all(store, flt, sort, 4)) == expected
    assert store.count(flt) == len(chosen)
    series = store.series(EventFilter(company, [a, b], types=[SCALAR, PLOT]))
    assert series[(a, "loss", "train")].count == 10 and series[(a, "roc", "v")].count == 1


def test_paging_backward_from_a_cursor(store, company, mixed):
    """Forward pages, then back from the middle with the opposite sort: the caller reverses it."""
    a, _, events = mixed
    flt = EventFilter(company, [a], types=[SCALAR])
    forward = [("iter", ASC), ("metric", ASC), ("variant", ASC), ("id", ASC)]
    first = store.search(flt, forward, 10)
    second = store.search(flt, forward, 10, after=first.next_after)
    backward = [(name, DESC) for name, _ in forward]
    cursor = tuple(_key(second.events[0], forward))
    back = store.search(flt, backward, 10, after=cursor)
    assert list(reversed(ids(back.events))) == ids(first.events)


def _key(event: dict, sort) -> list:
    return [event.get(name) for name, _ in sort]


def test_next_after_is_the_last_events_sort_key(store, company, mixed):
    a, _, _ = mixed
    sort = [("metric", ASC), ("iter", DESC)]
    page = store.search(EventFilter(company, [a], types=[SCALAR]), sort, 3)
    assert page.next_after == tuple(_key(page.events[-1], complete_sort(sort)))


def test_missing_iterations_sort_lowest_in_both_directions(store, company, mixed):
    a, _, events = mixed
    flt = EventFilter(company, [a])
    no_iter = {e["id"] for e in events if e["task"] == a and e.get("iter") is None}
    assert len(no_iter) == 2
    up = ids(read_all(store, flt, [("iter", ASC)], 1))
    down = ids(read_all(store, flt, [("iter", DESC)], 1))
    assert set(up[:2]) == no_iter and set(down[-2:]) == no_iter


def test_empty_results_and_zero_limit(store, company, mixed):
    a, _, _ = mixed
    empty = store.search(EventFilter(company, [new_id()]), [("timestamp", ASC)], 10)
    assert empty.events == [] and empty.next_after is None
    assert store.search(EventFilter(company, [a]), [("timestamp", ASC)], 0).events == []
    last = store.search(EventFilter(company, [a]), [("timestamp", DESC)], 1)
    past_the_end = store.search(EventFilter(company, [a]), [("timestamp", ASC)], 10,
                                after=(last.events[0]["timestamp"], last.events[0]["id"]))
    assert past_the_end.events == []


def test_unknown_sort_field_is_refused(store, company):
    with pytest.raises(ValueError):
        store.search(EventFilter(company, [new_id()]), [("value", ASC)], 1)


# -- projection, counting, series ------------------------------------------------------------------------------
def test_fields_limit_the_returned_keys(store, company, mixed):
    a, _, _ = mixed
    found = store.search(EventFilter(company, [a], types=[SCALAR]), [("iter", DESC)], 3, fields=["iter", "value"])
    assert [set(e) for e in found.events] == [{"id", "iter", "value"}] * 3
    assert [e["iter"] for e in found.events] == [9, 8, 8]
    # sort fields left out of ``fields`` still page correctly
    plain = store.search(EventFilter(company, [a], types=[LOG]), [("timestamp", ASC)], 1, fields=["msg"])
    assert set(plain.events[0]) == {"id", "msg"} and plain.next_after[0] == T0 - 5


def test_series_counts_and_ranges(store, company, mixed):
    a, b, _ = mixed
    assert store.series(EventFilter(company, [a, b], types=[SCALAR])) == {
        (a, "loss", "train"): SeriesInfo(10, 9, 0, T0, T0 + 9),
        (a, "loss", "val"): SeriesInfo(5, 8, 0, T0, T0 + 8),
        (a, "acc", "val"): SeriesInfo(5, 4, 0, T0, T0 + 4),
        (b, "loss", "train"): SeriesInfo(3, 2, 0, T0, T0 + 2),
    }
    assert store.series(EventFilter(company, [a], types=[LOG])) == {
        (a, "", ""): SeriesInfo(2, None, None, T0 - 5, T0 + 100),
    }
    assert store.series(EventFilter(company, [a], types=[PLOT, IMAGE], metrics={"img": []})) == {
        (a, "img", "v"): SeriesInfo(1, 4, 4, T0 + 4, T0 + 4),
    }
    assert store.series(EventFilter(company, [new_id()])) == {}


def test_series_respects_iteration_bounds(store, company, mixed):
    a, _, _ = mixed
    found = store.series(EventFilter(company, [a], types=[SCALAR], metrics={"loss": []}, iter_min=2, iter_max=5))
    assert found == {(a, "loss", "train"): SeriesInfo(4, 5, 2, T0 + 2, T0 + 5),
                     (a, "loss", "val"): SeriesInfo(2, 4, 2, T0 + 2, T0 + 4)}


def test_series_of_negative_and_huge_iterations(store, company, task):
    store.write([make(company, task, metric="m", variant="v", iter=-2**31, timestamp=T0),
                 make(company, task, metric="m", variant="v", iter=2**62, timestamp=T0 + 1)])
    assert store.series(EventFilter(company, [task])) == {(task, "m", "v"): SeriesInfo(2, 2**62, -2**31, T0, T0 + 1)}
    found = store.search(EventFilter(company, [task], iter_min=-2**31 + 1), [("iter", ASC)], 10).events
    assert [e["iter"] for e in found] == [2**62]


def test_delete_removes_only_the_filtered_events(store, company):
    a, b = new_id(), new_id()
    logs = [make(company, a, LOG, msg=str(i), metric="m" if i % 2 else "", timestamp=T0 + i) for i in range(6)]
    store.write([*logs, *scalars(company, a, "m", "v", range(2)), make(company, b, LOG, msg="other")])
    old = EventFilter(company, [a], types=[LOG], timestamp_max=T0 + 3)
    assert store.delete(replace(old, metrics={"m": []})) == 2  # timestamps 1 and 3
    assert store.count(EventFilter(company, [a], types=[LOG])) == 4
    assert store.delete(old) == 2
    assert sorted(e["msg"] for e in read_all(store, EventFilter(company, [a], types=[LOG]), [("timestamp", ASC)], 10)) \
        == ["4", "5"]
    assert store.count(EventFilter(company, [a], types=[SCALAR])) == 2
    assert store.count(EventFilter(company, [b])) == 1
    with pytest.raises(ValueError):
        store.delete(EventFilter(company, []))


def test_log_lines_by_position(store, company, task):
    """Log lines numbered by the API (``seq``) read back by a position range, in either direction, paged."""
    lines = []
    for n in range(30):
        line = make(company, task, LOG, msg=f"line {n}", timestamp=T0 + (30 - n))  # positions are not time order
        line["seq"] = n
        lines.append(line)
    store.write([*lines, make(company, task, LOG, msg="before positions existed")])
    window = EventFilter(company, [task], types=[LOG], seq_min=10, seq_max=19)
    found = store.search(window, [("seq", ASC)], 100, fields=["seq", "msg"]).events
    assert [e["seq"] for e in found] == list(range(10, 20)) and found[0]["msg"] == "line 10"
    backward = read_all(store, window, [("seq", DESC)], 3)
    assert [e["seq"] for e in backward] == list(range(19, 9, -1))
    assert store.count(EventFilter(company, [task], types=[LOG], seq_min=25)) == 5
