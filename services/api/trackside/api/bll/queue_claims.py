"""Claims: handing the head of a queue to exactly one agent, with a lease until the agent starts it.

``dispatch.claim`` (subscribed agents: gating, priority over several queues, tokens handed on) and REST
``queues.get_next_task`` (the stock agent) share one claim: lease the head task, then pop it by
compare-and-swap (ARCHITECTURE.md, "Dispatch design"). ``dispatch.start`` turns a lease into a start.
"""
from __future__ import annotations

import logging
import random
import time

import redis
from pyhocon import ConfigTree

from trackside.api import errors
from trackside.api.bll.queues import QueuesBLL
from trackside.api.bll.task_status import CREATED, QUEUED, STOPPED
from trackside.api.context import Identity
from trackside.shared.dispatch.keys import GROUP, stream_key
from trackside.shared.dispatch.settings import DispatchSettings
from trackside.shared.project_counters import ProjectCounters
from trackside.shared.timeutil import isoformat

log = logging.getLogger(__name__)
# Task statuses a claim hands out; an entry whose task has any other status (or none) is stale and dropped.
CLAIMABLE = (QUEUED, STOPPED, CREATED)
# A lease this old on a task still at the head of its queue was left by a claim that died before its pop.
ABANDONED_CLAIM_SEC = 10.0
# How long one claim keeps trying a queue whose head another claimer is taking.
QUEUE_BUDGET_SEC = 5.0
TAG_OFF, TAG_ON = "force_workers:off", "force_workers:on"


def eligible(queue_tags: list[str], force: str | None, schedule_active: bool) -> bool:
    """Whether a worker may take from a queue now: queue tag, then its ``force`` runtime property, then
    its own schedule (clearml-agent's precedence; ``off`` wins over ``on`` on the same level)."""
    if TAG_OFF in queue_tags:
        return False
    if TAG_ON in queue_tags:
        return True
    if force in ("off", "on"):
        return force == "on"
    return schedule_active


