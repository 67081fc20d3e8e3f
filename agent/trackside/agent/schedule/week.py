"""The worker's schedule as the set of its working hours in a week: "on now?" and "on until when?" are
lookups, for any clock the caller passes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from trackside.agent.schedule.spec import HOURS_PER_WEEK, ScheduleError, hours_of_week, pairs_of


@dataclass(frozen=True)
class Schedule:
    """Which hours of the week the worker works. ``on_hours`` holds ``weekday * 24 + hour`` slots."""
    on_hours: frozenset[int]
    specs: tuple[str, ...]
    is_uptime: bool

    @classmethod
    def parse(cls, specs: Iterable[str], *, uptime: bool) -> "Schedule":
        """Several specs add up; a downtime's hours are the ones it does not list."""
        pairs = pairs_of(specs)
        listed = set().union(*(hours_of_week(pair) for pair in pairs))
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
