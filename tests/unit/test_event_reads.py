"""Pure parts of the events reads: histogram buckets, the API form of events, scroll ids, request shaping."""
from __future__ import annotations

import pytest

from trackside.api import errors
from trackside.api.bll import event_scroll
from trackside.api.bll.event_histograms import MAX_SAMPLES, Buckets, bucket_width, chart, clamp_samples
from trackside.api.bll.event_reads import iso_time, metric_variants, public
from trackside.api.endpoints.events import _checked_line_format, _task_metrics
from trackside.shared.events import SeriesInfo, normalise

T0 = 1_700_000_000_000


# -- buckets ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("low, high, count, samples, width", [
    (0, 99, 100, 100, 1),      # fits: every point
    (0, 99, 100, 10, 10),
    (0, 99, 100, 7, 15),       # ceil(100 / 7)
    (5, 5, 3, 1, 1),           # one x: nothing to split
    (0, 10**12, 10**6, 5000, 200_000_001),
])
def test_bucket_width(low, high, count, samples, width):
    assert bucket_width(low, high, count, samples) == width
    if width > 1:
        assert (high - low) // width + 1 <= samples


def test_buckets_start_at_multiples_of_the_width():
    # As the reference's histogram aggregation: a range may touch one bucket more than it spans.
    buckets = Buckets(width=4)
    for x in range(3, 14):
        buckets.add(x, float(x))
    assert buckets.points() == ([0, 4, 8, 12], [3.0, 5.5, 9.5, 12.5])


def test_chart_keeps_small_series_and_labels():
    events = [{"iter": i, "timestamp": T0 + i, "value": i * 2.0, "x_axis_label": "epoch" if i == 2 else None}
              for i in range(3)]
    shown = chart(events, SeriesInfo(3, 2, 0, T0, T0 + 2), "iter", 10)
    assert shown == {"x": [0, 1, 2], "y": [0.0, 2.0, 4.0], "x_axis_label": "epoch"}


def test_chart_by_time_merges_equal_timestamps_and_downsamples():
    events = [{"iter": i, "timestamp": T0 + (i // 2) * 1000, "value": float(i)} for i in range(8)]
    info = SeriesInfo(8, 7, 0, T0, T0 + 3000)
    assert chart(events, info, "timestamp", 100) == {"x": [T0, T0 + 1000, T0 + 2000, T0 + 3000],
                                                     "y": [0.5, 2.5, 4.5, 6.5]}
    halved = chart(events, info, "iso_time", 2)
    # Width ceil(3001 / 2) = 1501 ms, buckets at its multiples since the epoch (T0 is not one).
    starts = [T0 // 1501 * 1501 + n * 1501 for n in range(3)]
    assert halved["x"] == [iso_time(s) for s in starts] and halved["y"] == [1.5, 4.5, 6.5]


def test_chart_without_series_info_keeps_every_point():
    assert chart([{"iter": 4, "timestamp": T0, "value": 1.0}], None, "iter", 1) == {"x": [4], "y": [1.0]}


def test_samples_are_capped():
    assert clamp_samples(None) == 2000 and clamp_samples(0) == MAX_SAMPLES == 6000
    assert clamp_samples(10**9) == MAX_SAMPLES and clamp_samples(7) == 7


# -- the API form of events ------------------------------------------------------------------------------------
def test_public_event_drops_storage_fields():
    company, task = "c" * 32, "t" * 32
    scalar = normalise({"type": "training_stats_scalar", "task": task, "iter": 1, "value": 2, "timestamp": T0},
                       company)
    shown = public(scalar)
    assert shown == {"task": task, "type": "training_stats_scalar", "model_event": False, "timestamp": T0,
                     "metric": "", "variant": "", "iter": 1, "value": 2.0, "@timestamp": "2023-11-14T22:13:20.000Z"}
    vector = public(normalise({"type": "training_stats_vector", "task": task, "values": [1, 2]}, company))
    assert vector["value"] == [1.0, 2.0] and "values" not in vector


def test_metric_variants_from_requests():
    assert metric_variants(None) is None and metric_variants([]) is None
    assert metric_variants([{"metric": "a", "variants": ["x"]}, {"metric": "b"}, {"metric": "a", "variants": ["y"]}]) \
        == {"a": ["x", "y"], "b": []}


def test_task_metrics_from_requests():
    items = [{"task": "t1", "metric": "m", "variants": ["v"]}, {"task": "t1", "metric": "n"},
             {"task": "t2", "metric": "m"}, {"task": "t2", "metric": None}]
    assert _task_metrics(items) == {"t1": {"m": ["v"], "n": []}, "t2": {}}


def test_line_format_checks():
    assert _checked_line_format("{asctime} {msg}\n\n") == "{asctime} {msg}\n"
    for bad in ("{msg} {token}", "{msg", "{}", "{0}"):
        with pytest.raises(errors.FieldsValueError):
            _checked_line_format(bad)


# -- scroll ids ------------------------------------------------------------------------------------------------
def test_scroll_ids_round_trip_and_refuse_anything_else():
    scroll_id = event_scroll.encode("events", {"after": [1, "abc"], "total": 5})
    assert event_scroll.decode(scroll_id, "events") == {"after": [1, "abc"], "total": 5}
    for bad in (scroll_id + "x", "ts1.", "garbage", "ts1." + "A" * 70_000):
        with pytest.raises(errors.InvalidScrollId):
            event_scroll.decode(bad, "events")
    with pytest.raises(errors.InvalidScrollId):
        event_scroll.decode(scroll_id, "plots")


def test_scroll_fields_are_type_checked():
    state = {"after": [1, {"$gt": ""}], "total": "5"}
    with pytest.raises(errors.InvalidScrollId):
        event_scroll.field(state, "after", event_scroll.is_cursor, "id")
    with pytest.raises(errors.InvalidScrollId):
        event_scroll.field(state, "total", event_scroll.is_int, "id")
    assert event_scroll.field({}, "total", event_scroll.is_int, "id") is None
