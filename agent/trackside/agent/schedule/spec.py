"""One "<hours> <days>" spec into hours of the week (``weekday * 24 + hour``, Monday 0 as ``datetime``).

    17-20 TUE              Tuesdays from 17:00 to 20:00
    9-12,14-18 MON-FRI     two spans on every weekday
    20 SAT                 a single hour: from 20:00 to midnight
    20-00 SUN              an end of 0 (or 24) is midnight
    22-2 FRI               over midnight: Friday 22:00-24:00 and Saturday 00:00-02:00 (two spans)
    FRI-MON                day spans wrap around the week (Friday, Saturday, Sunday, Monday)

The reference reads spans over midnight and day spans past Saturday as empty, and skips spans starting at
hour 0 (its documented ``"20-00,00-08 SUN"`` loses the morning); here they mean what the documentation says.
Day names are SUN..SAT in any case.
"""
from __future__ import annotations

import re

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")   # datetime.weekday() order
HOURS_PER_WEEK = 7 * 24
_HOURS = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")


class ScheduleError(ValueError):
    """A spec that does not parse; the message names the bad part."""


def pairs_of(specs) -> list[str]:
    """``"<hours> <days>"`` pairs from the flag's words or the configuration's strings: ``--uptime 17-20
    TUE`` and ``--uptime "17-20 TUE" "10-12 SAT"`` both work."""
    tokens = " ".join(specs).split()
    if not tokens:
        raise ScheduleError("empty schedule: expected \"<hours> <days>\", e.g. \"17-20 TUE\"")
    if len(tokens) % 2:
        raise ScheduleError(f"{' '.join(tokens)!r}: expected \"<hours> <days>\" pairs, e.g. \"17-20 TUE\"")
    return [f"{tokens[i]} {tokens[i + 1]}" for i in range(0, len(tokens), 2)]


def hours_of_week(pair: str) -> set[int]:
    """The hours of the week one pair covers; each span starts on each listed day, and a span past midnight
    runs into the next day (the week wraps)."""
    hours, days = pair.split()
    return {(day * 24 + hour) % HOURS_PER_WEEK for day in _days(days, pair) for start, end in _spans(hours, pair)
            for hour in range(start, end)}


def _spans(text: str, pair: str) -> list[tuple[int, int]]:
    spans = []
    for part in text.split(","):
        match = _HOURS.match(part)
        if not match:
            raise ScheduleError(f"{pair!r}: hours {part!r} should be <start>-<end> or <start> (0-24)")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else 24   # a single hour: to midnight
        if start > 23 or end > 24:
            raise ScheduleError(f"{pair!r}: hours {part!r} are out of range (0-24)")
        end = 24 if end == 0 else end
        if start == end:
            raise ScheduleError(f"{pair!r}: hours {part!r} are an empty span")
        spans.append((start, end if end > start else end + 24))   # over midnight: into the next day
    return spans


def _days(text: str, pair: str) -> list[int]:
    days: list[int] = []
    for part in text.upper().split(","):
        first, dash, last = part.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise ScheduleError(f"{pair!r}: days {part!r} should be day names SUN-SAT (e.g. MON, MON-FRI, SAT,SUN)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days += [(start + i) % 7 for i in range((end - start) % 7 + 1)]
    return days
