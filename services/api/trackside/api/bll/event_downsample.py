"""M4 downsampling of one scalar series: per x bucket, the first, last, lowest and highest points.

A chart a few hundred pixels wide cannot show more than a few points per pixel column; what the eye needs from
each column is where the line enters and leaves it and how far it goes up and down. Keeping exactly those four
real points per bucket (M4, Jugel et al., VLDB 2014) draws the same picture as every point would, spikes
included, where averaging (the reference's histogram) flattens them.

Pure and single pass: points (or pre-aggregated :class:`Extremes` of a sub-range, see ``scalar_pyramid``) are
fed in any order; memory is bounded by ``points`` whatever the series' length. While no more than ``points``
points have arrived they are kept as they are, so a short series comes back exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

Point = tuple[int, float]  # (x, y)
# The fewest points one request may ask for: one bucket's four.
MIN_POINTS = 4


@dataclass
class Extremes:
    """What M4 keeps of a set of points: their number and the first, last, lowest and highest of them.

    Ties: the first/last are the lowest/highest x (then lowest/highest y), the min/max the lowest/highest y
    (then lowest/highest x), so merging in any order gives the same result."""

    count: int
    first: Point
    last: Point
    low: Point
    high: Point

    @classmethod
    def of(cls, x: int, y: float) -> "Extremes":
        return cls(1, (x, y), (x, y), (x, y), (x, y))

    def add(self, x: int, y: float) -> None:
        self.count += 1
        point = (x, y)
        if point < self.first:
            self.first = point
        if point > self.last:
            self.last = point
        if (y, x) < (self.low[1], self.low[0]):
            self.low = point
        if (y, x) > (self.high[1], self.high[0]):
            self.high = point

    def merge(self, other: "Extremes") -> None:
        self.count += other.count
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        self.low = min(self.low, other.low, key=lambda p: (p[1], p[0]))
        self.high = max(self.high, other.high, key=lambda p: (p[1], p[0]))

    def points(self) -> list[Point]:
        """The distinct kept points, by x."""
        return sorted({self.first, self.last, self.low, self.high})


@dataclass(frozen=True)
class Grid:
    """``count`` buckets of ``width`` starting at ``origin``: bucket i holds x in [origin + i*width, + width)."""

    origin: int
    width: int
    count: int

    def index(self, x: int) -> int:
        return (x - self.origin) // self.width


def make_grid(x_min: int, x_max: int, points: int, align: int = 1) -> Grid:
    """The fewest equal buckets covering [x_min, x_max] with at most ``points`` // 4 of them.

    ``align`` > 1 makes the origin and width multiples of it, so that pre-aggregated pieces aligned on
    multiples of any divisor of ``align`` never straddle two buckets (at the price of a slightly wider grid)."""
    if x_max < x_min:
        raise ValueError(f"empty range [{x_min}, {x_max}]")
    buckets = max(1, points // MIN_POINTS)
    origin = x_min // align * align
    span = x_max - origin + 1
    width = -(-span // (buckets * align)) * align  # ceil, in multiples of align
    return Grid(origin, width, -(-span // width))


class Downsampler:
    """One series' points in [x_min, x_max], at most ``points`` of them, fed one at a time."""

    def __init__(self, x_min: int, x_max: int, points: int, align: int = 1):
        if points < MIN_POINTS:
            raise ValueError(f"points must be at least {MIN_POINTS}")
        self.x_min, self.x_max, self.points = x_min, x_max, points
        self.grid = make_grid(x_min, x_max, points, align)
        self.total = 0
        # Raw points while they fit; None once bucketing started.
        self._raw: list[Point] | None = []
        self._buckets: dict[int, Extremes] = {}

    def add(self, x: int, y: float) -> None:
        if not self.x_min <= x <= self.x_max:
            return  # zoomed out of view
        self.total += 1
        if self._raw is not None:
            self._raw.append((x, y))
            if len(self._raw) > self.points:
                self._to_buckets()
            return
        self._bucket_add(x, y)

    def add_extremes(self, piece: Extremes) -> None:
        """A pre-aggregated sub-range, which must lie inside [x_min, x_max] and inside one bucket."""
        if not piece.count:
            return
        self.total += piece.count
        if self._raw is not None:
            if piece.count == 1:
                self._raw.append(piece.first)
                if len(self._raw) <= self.points:
                    return
            self._to_buckets()
            if piece.count == 1:
                return
        index = self.grid.index(piece.first[0])
        current = self._buckets.get(index)
        if current is None:
            self._buckets[index] = Extremes(piece.count, piece.first, piece.last, piece.low, piece.high)
        else:
            current.merge(piece)

    @property
    def exact(self) -> bool:
        """Whether every point fed in is part of the result."""
        return self._raw is not None

    def result(self) -> tuple[list[int], list[float]]:
        """(x, y) sorted by x; every point when they fit, else the kept points of each bucket."""
        if self._raw is not None:
            kept = sorted(set(self._raw))
        else:
            kept = [p for i in sorted(self._buckets) for p in self._buckets[i].points()]
        return [p[0] for p in kept], [p[1] for p in kept]

    def _to_buckets(self) -> None:
        raw, self._raw = self._raw or [], None
        for x, y in raw:
            self._bucket_add(x, y)

    def _bucket_add(self, x: int, y: float) -> None:
        index = self.grid.index(x)
        bucket = self._buckets.get(index)
        if bucket is None:
            self._buckets[index] = Extremes.of(x, y)
        else:
            bucket.add(x, y)


def downsample(points: Iterable[Point], x_min: int, x_max: int, limit: int) -> Downsampler:
    """``points`` fed through a :class:`Downsampler` (convenience for tests and small series)."""
    sampler = Downsampler(x_min, x_max, limit)
    for x, y in points:
        sampler.add(x, y)
    return sampler
