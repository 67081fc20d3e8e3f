"""Pure parts of the workers domain: the date buckets of get_stats/get_activity_report and the tag filter."""
from datetime import datetime, timezone

import pytest

from trackside.api.bll.worker_stats import _aggregate, DateBuckets
from trackside.api.bll.workers import _tags_match


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def test_buckets_align_on_the_interval_and_are_epoch_milliseconds():
    buckets = DateBuckets(1_000_010, 1_000_410, 40)
    # 1_000_000 is a multiple of 40: the first bucket starts there, before from_date.
    assert buckets.dates[0] == 1_000_000_000 and buckets.dates[1] - buckets.dates[0] == 40_000
    assert buckets.index_of(at(1_000_039)) == 0
    assert buckets.index_of(at(1_000_040)) == 1
    assert buckets.index_of(at(999_000)) is None


def test_the_unfinished_last_bucket_is_dropped():
    # 1_000_000 .. 1_000_400 holds 11 bucket starts; the one at to_date has not begun to fill.
    assert len(DateBuckets(1_000_000, 1_000_400, 40).dates) == 10
    # A bucket starting exactly 90% of an interval before to_date stays, as in the reference.
    assert DateBuckets(1_000_000, 1_000_396, 40).dates[-1] == 1_000_360_000


def test_a_last_bucket_over_90_percent_full_stays():
    # to_date 39 s into the last bucket: 97.5% of it has passed.
    assert len(DateBuckets(1_000_000, 1_000_399, 40).dates) == 10
    assert len(DateBuckets(1_000_000, 1_000_439, 40).dates) == 11


def test_aggregations():
    assert _aggregate([10, 20, 30], "avg") == 20.0
    assert _aggregate([10, 20, 30], "min") == 10.0
    assert _aggregate([10, 20, 30], "max") == 30.0
    assert _aggregate([], "max") == 0.0


def test_tag_filter_takes_any_plain_tag_and_none_of_the_excluded():
    assert _tags_match(["a", "b"], None)
    assert _tags_match(["a"], ["a", "c"])
    assert not _tags_match(["b"], ["a", "c"])
    assert not _tags_match(["a", "gpu"], ["a", "-gpu"])
    assert _tags_match(["a"], ["-gpu"])
    assert not _tags_match([], ["a"])
