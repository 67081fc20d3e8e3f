"""The reconcile pass: make Redis agree with MongoDB again, return expired leases and re-queue orphans.

Run at API start-up and every ``reconcile_interval_sec`` by ``trackside-watchdog`` (ARCHITECTURE.md,
"Dispatch design", Reconcile). Every write is conditional, so a pass racing claims, starts, or another
pass is safe; the watchdog's lock only saves the duplicate work.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from pymongo.database import Database

from trackside.shared.dispatch.entries import QueueEntries
from trackside.shared.dispatch.keys import stream_key
from trackside.shared.dispatch.leases import HELD, LeaseStore
from trackside.shared.dispatch.queue_metrics import QueueMetricsRecorder
from trackside.shared.dispatch.settings import DispatchSettings
from trackside.shared.dispatch.tokens import TokenStreams
from trackside.shared.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUED = "queued"


@dataclass
class PassReport:
    leases_returned: int = 0
    leases_dropped: int = 0
    groups_created: int = 0
    tokens_added: int = 0
    orphans_seen: int = 0
    orphans_requeued: int = 0
    redis_ok: bool = True


@dataclass(frozen=True)
class Orphan:
    """A queued task in no queue and under no lease, as first seen: the same sighting on the next pass
    (same queue, same enqueue time) is no enqueue still half-way."""
    company: str
    task: str
    queue: str | None
    enqueued: datetime | None


class Reconciler:
    def __init__(self, db: Database, client: redis.Redis, settings: DispatchSettings):
        self.settings = settings
        self.entries = QueueEntries(db["queues"])
        self.tasks = db["tasks"]
        self.leases = LeaseStore(db)
        self.tokens = TokenStreams(client)
        self.metrics = QueueMetricsRecorder(db)
        self._orphans: set[Orphan] = set()  # seen on the previous pass
        self._stranded: set[Orphan] = set()  # orphans whose queue is gone: logged once

    def run_pass(self) -> PassReport:
        report = PassReport()
        self.return_expired_leases(report)
        self.requeue_orphans(report)
        try:
            self.sync_streams(report)
        except redis.RedisError as exc:
            report.redis_ok = False
            log.warning("dispatch reconcile: Redis unavailable (%s); streams are synced on a later pass", exc)
        return report

    # -- leases ----------------------------------------------------------------------------------------
    def return_expired_leases(self, report: PassReport) -> None:
        for lease in self.leases.due():
            if lease["state"] == HELD and not self.leases.mark_returning(lease["_id"]):
                continue  # started (or dropped) a moment ago: the start wins
            if self._put_back(lease):
                report.leases_returned += 1
            else:
                report.leases_dropped += 1
            self.leases.forget(lease["_id"])

    def _put_back(self, lease: dict) -> bool:
        """The entry goes back at the head of its queue if its task still waits there."""
        company, task_id, queue_id = lease["company"], lease["task"], lease["queue"]
        if not self._still_queued_for(company, task_id, queue_id):
            return False
        if not self.entries.push(company, queue_id, lease["entry"], at_head=True):
            return False  # already back (an abandoned claim never popped it) or the queue is gone
        if not self._still_queued_for(company, task_id, queue_id):
            # A stop or dequeue ran between the check and the push: it wins.
            self.entries.remove(company, queue_id, task_id)
            return False
        self.tokens.publish(company, queue_id)
        self.metrics.record(company, queue_id)
        log.info("dispatch: lease on task %s expired (worker %s); back at the head of queue %s",
                 task_id, lease.get("worker"), queue_id)
        return True

    # -- orphans ---------------------------------------------------------------------------------------
    def requeue_orphans(self, report: PassReport) -> None:
        """A task ``queued`` in no queue and under no lease (the API died inside ``tasks.enqueue`` between the
        status change and the push) goes to the tail of ``execution.queue`` once two passes in a row saw it:
        an enqueue in flight pushes within milliseconds, a pass interval is seconds. The tail, as enqueueing
        it again would do: a queue's order is the users' (``move_*``), so a task that never made it in is
        not put ahead of those that did."""
        seen = self.find_orphans()
        report.orphans_seen = len(seen)
        for orphan in seen & self._orphans:
            if self._requeue(orphan):
                report.orphans_requeued += 1
        self._orphans = seen
        self._stranded &= seen

    def find_orphans(self) -> set[Orphan]:
        """Read tasks, then queues, then leases: a claim leases before it pops and a start changes the status,
        so a task being claimed is in a queue or leased when looked for (or has moved on by the next pass)."""
        orphans = set()
        for company in {company for company, _ in self.entries.queue_ids()}:
            queued = {t["_id"]: t for t in self.tasks.find({"company": company, "status": QUEUED},
                                                           {"execution.queue": 1, "status_changed": 1})}
            if not queued:
                continue
            ids = list(queued)
            placed = {entry.get("task") for queue in self.entries.coll.find(
                {"company": company, "entries.task": {"$in": ids}}, {"entries.task": 1})
                for entry in queue.get("entries") or []}
            placed |= {lease["task"] for lease in self.leases.coll.find({"company": company, "task": {"$in": ids}},
                                                                        {"task": 1})}
            orphans |= {Orphan(company, task_id, (task.get("execution") or {}).get("queue"), task.get("status_changed"))
                        for task_id, task in queued.items() if task_id not in placed}
        return orphans

    def _requeue(self, orphan: Orphan) -> bool:
        company, task_id, queue_id = orphan.company, orphan.task, orphan.queue
        entry = {"task": task_id, "added": orphan.enqueued or utcnow()}
        if not queue_id or not self.entries.push(company, queue_id, entry):
            if orphan not in self._stranded and self.entries.count(company, queue_id or "") is None:
                self._stranded.add(orphan)
                log.warning("dispatch: task %s is queued for queue %s, which does not exist; left as it is",
                            task_id, queue_id)
            return False
        if not self._still_queued_for(company, task_id, queue_id):
            self.entries.remove(company, queue_id, task_id)  # dequeued, stopped or moved meanwhile: that wins
            return False
        self.tokens.publish(company, queue_id)
        self.metrics.record(company, queue_id)
        log.info("dispatch: task %s was queued in no queue (an enqueue cut short); back at the tail of queue %s",
                 task_id, queue_id)
        return True

    def _still_queued_for(self, company: str, task_id: str, queue_id: str) -> bool:
        task = self.tasks.find_one({"_id": task_id, "company": company}, {"status": 1, "execution.queue": 1})
        return bool(task and task.get("status") == QUEUED and (task.get("execution") or {}).get("queue") == queue_id)

    # -- streams ---------------------------------------------------------------------------------------
    def sync_streams(self, report: PassReport) -> None:
        """Per queue: group present, dead consumers gone, and undelivered tokens brought to ``min(entries,
        live consumers)``. Tokens are counted before entries, so a token counted has its entry counted too
        (the push comes before the token): trimming never drops a token whose entry is still waiting."""
        timeout_ms = int(self.settings.consumer_timeout_sec * 1000)
        cap = self.settings.max_tokens_per_queue
        for company, queue_id in self.entries.queue_ids():
            key = stream_key(company, queue_id)
            if self.tokens.ensure_group(key):
                report.groups_created += 1
            live = self.tokens.prune_consumers(key, timeout_ms)
            undelivered = self.tokens.undelivered(key, 2 * cap)
            length = self.entries.count(company, queue_id) or 0
            wanted = min(length, live, cap)
            if len(undelivered) < wanted and self.tokens.publish(company, queue_id, wanted - len(undelivered)):
                report.tokens_added += wanted - len(undelivered)
            self.tokens.keep(key, undelivered, wanted)
