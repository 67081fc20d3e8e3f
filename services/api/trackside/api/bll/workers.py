"""Workers: the agents that report to the server.

Liveness, the worker records and runtime properties live in Redis (:mod:`worker_registry`): a worker that
stops reporting for its timeout (``services.workers.default_worker_timeout_sec``) is gone. Machine statistics
history lives in MongoDB (:mod:`worker_stats`). Unknown workers are registered by their first status report
and unregistering an unknown worker is not an error, as the reference server is configured
(``apiserver.workers.auto_register`` / ``auto_unregister``).
"""
from __future__ import annotations

import fnmatch
from datetime import datetime, timedelta

import redis
from pymongo.database import Database
from pyhocon import ConfigTree

from trackside.api import errors
from trackside.api.bll.queue_claims import TAG_OFF, eligible
from trackside.api.bll.worker_registry import WorkerRegistry
from trackside.api.bll.worker_stats import WorkerStats
from trackside.api.context import Identity
from trackside.shared.timeutil import isoformat, utcnow


class WorkersBLL:
    def __init__(self, redis_client: redis.Redis, db: Database, config: ConfigTree):
        settings = config.get("services.workers", ConfigTree())
        self.default_timeout = int(settings.get("default_worker_timeout_sec", 60))
        self.registry = WorkerRegistry(redis_client)
        self.stats = WorkerStats(db, int(settings.get("min_chart_interval_sec", 40)),
                                 float(settings.get("stats_retention_days", 7)))
        # Read (and, on reports, stamped with the reporting worker) like the reference server does.
        self.tasks = db["tasks"]
        self.projects = db["projects"]
        self.queues = db["queues"]

    # -- read by other domains (dispatch at claim time, tasks.stop, tasks.enqueue) ---------------------------
    def get_runtime_properties(self, company: str, worker: str) -> dict[str, str]:
        """The worker's runtime properties that have not expired, as ``{key: value}``."""
        return {prop["key"]: prop["value"] for prop in self.registry.get_properties(company, worker)}

    def is_alive(self, company: str, worker: str) -> bool:
        return self.registry.is_alive(company, worker)

    def is_running(self, company: str, worker: str | None, task_id: str) -> bool:
        """True while ``worker`` is alive and its latest report says it runs ``task_id``."""
        record = self.registry.load(company, worker) if worker else None
        return bool(record and (record.get("task") or {}).get("id") == task_id)

    def listening_on(self, company: str, queue: str) -> list[str]:
        """Ids of the live workers that listen on ``queue``."""
        return self.registry.listening_on(company, queue)

    def queue_watched(self, company: str, queue: str) -> bool:
        return bool(self.listening_on(company, queue))

    # -- registration and reports ---------------------------------------------------------------------------
    def register(self, identity: Identity, worker: str, ip: str, timeout: int | None, queues: list[str],
                 tags: list[str], system_tags: list[str]) -> None:
        timeout = self.default_timeout if timeout is None else timeout
        if timeout <= 0:
            raise errors.WorkerRegistrationFailed("invalid timeout", timeout=timeout, worker=worker)
        self._check_queues(identity.company, queues)
        previous = self.registry.load(identity.company, worker)
        record = self._new_record(identity, worker, ip, timeout, queues, tags, system_tags)
        self.registry.save(identity.company, record, (previous or {}).get("queues") or [])
        self.registry.forget_unregistered(identity.company, worker)

    def unregister(self, company: str, worker: str) -> None:
        self.registry.delete(company, worker)

    def status_report(self, identity: Identity, worker: str, ip: str, report: dict) -> None:
        """Refresh the worker's liveness and state from a report; unknown workers are registered."""
        company = identity.company
        current_task = self._stamp_task(company, worker, report.get("task")) if report.get("task") else None
        record = self.registry.load(company, worker)
        previous_queues = (record or {}).get("queues") or []
        if record is None and self.registry.recently_unregistered(company, worker):
            return  # a report that crossed the worker's unregister on its way out
        if record is None:
            record = self._new_record(identity, worker, ip, self.default_timeout, [], None, None)
        now = isoformat(utcnow())
        record.update(ip=ip, last_activity_time=now, last_report_time=now, queue=report.get("queue"),
                      task=current_task and current_task["task"], project=current_task and current_task["project"])
        if report.get("queues"):  # none or empty: the worker's queues stay as they were
            record["queues"] = report["queues"]
        for field in ("tags", "system_tags"):
            if report.get(field) is not None:
                record[field] = report[field]
        self.registry.save(company, record, previous_queues)
        if report.get("machine_stats"):
            self.stats.record(company, worker, report["timestamp"], report.get("task"), report["machine_stats"])

    def _stamp_task(self, company: str, worker: str, task_id: str) -> dict:
        """Mark ``task_id`` as reported on by ``worker``; its ``{task, project}`` entries for the record."""
        now = utcnow()
        task = self.tasks.find_one_and_update(
            {"_id": task_id, "company": company},
            {"$set": {"last_worker": worker, "last_worker_report": now, "last_update": now}},
            projection={"name": 1, "project": 1},
        )
        if not task:
            raise errors.InvalidTaskId(f"invalid task id: {task_id!r}", id=task_id)
        project = None
        if task.get("project"):
            found = self.projects.find_one({"_id": task["project"]}, {"name": 1})
            project = {"id": task["project"], "name": found and found.get("name")}
        return {"task": {"id": task_id, "name": task.get("name")}, "project": project}

    def _new_record(self, identity: Identity, worker: str, ip: str, timeout: int, queues: list[str],
                    tags: list[str] | None, system_tags: list[str] | None) -> dict:
        now = isoformat(utcnow())
        return {
            "id": worker, "key": self.registry.record_key(identity.company, worker),
            "user": {"id": identity.user, "name": identity.user_name or None},
            "company": {"id": identity.company, "name": identity.company_name or None},
            "ip": ip, "queues": list(queues or []), "queue": None, "task": None, "project": None,
            "register_time": now, "register_timeout": timeout, "last_activity_time": now, "last_report_time": None,
            "tags": list(tags or []), "system_tags": list(system_tags or []),
        }

    def _check_queues(self, company: str, queues: list[str]) -> None:
        if not queues:
            return
        found = {q["_id"] for q in self.queues.find({"_id": {"$in": list(queues)}, "company": company}, {"_id": 1})}
        missing = sorted(set(queues) - found)
        if missing:
            raise errors.InvalidQueueId(f"invalid queue ids: {missing}", ids=missing)

    # -- listing --------------------------------------------------------------------------------------------
    def get_all(self, company: str, last_seen: int | None, tags: list[str] | None = None,
                system_tags: list[str] | None = None, worker_pattern: str | None = None) -> list[dict]:
        """The live workers, with their task, queues (name, size, next task) filled in from MongoDB."""
        return self._with_details(self._matching(company, last_seen, tags, system_tags, worker_pattern))

    def count(self, company: str, last_seen: int | None, tags: list[str] | None = None,
              system_tags: list[str] | None = None, worker_pattern: str | None = None) -> int:
        return len(self._matching(company, last_seen, tags, system_tags, worker_pattern))

    def _matching(self, company: str, last_seen: int | None, tags: list[str] | None,
                  system_tags: list[str] | None, worker_pattern: str | None) -> list[dict]:
        """The records of the live workers that pass the reference's filters, by worker id."""
        records = self.registry.all_records(company)
        if last_seen:
            oldest = utcnow() - timedelta(seconds=max(1, last_seen))
            records = [r for r in records if datetime.fromisoformat(r["last_activity_time"]) >= oldest]
        records = [r for r in records if _tags_match(r.get("tags"), tags) and _tags_match(r.get("system_tags"),
                                                                                           system_tags)]
        if worker_pattern:
            records = [r for r in records if fnmatch.fnmatchcase(r["id"], worker_pattern)]
        return sorted(records, key=lambda r: r["id"])

    def _with_details(self, records: list[dict]) -> list[dict]:
        queue_ids = {q for r in records for q in (r.get("queues") or [])}
        queues = {q["_id"]: q for q in self.queues.find({"_id": {"$in": list(queue_ids)}},
                                                          {"name": 1, "display_name": 1, "entries.task": 1,
                                                           "tags": 1})}
        task_ids = {r["task"]["id"] for r in records if r.get("task")}
        task_ids |= {q["entries"][0]["task"] for q in queues.values() if q.get("entries")}
        tasks = {t["_id"]: t for t in self.tasks.find({"_id": {"$in": list(task_ids)}},
                                                      {"name": 1, "started": 1, "last_iteration": 1})}

        def queue_entry(queue_id: str) -> dict:
            queue = queues.get(queue_id) or {}
            entries = queue.get("entries") or []
            next_task = entries[0]["task"] if entries else None
            return {
                "id": queue_id, "name": queue.get("name"), "display_name": queue.get("display_name"),
                "num_tasks": len(entries),
                "next_task": {"id": next_task, "name": (tasks.get(next_task) or {}).get("name")} if next_task else None,
            }

        now = utcnow()
        workers = []
        for record in records:
            worker = {k: v for k, v in record.items() if k not in ("queue", "queues")}
            worker["queues"] = [queue_entry(q) for q in record.get("queues") or []]
            worker["queue"] = next((q for q in worker["queues"] if q["id"] == record.get("queue")), None)
            worker["schedule_state"] = self._schedule_state(
                record, [(queues.get(q) or {}).get("tags") or [] for q in record.get("queues") or []])
            if record.get("task"):
                task = tasks.get(record["task"]["id"]) or {}
                started = task.get("started")
                worker["task"] = {
                    "id": record["task"]["id"], "name": task.get("name", record["task"].get("name")),
                    "running_time": int((now - started).total_seconds() * 1000) if started else 0,
                    "last_iteration": task.get("last_iteration"),
                }
            workers.append(worker)
        return workers

    def _schedule_state(self, record: dict, queue_tags: list[list[str]]) -> str:
        """``active``, ``idle_by_schedule``, ``forced_on`` or ``forced_off``: what the claim gate
        (:func:`queue_claims.eligible`) makes of the worker's queue tags, its ``force`` property and the
        ``schedule`` property its agent publishes (``active`` / ``idle``; absent: no working hours)."""
        try:
            properties = self.get_runtime_properties((record.get("company") or {}).get("id"), record["id"])
        except redis.RedisError:
            properties = {}
        force = (properties.get("force") or "").lower() or None
        in_hours = properties.get("schedule") != "idle"
        takes = any(eligible(tags, force, in_hours) for tags in queue_tags or [[]])
        if takes:
            return "active" if in_hours and force != "on" else "forced_on"
        return "idle_by_schedule" if not in_hours and force != "off" and not _all_off(queue_tags) else "forced_off"

    # -- runtime properties ---------------------------------------------------------------------------------
    def queues_of(self, company: str, worker: str) -> list[str]:
        return list((self.registry.load(company, worker) or {}).get("queues") or [])

    def set_runtime_properties(self, company: str, worker: str, properties: list[dict]) -> None:
        self.registry.set_properties(company, worker, properties)

    def runtime_properties(self, company: str, worker: str) -> list[dict]:
        return self.registry.get_properties(company, worker)


def _all_off(queue_tags: list[list[str]]) -> bool:
    return bool(queue_tags) and all(TAG_OFF in tags for tags in queue_tags)


def _tags_match(have: list[str] | None, wanted: list[str] | None) -> bool:
    """The reference's worker tag filter: any of the plain tags, none of the ``-tag`` ones."""
    if not wanted:
        return True
    have = set(have or [])
    include = [t for t in wanted if not t.startswith("-")]
    exclude = {t[1:] for t in wanted if t.startswith("-")}
    return (not include or bool(have.intersection(include))) and not have.intersection(exclude)
