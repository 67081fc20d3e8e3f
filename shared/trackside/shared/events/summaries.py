"""Names of what the API keeps beside the events in the backend MongoDB database, for the processes that change
the events without the API (the watchdog's retention job).

- the scalar pyramid (``bll/scalar_pyramid.py``): a series document per task and its bucket documents. When some
  of a task's scalars are removed but not all (retention, a filtered delete), the buckets no longer describe the
  rest: :func:`invalidate_pyramid` marks the task's series document ``stale`` (reads then chart the task from
  its events, exactly) and drops its buckets. Later reports keep updating the stale pyramid harmlessly; it stays
  ignored until the task's events are all deleted (reset, delete), which removes it.
- the log line counters (``bll/event_log_lines.py``): one per task, the number of positions handed out.
"""
from __future__ import annotations

from pymongo.database import Database

PYRAMID_SERIES = "event_scalar_series"
PYRAMID_BUCKETS = "event_scalar_buckets"
LOG_COUNTERS = "event_log_counters"
STALE = "stale"


def invalidate_pyramid(db: Database, company: str, task: str, model_events: bool) -> None:
    query = {"company": company, "task": task, "model_event": model_events}
    db[PYRAMID_SERIES].update_many(query, {"$set": {STALE: True}})
    db[PYRAMID_BUCKETS].delete_many(query)
