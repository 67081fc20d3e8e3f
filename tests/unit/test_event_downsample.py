"""M4 downsampling (bll/event_downsample.py): each bucket keeps its first, last, min and max points, spikes
survive, never more points than asked, exact when the series is short, zoom clipping, and pre-aggregated
pieces (the scalar pyramid) give the same answer as the raw points."""
from __future__ import annotations

import math
import random

import pytest

from trackside.api.bll.event_downsample import Downsampler, Extremes, downsample, make_grid
from trackside.api.bll.scalar_pyramid import decode_piece, encode_x, encode_y


def _series(n: int, seed: int = 1) -> list[tuple[int, float]]:
    rnd = random.Random(seed)
    return [(i, math.sin(i / 50) + rnd.random() * 0.1) for i in range(n)]


def test_short_series_is_returned_exact():
    points = _series(100)
    sampler = downsample(points, 0, 99, 1000)
    assert sampler.exact and sampler.total == 100
    assert sampler.result() == ([x for x, _ in points], [y for _, y in points])


def test_exactly_as_many_points_as_asked_is_still_exact():
    sampler = downsample(_series(1000), 0, 999, 1000)
    assert sampler.exact and len(sampler.result()[0]) == 1000


@pytest.mark.parametrize("n,limit", [(1001, 1000), (100_000, 1000), (12_345, 7), (50_000, 4), (9, 8)])
def test_never_more_points_than_asked_and_sorted(n, limit):
    sampler = downsample(_series(n), 0, n - 1, limit)
    xs, ys = sampler.result()
    assert not sampler.exact and sampler.total == n
    assert 0 < len(xs) <= limit and len(xs) == len(ys)
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_each_bucket_keeps_first_last_min_and_max():
    points = _series(10_000)
    limit = 400
    sampler = downsample(points, 0, 9_999, limit)
    grid = sampler.grid
    kept = set(zip(*sampler.result()))
    for index in range(grid.count):
        inside = [p for p in points if grid.index(p[0]) == index]
        assert inside[0] in kept and inside[-1] in kept
        assert min(inside, key=lambda p: p[1]) in kept and max(inside, key=lambda p: p[1]) in kept
    assert len(kept) <= 4 * grid.count <= limit
    assert all(p in set(points) for p in kept)  # real points, real x


def test_spikes_survive():
    points = [(i, 1.0) for i in range(100_000)]
    points[31_337] = (31_337, 1e6)
    points[77_001] = (77_001, -1e6)
    xs, ys = downsample(points, 0, 99_999, 100).result()
    assert (31_337, 1e6) in zip(xs, ys) and (77_001, -1e6) in zip(xs, ys)
    assert max(ys) == 1e6 and min(ys) == -1e6


def test_zoom_clips_to_the_range():
    points = _series(100_000)
    sampler = downsample(points, 40_000, 40_499, 1000)
    xs, _ = sampler.result()
    assert sampler.exact and sampler.total == 500 and xs == list(range(40_000, 40_500))
    wide = downsample(points, 10_000, 60_000, 1000)
    xs, _ = wide.result()
    assert wide.total == 50_001 and xs[0] == 10_000 and xs[-1] == 60_000 and len(xs) <= 1000


def test_x_by_timestamp_with_shared_timestamps():
    # Events sent in one batch without a timestamp share one millisecond: several y at one x.
    t0 = 1_733_380_000_000
    points = [(t0 + i // 300 * 5000, float(i % 300)) for i in range(30_000)]
    sampler = downsample(points, t0, points[-1][0], 1000)
    xs, ys = sampler.result()
    assert len(xs) <= 1000 and xs == sorted(xs)
    # every batch (one x) keeps its lowest and highest value
    for x in set(x for x, _ in points):
        values = [y for px, y in zip(xs, ys) if px == x]
        assert 0.0 in values and 299.0 in values


def test_unordered_input_gives_the_same_answer():
    points = _series(20_000)
    shuffled = points[:]
    random.Random(3).shuffle(shuffled)
    assert downsample(points, 0, 19_999, 500).result() == downsample(shuffled, 0, 19_999, 500).result()


def test_pre_aggregated_pieces_give_the_same_answer_as_raw_points():
    points = _series(50_000)
    direct = downsample(points, 0, 49_999, 1000)
    align = 64
    pieced = Downsampler(0, 49_999, 1000, align=align)
    raw_aligned = Downsampler(0, 49_999, 1000, align=align)
    for start in range(0, 50_000, 16):
        chunk = points[start:start + 16]
        piece = Extremes.of(*chunk[0])
        for x, y in chunk[1:]:
            piece.add(x, y)
        pieced.add_extremes(piece)
    for x, y in points:
        raw_aligned.add(x, y)
    assert pieced.result() == raw_aligned.result() and pieced.total == 50_000
    assert len(pieced.result()[0]) <= 1000 and len(direct.result()[0]) <= 1000


def test_grid_alignment():
    grid = make_grid(1000, 100_999, 1000, align=64)
    assert grid.origin % 64 == 0 and grid.width % 64 == 0 and grid.count <= 250
    assert grid.origin <= 1000 and grid.origin + grid.width * grid.count > 100_999


def test_too_few_points_refused():
    with pytest.raises(ValueError):
        Downsampler(0, 10, 3)


@pytest.mark.parametrize("value", [0.0, -0.0, 1e-300, -1e-300, 3.5, -3.5, 1e300, -1e300])
def test_sortable_encodings_keep_order(value):
    others = [-1e300, -2.0, -1e-300, 0.0, 1e-300, 2.0, 1e300]
    for other in others:
        assert (encode_y(value) < encode_y(other)) == (value < other)
    for x, other_x in ((-5, 3), (0, 1), (2**40, 2**40 + 1)):
        assert encode_x(x) < encode_x(other_x)
    piece = decode_piece({"n": 1, "f": encode_x(7) + encode_y(value), "l": encode_x(7) + encode_y(value),
                          "lo": encode_y(value) + encode_x(7), "hi": encode_y(value) + encode_x(7)})
    assert piece.first == (7, value) and piece.low == (7, value) and piece.count == 1