class QueueClaims:
    def __init__(self, queues: QueuesBLL, transitions, workers, config: ConfigTree):
        self.queues = queues
        self.entries = queues.entries
        self.leases = queues.leases
        self.tasks = queues.tasks
        self.transitions = transitions
        self.workers = workers
        self.config = config
        self.settings = DispatchSettings.from_config(config)

    # -- subscribing -----------------------------------------------------------------------------------
    def subscription(self, company: str, queue_ids: list[str]) -> dict:
        """What a subscriber needs to block on its queues' streams: the Redis address agents use, the agent
        ACL user, the group and one stream per queue."""
        self.queues.require_all(company, queue_ids)
        server = self.config.get_config("hosts.redis.apiserver")
        agents = self.config.get_config("hosts.redis.agents") if self.config.get("hosts.redis.agents", None) else {}
        return {
            "redis": {
                "host": agents.get("host") or server.get("host"),
                "port": int(agents.get("port") or server.get("port")),
                "db": int(server.get("db", 0)),
                "username": agents.get("username") or None,
                "password": agents.get("password") or None,
            },
            "group": GROUP,
            "streams": [{"queue": queue_id, "stream": stream_key(company, queue_id)} for queue_id in queue_ids],
            "block_ms": self.settings.block_ms,
            "lease_sec": self.settings.lease_sec,
        }

    # -- claiming --------------------------------------------------------------------------------------
    def claim(self, identity: Identity, worker: str, queue_ids: list[str], schedule_active: bool,
              token_queues: list[str]) -> dict:
        """The head of the first eligible, non-empty queue in ``queue_ids`` (priority order), leased to
        ``worker``: ``{entry, queue, lease}``, or ``{}``. Tokens for queues not taken from are handed on."""
        company = identity.company
        queues = self.queues.require_all(company, queue_ids)
        force = self._force_property(company, worker)
        for queue_id in queue_ids:
            if not eligible(queues[queue_id].get("tags") or [], force, schedule_active):
                continue
            taken = self._take(company, queue_id, worker)
            if taken:
                self.nudge(company, [q for q in dict.fromkeys(token_queues) if q != queue_id and q in queues])
                entry, lease = taken
                return {"entry": _entry(entry), "queue": queue_id,
                        "lease": {"id": lease["_id"], "expires": isoformat(lease["expires"])}}
        return {}

    def get_next_task(self, identity: Identity, queue_id: str, task_id: str | None, task_info: bool) -> dict:
        """REST queues.get_next_task: the same claim, no gating, no worker; the stock agent's tasks.started
        right after clears the lease."""
        self.queues.get(identity.company, queue_id, only_fields=["id"])
        taken = self._take(identity.company, queue_id, None, only_task=task_id)
        if not taken:
            return {}
        entry = taken[0]
        reply: dict = {"entry": _entry(entry)}
        if task_info:
            task = self.tasks.find_one({"_id": entry["task"]}, {"company": 1, "user": 1}) or {}
            reply["task_info"] = {"company": task.get("company"), "user": task.get("user")}
        return reply

    def _take(self, company: str, queue_id: str, worker: str | None,
              only_task: str | None = None) -> tuple[dict, dict] | None:
        """Lease the head task, then pop it if it is still the head. Stale entries are dropped on the way."""
        deadline = time.monotonic() + QUEUE_BUDGET_SEC
        while time.monotonic() < deadline:
            head = self.entries.head(company, queue_id)
            if head is None or (only_task and head["task"] != only_task):
                return None
            lease = self.leases.try_grant(company, head["task"], queue_id, worker, head, self.settings.lease_sec)
            if lease is None:
                # Another claimer is taking this head right now, or one died doing so: wait, or clear it.
                if not self.leases.clear_abandoned(company, head["task"], ABANDONED_CLAIM_SEC):
                    time.sleep(random.uniform(0.001, 0.01))
                continue
            if not self.entries.pop_if_head(company, queue_id, head["task"]):
                self.leases.forget(lease["_id"])  # the head moved (claimed, removed, reordered): look again
                continue
            self.queues.changed(company, queue_id)
            if self._claimable(company, head["task"]):
                return head, lease
            self.leases.forget(lease["_id"])
            log.info("queue %s: dropped a stale entry for task %s", queue_id, head["task"])
        return None

    def _claimable(self, company: str, task_id: str) -> bool:
        task = self.tasks.find_one({"_id": task_id, "company": company}, {"status": 1})
        if not task or task.get("status") not in CLAIMABLE:
            return False
        if task["status"] == STOPPED:
            # The reference's fix for an agent reporting "stopped" on a task that was queued again meanwhile.
            if self.tasks.update_one({"_id": task_id, "company": company, "status": STOPPED},
                                     {"$set": {"status": QUEUED}}).matched_count:
                ProjectCounters(self.tasks.database).reconcile(task_id)
        return True

    def nudge(self, company: str, queue_ids: list[str]) -> None:
        """A token on each of these queues that has a task waiting: for tokens a claim consumed without
        taking from their queue."""
        for queue_id in queue_ids:
            if self.entries.head(company, queue_id) is not None and self.queues.tokens is not None:
                self.queues.tokens.publish(company, queue_id)

    def gate_changed(self, company: str, queue_ids: list[str]) -> None:
        """A claim gate may have opened (a worker's ``force`` property, a queue's ``force_workers`` tag): one
        token per subscriber of each queue with a task waiting. One token would wake whichever idle subscriber
        Redis picks, and a gated one takes nothing and hands nothing on, so the worker the gate opened for
        could wait for the reconcile; this way every idle subscriber looks once, now."""
        tokens = self.queues.tokens
        if tokens is None:
            return
        for queue_id in queue_ids:
            if self.entries.head(company, queue_id) is not None:
                count = min(tokens.consumers(company, queue_id), self.settings.max_tokens_per_queue)
                tokens.publish(company, queue_id, max(count, 1))

    def _force_property(self, company: str, worker: str) -> str | None:
        try:
            value = self.workers.get_runtime_properties(company, worker).get("force")
        except redis.RedisError as exc:
            log.warning("claim by %s: runtime properties unavailable (%s); ignoring them", worker, exc)
            return None
        return value.lower() if isinstance(value, str) else None

    # -- after the claim -------------------------------------------------------------------------------
    def start(self, identity: Identity, task_id: str, lease_id: str, reason: str | None,
              message: str | None) -> dict:
        """Start a claimed task: only while its lease holds (a lease returned to the queue is refused)."""
        if not self.leases.take(identity.company, task_id, lease_id):
            raise errors.FailedChangingTaskStatus(
                f"task {task_id}: the claim's lease expired or was cleared; the task is not this agent's to run",
                task=task_id, lease=lease_id)
        return self.transitions.started(identity, task_id, True, reason, message)

    def release(self, identity: Identity, task_id: str, lease_id: str) -> dict:
        """Give a claimed task back to the head of its queue without running it."""
        lease = self.leases.get(identity.company, task_id)
        if not lease or lease["_id"] != lease_id or not self.leases.take(identity.company, task_id, lease_id):
            raise errors.FailedChangingTaskStatus(f"task {task_id}: no such lease", task=task_id, lease=lease_id)
        released = self.entries.push(identity.company, lease["queue"], lease["entry"], at_head=True)
        if released:
            self.queues.changed(identity.company, lease["queue"], added=1)
        return {"released": int(released)}


def _entry(entry: dict) -> dict:
    return {"task": entry["task"], "added": entry.get("added")}


def reconcile_at_startup(queues: QueuesBLL) -> None:
    """One reconcile pass when an API process starts (a Redis restarted while the API was down gets its
    groups and tokens back before the watchdog's next pass). Never stops the API from starting."""
    from trackside.shared.dispatch.reconcile import Reconciler

    if queues.tokens is None:
        return
    try:
        report = Reconciler(queues.coll.database, queues.tokens.redis, queues.settings).run_pass()
        log.info("dispatch: start-up reconcile %s", report)
    except Exception:  # noqa: BLE001 - logged; the watchdog repeats the pass
        log.exception("dispatch: start-up reconcile failed; the watchdog will retry")
