"""Working hours: ``--uptime`` / ``--downtime`` (and ``agent.uptime`` / ``agent.downtime``), clearml-agent's
"<hours> <days>" syntax:

    17-20 TUE              Tuesdays from 17:00 to 20:00
    9-12,14-18 MON-FRI     two spans on every weekday
    20 SAT                 a single hour: from 20:00 to midnight
    22-2 FRI               over midnight: Friday 22:00-24:00 and Saturday 00:00-02:00 (two spans)
    FRI-MON                day spans wrap around the week (Friday, Saturday, Sunday, Monday)

Several specs add up (``--uptime "9-17 MON-FRI" "10-14 SAT"``). Hours are 0-24 in local time, as the
reference reads the machine's clock; an end of 0 means midnight. The week is a table of 168 hours, so
"is it on now" and "when does that change" are lookups, and the daemon sleeps until the next change instead
of polling. Whether the worker actually takes work is decided by the server at each claim: a queue's
``force_workers:on/off`` tag, then the worker's ``force`` runtime property, then this schedule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")   # datetime.weekday() order
HOURS_PER_WEEK = 7 * 24
_HOURS = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")


class ScheduleError(ValueError):
    """A spec that does not parse; the message names the bad part."""


@dataclass(frozen=True)
class Schedule:
    """Which hours of the week the worker works. ``on_hours`` holds ``weekday * 24 + hour`` slots."""
    on_hours: frozenset[int]
    specs: tuple[str, ...]
    is_uptime: bool

    @classmethod
    def parse(cls, specs: Iterable[str], *, uptime: bool) -> "Schedule":
        tokens = " ".join(specs).split()
        if not tokens:
            raise ScheduleError("empty schedule: expected \"<hours> <days>\", e.g. \"17-20 TUE\"")
        if len(tokens) % 2:
            raise ScheduleError(f"{' '.join(tokens)!r}: expected \"<hours> <days>\" pairs, e.g. \"17-20 TUE\"")
        pairs = [f"{tokens[i]} {tokens[i + 1]}" for i in range(0, len(tokens), 2)]
        listed: set[int] = set()
        for pair in pairs:
            hours, days = pair.split()
            listed |= _slots(_parse_hours(hours, pair), _parse_days(days, pair))
        on = listed if uptime else set(range(HOURS_PER_WEEK)) - listed
        return cls(frozenset(on), tuple(pairs), uptime)

    def is_active(self, now: datetime) -> bool:
        return _slot(now) in self.on_hours

    def next_change(self, now: datetime) -> datetime | None:
        """The start of the next hour at which ``is_active`` flips; None when it never does."""
        current = self.is_active(now)
        top = now.replace(minute=0, second=0, microsecond=0)
        for step in range(1, HOURS_PER_WEEK + 1):
            if ((_slot(now) + step) % HOURS_PER_WEEK in self.on_hours) != current:
                return top + timedelta(hours=step)
        return None

    def describe(self) -> str:
        return f"{'uptime' if self.is_uptime else 'downtime'}: {', '.join(self.specs)}"


def from_settings(uptime: Sequence[str] | None, downtime: Sequence[str] | None) -> Schedule | None:
    """The worker's schedule from the flags or configuration; None when it has none. Both is an error, not
    (as in the reference) a warning that silently drops both."""
    if uptime and downtime:
        raise ScheduleError("both uptime and downtime are set: use only one of them")
    if uptime:
        return Schedule.parse(uptime, uptime=True)
    if downtime:
        return Schedule.parse(downtime, uptime=False)
    return None


def _slot(moment: datetime) -> int:
    return moment.weekday() * 24 + moment.hour


def _slots(hour_spans: list[tuple[int, int]], days: list[int]) -> set[int]:
    """Each span starts on each listed day; a span past 24 runs into the next day (the week wraps)."""
    return {(day * 24 + hour) % HOURS_PER_WEEK for day in days for start, end in hour_spans
            for hour in range(start, end)}


def _parse_hours(text: str, spec: str) -> list[tuple[int, int]]:
    spans = []
    for part in text.split(","):
        match = _HOURS.match(part)
        if not match:
            raise ScheduleError(f"{spec!r}: hours {part!r} should be <start>-<end> or <start> (0-24)")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else 24
        if start > 23 or end > 24:
            raise ScheduleError(f"{spec!r}: hours {part!r} are out of range (0-24)")
        end = 24 if end == 0 else end
        if start == end:
            raise ScheduleError(f"{spec!r}: hours {part!r} are an empty span")
        spans.append((start, end if end > start else end + 24))   # over midnight: into the next day
    return spans


def _parse_days(text: str, spec: str) -> list[int]:
    days: list[int] = []
    for part in text.upper().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ScheduleError(f"{spec!r}: days {part!r} should be day names SUN-SAT (e.g. MON, MON-FRI, SAT,SUN)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days += [(start + i) % 7 for i in range((end - start) % 7 + 1)]
    return days
