"""Retention's delete (``retention.drop_before``) on every events backend: only the task's events older than the
cut-off go, type by type, in bounded batches, and a deadline stops it between batches."""
from __future__ import annotations

import time

from trackside.shared.events import LOG, PLOT, SCALAR, EventFilter
from trackside.shared.events.retention import drop_before

from test_event_store_contract import T0, make, new_id, scalars


def test_drops_only_that_tasks_events_before_the_cut_off(store, company):
    task, other = new_id(), new_id()
    store.write([
        *scalars(company, task, "m", "v", range(10)),  # timestamps T0 .. T0+9
        *[make(company, task, LOG, msg=str(i), timestamp=T0 + i) for i in range(6)],
        make(company, task, PLOT, metric="p", iter=1, plot_str="{}", timestamp=T0 + 2),
        *scalars(company, other, "m", "v", range(10)),
        make(company, task, metric="m", variant="v", iter=1, model_event=True),  # a model sharing the id
    ])
    removed, done = drop_before(store, company, task, T0 + 5, batch=2)
    assert done and removed == {SCALAR: 5, LOG: 5, PLOT: 1}
    left = store.search(EventFilter(company, [task]), [("timestamp", 1)], 100).events
    assert sorted(e["timestamp"] for e in left) == [T0 + 5, *[T0 + i for i in range(5, 10)]]
    assert store.count(EventFilter(company, [other])) == 10
    assert store.count(EventFilter(company, [task], model_events=True)) == 1
    assert drop_before(store, company, task, T0 + 5) == ({}, True)


def test_model_events_and_the_deadline(store, company):
    model = new_id()
    store.write([make(company, model, metric="m", variant="v", iter=i, timestamp=T0 + i, model_event=True)
                 for i in range(6)])
    # A deadline already passed still lets one batch go, so that a sweep always moves on.
    removed, done = drop_before(store, company, model, T0 + 100, model_events=True, batch=2,
                                deadline=time.monotonic() - 1)
    assert (removed, done) == ({SCALAR: 2}, False)
    removed, done = drop_before(store, company, model, T0 + 5, model_events=True, batch=3)
    assert done and removed == {SCALAR: 3}
    assert store.count(EventFilter(company, [model], model_events=True)) == 1
