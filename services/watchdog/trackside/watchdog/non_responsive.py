"""Stop ``in_progress`` tasks that nothing has heard from (``services.tasks.non_responsive_tasks_watchdog``).

A task is responsive, and left alone, if any of these holds (ARCHITECTURE.md, "Non-responsive tasks"):

- its ``last_update`` is younger than ``threshold_sec``. Every sign of life the clients send moves it:
  ``tasks.ping`` (the SDK's background thread, every 30 s, also during uploads), every event batch (console
  output included), every edit (artifacts registered per uploaded dataset chunk), and every worker status
  report naming the task;
- a live worker (its record in the Redis registry has not expired) reports running it, whatever its
  ``last_update`` says.

The stop is a compare-and-swap on status and ``last_update``: a task that reports in after it was judged
keeps running. When the worker registry cannot be read, nothing is stopped: a pass without the evidence
that could save a task does not judge it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import redis
from pymongo.database import Database

from trackside.shared import domain_events
from trackside.shared.config import ConfigError
from trackside.shared.live_workers import LiveWorkers
from trackside.shared.project_counters import ProjectCounters
from trackside.shared.timeutil import utcnow

log = logging.getLogger(__name__)
SECTION = "services.tasks.non_responsive_tasks_watchdog"
IN_PROGRESS, STOPPED = "in_progress", "stopped"
# What the reference server writes, so UIs and scripts that look for it keep working.
FORCED_STOP = "Forced stop (non-responsive)"
CHANGED_BY = "__apiserver__"


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    # In-progress tasks with no sign of life for this long are stopped.
    threshold_sec: float = 7200.0
    # Seconds between passes.
    watch_interval_sec: float = 900.0

    @classmethod
    def from_config(cls, config: Any) -> "Settings":
        """From the config tree; ConfigError naming the key for a value of the wrong kind."""
        section = config.get(SECTION, None) or {}
        return cls(enabled=_flag(section, "enabled", cls.enabled),
                   threshold_sec=_seconds(section, "threshold_sec", cls.threshold_sec, 1.0),
                   watch_interval_sec=_seconds(section, "watch_interval_sec", cls.watch_interval_sec, 0.1))


def _flag(section: Any, key: str, default: bool) -> bool:
    value = section.get(key, default)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise ConfigError(f"{SECTION}.{key} must be true or false, not {value!r}")
    return value


def _seconds(section: Any, key: str, default: float, minimum: float) -> float:
    value = section.get(key, default)
    try:
        if isinstance(value, bool):
            raise ValueError
        return max(minimum, float(value))
    except (TypeError, ValueError):
        raise ConfigError(f"{SECTION}.{key} must be a number of seconds, not {value!r}") from None


@dataclass
class PassReport:
    stale: int = 0  # in progress and last updated before the threshold
    vouched: int = 0  # stale, but a live worker reports running it
    stopped: list[str] = field(default_factory=list)
    reported_in: int = 0  # updated between the read and the stop: left running
    skipped: str = ""  # why the pass did nothing


class NonResponsiveTasks:
    def __init__(self, db: Database, client: redis.Redis, read_settings: Callable[[], Settings]):
        self.tasks = db["tasks"]
        self.projects = db["projects"]
        self.workers = LiveWorkers(client)
        self.read_settings = read_settings
        self.settings = read_settings()

    def run_pass(self) -> PassReport:
        self._refresh_settings()
        if not self.settings.enabled:
            return PassReport(skipped="disabled")
        return self.stop_stale(utcnow() - timedelta(seconds=self.settings.threshold_sec))

    def stop_stale(self, cutoff: datetime) -> PassReport:
        report = PassReport()
        stale = self.stale_tasks(cutoff)
        report.stale = len(stale)
        if not stale:
            return report
        try:
            running = {company: self.workers.running_tasks(company) for company in {t["company"] for t in stale}}
        except redis.RedisError as exc:
            log.warning("non-responsive tasks: worker registry unavailable (%s); %d stale task(s) judged on a "
                        "later pass", exc, len(stale))
            report.skipped = "worker registry unavailable"
            return report
        for task in stale:
            worker = running[task["company"]].get(task["_id"])
            if worker:
                report.vouched += 1
                log.info("non-responsive tasks: task %s last updated %s, but worker %s reports running it",
                         task["_id"], task.get("last_update"), worker)
            elif self.stop(task):
                report.stopped.append(task["_id"])
            else:
                report.reported_in += 1
        return report

    def stale_tasks(self, cutoff: datetime) -> list[dict]:
        return list(self.tasks.find({"status": IN_PROGRESS, "last_update": {"$lt": cutoff}},
                                    {"company": 1, "project": 1, "name": 1, "last_update": 1}))

    def stop(self, task: dict) -> bool:
        """Stop ``task`` (as read by ``stale_tasks``) unless its status or ``last_update`` moved since."""
        now = utcnow()
        stopped = self.tasks.update_one(
            {"_id": task["_id"], "company": task["company"], "status": IN_PROGRESS,
             "last_update": task["last_update"]},
            {"$set": {"status": STOPPED, "status_reason": FORCED_STOP, "status_message": FORCED_STOP,
                      "status_changed": now, "last_update": now, "last_change": now, "last_changed_by": CHANGED_BY}},
        ).modified_count == 1
        if stopped:
            ProjectCounters(self.tasks.database).reconcile(task["_id"])  # the project statistics follow
            log.info("non-responsive tasks: stopped task %s (%s), last updated %s",
                     task["_id"], task.get("name"), task["last_update"])
            if task.get("project"):
                self.projects.update_one({"_id": task["project"], "company": task["company"]},
                                         {"$set": {"last_update": now}})
            domain_events.status_changed(task["company"], task, STOPPED, IN_PROGRESS, now, CHANGED_BY, FORCED_STOP,
                                         FORCED_STOP)
        return stopped

    def _refresh_settings(self) -> None:
        """Settings are read again on every pass, so an operator's change applies without a restart."""
        try:
            settings = self.read_settings()
        except Exception as exc:  # noqa: BLE001 - a broken edit keeps the last good settings
            log.warning("non-responsive tasks: configuration not re-read (%s); keeping %s", exc, self.settings)
            return
        if settings != self.settings:
            log.info("non-responsive tasks: settings now %s", settings)
        self.settings = settings
