"""Fill gaps in the domain-event stream: republish recent task status changes the API did not get out.

The API publishes each status change from a background thread (``trackside.shared.domain_events``); a Redis
outage longer than its buffer holds, or an API process killed with events still buffered, loses some. Every
published change also leaves a marker key for its (deterministic) event id. Each pass looks at the tasks whose
``status_changed`` lies in ``[now - replay_window_sec, now - replay_grace_sec]`` and republishes, with the same
id, those whose change has no marker: ``previous_status`` is then null (nobody recorded it) and ``data.replayed``
is true. The consumer drops an id it has already turned into deliveries, so a replay never duplicates one.

Only the latest change of each task can be seen (the task document keeps one ``status_changed``), so two
changes lost in a row come back as the last one. A task still in the status it was created with is left out:
its creation is ``task.created``, not a status change.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from pymongo.database import Database

from trackside.shared import domain_events
from trackside.shared.timeutil import utcnow

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SEC = 60.0
# Changes younger than this are still on their way out of an API process's buffer.
DEFAULT_GRACE_SEC = 30.0
CHUNK = 500
FIELDS = {"company": 1, "name": 1, "project": 1, "status": 1, "status_changed": 1, "created": 1,
          "status_reason": 1, "status_message": 1, "last_changed_by": 1}


@dataclass
class ReplayReport:
    checked: int = 0  # recent status changes looked at
    replayed: int = 0  # of them, republished (no marker)
    skipped: str = ""


class EventReplay:
    def __init__(self, db: Database, client: redis.Redis, settings: domain_events.Settings,
                 grace_sec: float = DEFAULT_GRACE_SEC):
        self.tasks = db["tasks"]
        self.client = client
        self.settings = settings
        self.grace_sec = grace_sec

    @classmethod
    def from_config(cls, db: Database, client: redis.Redis, config) -> "EventReplay":
        section = config.get(domain_events.CONFIG_SECTION, None) or {}
        return cls(db, client, domain_events.Settings.from_config(config),
                   float(section.get("replay_grace_sec", DEFAULT_GRACE_SEC)))

    def interval_sec(self, config) -> float:
        section = config.get(domain_events.CONFIG_SECTION, None) or {}
        return float(section.get("replay_interval_sec", DEFAULT_INTERVAL_SEC))

    def run_pass(self) -> ReplayReport:
        if not self.settings.enabled:
            return ReplayReport(skipped="publish_events is false")
        now = utcnow()
        since = now - timedelta(seconds=self.settings.replay_window_sec)
        until = now - timedelta(seconds=self.grace_sec)
        report = ReplayReport()
        batch: list[dict] = []
        for task in self.tasks.find({"status_changed": {"$gte": since, "$lt": until}}, FIELDS):
            if task.get("status_changed") == task.get("created") or not task.get("status"):
                continue
            report.checked += 1
            batch.append(task)
            if len(batch) >= CHUNK:
                report.replayed += self._replay_unmarked(batch)
                batch = []
        if batch:
            report.replayed += self._replay_unmarked(batch)
        if report.replayed:
            log.warning("domain events: replayed %d status change(s) that were not published", report.replayed)
        return report

    def _replay_unmarked(self, tasks: list[dict]) -> int:
        ids = [domain_events.status_event_id(t["_id"], t["status"], t["status_changed"]) for t in tasks]
        pipe = self.client.pipeline(transaction=False)
        for event_id in ids:
            pipe.exists(domain_events.marker_key(event_id))
        marked = pipe.execute()
        events = [(replayed_event(task, event_id), True)
                  for task, event_id, found in zip(tasks, ids, marked) if not found]
        if events:
            domain_events.write_batch(self.client, events, self.settings.maxlen, self.settings.marker_ttl)
        return len(events)


def replayed_event(task: dict, event_id: str) -> dict:
    return domain_events.envelope(domain_events.STATUS_CHANGED, task["company"], {
        "id": task["_id"], "name": task.get("name"), "project": task.get("project"), "status": task["status"],
        "previous_status": None, "status_reason": task.get("status_reason") or "",
        "status_message": task.get("status_message") or "", "user": task.get("last_changed_by"), "replayed": True,
    }, event_id=event_id, timestamp=task["status_changed"])
