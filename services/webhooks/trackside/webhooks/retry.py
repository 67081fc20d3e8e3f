"""When to try a failed delivery again: the configured schedule with jitter, or the receiver's Retry-After."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

JITTER = 0.2  # up to 20% later, so deliveries that failed together do not all come back together


def next_delay(schedule: tuple[float, ...], attempts_made: int, retry_after: str | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` attempts, or None when the schedule is spent.
    A Retry-After answer replaces the step (never beyond the schedule's longest step)."""
    if attempts_made > len(schedule) or not schedule:
        return None
    step = schedule[attempts_made - 1]
    asked = parse_retry_after(retry_after)
    if asked is not None:
        return min(max(asked, 0.0), max(schedule))
    return step * (1 + random.uniform(0, JITTER))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
