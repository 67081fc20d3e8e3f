"""Working hours: ``--uptime`` / ``--downtime`` (and ``agent.uptime`` / ``agent.downtime``) in clearml-agent's
"<hours> <days>" syntax.

- ``spec.py``: one spec string into hours of the week, with errors that name the bad part.
- ``week.py``: the worker's schedule as a table of the week's 168 hours: whether it is on at a moment and
  when that next changes, so the daemon sleeps until then instead of polling.

The clock is always passed in (``is_active(now)``, ``next_change(now)``): tests use fixed moments, the
daemon the machine's local time, as the reference does. Whether the worker actually takes work is decided
by the server at each claim: a queue's ``force_workers:on/off`` tag, then the worker's ``force`` runtime
property, then this schedule (``services/api/trackside/api/bll/queue_claims.py``).
"""
from trackside.agent.schedule.spec import DAYS, HOURS_PER_WEEK, ScheduleError
from trackside.agent.schedule.week import Schedule, from_settings

__all__ = ["DAYS", "HOURS_PER_WEEK", "Schedule", "ScheduleError", "from_settings"]
