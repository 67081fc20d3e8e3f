"""Queues: a document per queue whose ``entries`` list is the durable order of queued tasks.

Entry writes go through :class:`~trackside.shared.dispatch.entries.QueueEntries` (conditional updates
only); each change adds a queue metrics sample, and each new entry a wake-up token for subscribed agents
(ARCHITECTURE.md, "Dispatch design"). Claims live in :mod:`queue_claims`.
"""
from __future__ import annotations

import logging

import redis
from pyhocon import ConfigTree
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from trackside.api import errors
from trackside.api.bll.common import get_all, get_one, insert_unique
from trackside.api.bll.models import metadata_doc, metadata_field
from trackside.api.context import Identity
from trackside.shared.dispatch.entries import Contention, QueueEntries
from trackside.shared.dispatch.keys import stream_key
from trackside.shared.dispatch.leases import LeaseStore
from trackside.shared.dispatch.queue_metrics import QueueMetricsRecorder
from trackside.shared.dispatch.settings import DispatchSettings
from trackside.shared.dispatch.tokens import TokenStreams
from trackside.shared import domain_events
from trackside.shared.ids import is_id, new_id
from trackside.shared.storage import redis as redis_store
from trackside.shared.storage.query import QuerySpec
from trackside.shared.timeutil import utcnow

log = logging.getLogger(__name__)
DEFAULT_TAG = "default"
SPEC = QuerySpec(pattern_fields=("name", "display_name"),
                 list_fields=("id", "tags", "system_tags", "user", "metadata.*"))
UPDATABLE = ("name", "display_name", "tags", "system_tags", "metadata")
# Positions for reposition(): the head and the tail.
FRONT, BACK = "front", "back"
# Read-modify-write list edits retry this many times on fresh data.
EDIT_ATTEMPTS = 20


class QueuesBLL:
    def __init__(self, db: Database, config: ConfigTree | None = None):
        self.coll = db["queues"]
        self.tasks = db["tasks"]
        self.entries = QueueEntries(self.coll)
        self.leases = LeaseStore(db)
        self.metrics = QueueMetricsRecorder(db)
        self.settings = DispatchSettings.from_config(config) if config is not None else DispatchSettings()
        self.hidden_tags = list(config.get("services.queues.hidden_tags", [])) if config is not None else []
        # Tokens go through a client of their own with short timeouts: a slow Redis must not hold an enqueue.
        self.tokens = TokenStreams(redis_store.connect(
            config.get_config("hosts.redis.apiserver"), socket_timeout=2.0, socket_connect_timeout=1.0,
            health_check_interval=0,
        )) if config is not None else None

    def setup(self) -> None:
        self.leases.ensure_indexes()
        self.metrics.ensure_indexes()

    def ensure_default(self, company: str, name: str) -> None:
        if self.coll.find_one({"company": company, "system_tags": DEFAULT_TAG}, {"_id": 1}):
            return
        doc = self._new_doc(company, None, name, tags=[], system_tags=[DEFAULT_TAG])
        try:
            insert_unique(self.coll, doc, f"queue {name!r}")
        except errors.ExpectedUniqueData:  # another worker process created it first
            pass

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, company: str, queue_id: str, only_fields: list[str] | None = None,
            max_task_entries: int | None = None) -> dict:
        if not is_id(queue_id):
            # The SDK resolves names by expecting this call to fail for a name.
            raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)
        queue = get_one(self.coll, company, queue_id, errors.InvalidQueueId, only_fields, kind="queue")
        return _limit_entries(queue, max_task_entries)

    def get_all(self, company: str, params: dict) -> list[dict]:
        queues = get_all(self.coll, company, params, SPEC, extra_filter=self._hidden_filter(params),
                         hidden_aware=False)
        return [_limit_entries(q, params.get("max_task_entries")) for q in queues]

    def get_all_ex(self, company: str, params: dict, workers: list[dict]) -> list[dict]:
        """get_all with each entry's task as ``{id, name}`` and the live ``workers`` listening on each queue."""
        queues = self.get_all(company, params)
        task_ids = [e["task"] for q in queues for e in q.get("entries") or [] if isinstance(e.get("task"), str)]
        names = {t["_id"]: t.get("name") for t in self.tasks.find({"_id": {"$in": task_ids}, "company": company},
                                                                   {"name": 1})}
        listeners: dict[str, list[dict]] = {}
        for worker in workers:
            for queue in worker.get("queues") or []:
                listeners.setdefault(queue["id"], []).append(
                    {"name": worker["id"], "ip": worker.get("ip"), "key": worker.get("key"), "task": worker.get("task")})
        for queue in queues:
            if "entries" in queue:
                queue["entries"] = [{**e, "task": {"id": e["task"], "name": names.get(e["task"])}}
                                    for e in queue["entries"]]
            queue["workers"] = listeners.get(queue["id"], [])
        return queues

    def _hidden_filter(self, params: dict) -> dict | None:
        """Queues with a hidden system tag (``services.queues.hidden_tags``) are left out unless asked for
        by id or name, or with ``search_hidden``."""
        if not self.hidden_tags or params.get("search_hidden") or params.get("id") or params.get("name"):
            return None
        return {"system_tags": {"$nin": self.hidden_tags}}

    def get_default(self, company: str) -> dict:
        found = list(self.coll.find({"company": company, "system_tags": DEFAULT_TAG}, {"name": 1}).limit(2))
        if not found:
            raise errors.NoDefaultQueue()
        if len(found) > 1:
            raise errors.MultipleDefaultQueues()
        return {"id": found[0]["_id"], "name": found[0]["name"]}

    def peek(self, company: str, queue_id: str) -> str | None:
        self.require(company, queue_id)
        head = self.entries.head(company, queue_id)
        return head["task"] if head else None

    def count(self, company: str, queue_id: str) -> int:
        num = self.entries.count(company, queue_id)
        if num is None:
            raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)
        return num

    def require(self, company: str, queue_id: str) -> None:
        if not self.coll.find_one({"_id": queue_id, "company": company}, {"_id": 1}):
            raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)

    def require_all(self, company: str, queue_ids: list[str]) -> dict[str, dict]:
        """The queues (``_id``, ``tags``) by id; InvalidQueueId naming any unknown one."""
        found = {q["_id"]: q for q in self.coll.find({"_id": {"$in": list(queue_ids)}, "company": company},
                                                      {"tags": 1})}
        missing = [q for q in queue_ids if q not in found]
        if missing:
            raise errors.InvalidQueueId(f"invalid queue ids: {missing}", ids=missing)
        return found

    # -- creating and editing --------------------------------------------------------------------------
    def create(self, identity: Identity, name: str, display_name: str | None, tags: list, system_tags: list,
               metadata: list[dict] | None = None) -> str:
        doc = self._new_doc(identity.company, identity.user, name, tags, system_tags, display_name)
        doc["metadata"] = metadata_doc(metadata or [])
        insert_unique(self.coll, doc, f"queue {name!r}")
        domain_events.publish_object("queue.created", identity.company, doc)
        return doc["_id"]

    def get_or_create(self, identity: Identity, name: str) -> str:
        """The id of the queue called ``name``, created when missing (tasks.enqueue with ``queue_name``)."""
        found = self.coll.find_one({"company": identity.company, "name": name}, {"_id": 1})
        if found:
            return found["_id"]
        try:
            return self.create(identity, name, None, [], [])
        except errors.ExpectedUniqueData:  # another request created it first
            return self.coll.find_one({"company": identity.company, "name": name}, {"_id": 1})["_id"]

    def update(self, company: str, queue_id: str, fields: dict) -> dict:
        """Set the given fields; ``{updated, fields}`` as the API answers."""
        self.require(company, queue_id)
        changes = {key: fields[key] for key in UPDATABLE if fields.get(key) is not None}
        if not changes:
            return {"updated": 0, "fields": {}}
        stored = dict(changes)
        if "metadata" in stored:
            stored["metadata"] = metadata_doc(stored["metadata"])
        try:
            self.coll.update_one({"_id": queue_id, "company": company}, {"$set": {**stored, "last_update": utcnow()}})
        except DuplicateKeyError:
            raise errors.ExpectedUniqueData(f"queue {changes['name']!r} already exists", name=changes["name"]) from None
        if "metadata" in changes:
            changes["metadata"] = {item["key"]: item for item in stored["metadata"].values()}
        return {"updated": 1, "fields": changes}

    def add_or_update_metadata(self, company: str, queue_id: str, items: list[dict], replace: bool) -> int:
        stored = metadata_doc(items)
        change = {"metadata": stored} if replace else {f"metadata.{field}": item for field, item in stored.items()}
        return self._set(company, queue_id, change)

    def delete_metadata(self, company: str, queue_id: str, keys: list[str]) -> int:
        result = self.coll.update_one(
            {"_id": queue_id, "company": company},
            {"$unset": {f"metadata.{metadata_field(key)}": 1 for key in set(keys)}, "$set": {"last_update": utcnow()}},
        )
        if not result.matched_count:
            raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)
        return 1

    def _set(self, company: str, queue_id: str, change: dict) -> int:
        if not self.coll.update_one({"_id": queue_id, "company": company},
                                    {"$set": {**change, "last_update": utcnow()}}).matched_count:
            raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)
        return 1

    def delete(self, company: str, queue_id: str, force: bool) -> list[str]:
        """Delete the queue; refused while it holds entries unless ``force``. The ids of the tasks that were
        in it or claimed from it (their status is the caller's to restore)."""
        queue = self.get(company, queue_id, only_fields=["id", "name", "entries"])
        entries = queue.get("entries") or []
        if entries and not force:
            raise errors.QueueNotEmpty(f"queue {queue_id} holds {len(entries)} task(s): use force=true to delete",
                                       id=queue_id)
        self.coll.delete_one({"_id": queue_id, "company": company})
        domain_events.publish_object("queue.deleted", company, queue)
        leased = self.leases.drop_for_queue(company, queue_id)
        self._delete_stream(company, queue_id)
        return [e["task"] for e in entries] + [task for task in leased if task not in {e["task"] for e in entries}]

    def _delete_stream(self, company: str, queue_id: str) -> None:
        if self.tokens is None:
            return
        try:
            self.tokens.redis.delete(stream_key(company, queue_id))
        except redis.RedisError as exc:
            log.warning("queue %s deleted; its token stream stays until Redis is back: %s", queue_id, exc)

    # -- entries ---------------------------------------------------------------------------------------
    def add_entry(self, company: str, queue_id: str, task_id: str) -> None:
        """Append ``task_id`` (TaskAlreadyQueued if it is there) and wake one subscribed agent."""
        if not self.entries.push(company, queue_id, {"task": task_id, "added": utcnow()}):
            self.require(company, queue_id)  # raises for an unknown queue
            raise errors.TaskAlreadyQueued(task=task_id, queue=queue_id)
        self.changed(company, queue_id, added=1)

    def remove_entry(self, company: str, queue_id: str | None, task_id: str, drop_lease: bool = True) -> int:
        """Take ``task_id`` out of ``queue_id`` (or of every queue), and (``drop_lease``) out of any claim not
        yet started. The number of queues it left."""
        if drop_lease:
            self.leases.drop(company, task_id)
        left = self.entries.remove(company, queue_id, task_id)
        for queue in left:
            self.changed(company, queue)
        return len(left)

    def drop_lease(self, company: str, task_id: str) -> int:
        """Forget a claim on ``task_id`` that was not started: ``tasks.started``, ``stop``, ``dequeue``..."""
        return self.leases.drop(company, task_id)

    def remove_task(self, company: str, queue_id: str, task_id: str) -> int:
        """queues.remove_task: InvalidQueueOrTaskNotQueued when the task is not in that queue."""
        if not self.entries.remove(company, queue_id, task_id):
            raise errors.InvalidQueueOrTaskNotQueued(task=task_id, queue=queue_id)
        self.changed(company, queue_id)
        return 1

    def clear(self, company: str, queue_id: str) -> list[str]:
        """Empty the queue; the ids of the tasks it held."""
        for _ in range(EDIT_ATTEMPTS):
            entries = self.entries.read(company, queue_id)
            if entries is None:
                raise errors.InvalidQueueId(f"invalid queue id: {queue_id!r}", id=queue_id)
            if not entries:
                return []
            if self.entries.replace(company, queue_id, entries, []):
                self.changed(company, queue_id)
                return [e["task"] for e in entries]
        raise errors.InternalError(f"queue {queue_id}: could not clear it under contention")

    def reposition(self, company: str, queue_id: str, task_id: str, move: int | str) -> int:
        """Move the task ``move`` places towards the tail (negative: towards the head), or to FRONT/BACK; the
        new position. The whole list is swapped in one conditional write, so a concurrent claim or edit
        makes the write miss and the move is redone on the new order."""
        for _ in range(EDIT_ATTEMPTS):
            entries = self.entries.read(company, queue_id)
            position = next((i for i, e in enumerate(entries or []) if e.get("task") == task_id), None)
            if position is None:
                raise errors.InvalidQueueOrTaskNotQueued(task=task_id, queue=queue_id)
            rest = entries[:position] + entries[position + 1:]
            if move == FRONT:
                target = 0
            elif move == BACK:
                target = len(rest)
            else:
                target = min(max(position + int(move), 0), len(rest))
            if target == position:
                return position
            if self.entries.replace(company, queue_id, entries, rest[:target] + [entries[position]] + rest[target:]):
                return target
        raise errors.InternalError(f"queue {queue_id}: could not move task {task_id} under contention")

    def pop_entry(self, company: str, queue_id: str, budget_sec: float = 30.0) -> dict | None:
        """Take the head entry exactly once across concurrent callers (no lease: see QueueClaims)."""
        try:
            entry = self.entries.pop_head(company, queue_id, budget_sec)
        except Contention as exc:
            raise errors.InternalError(str(exc)) from None
        return entry

    def changed(self, company: str, queue_id: str, added: int = 0) -> None:
        """After a change to the queue's entries: a metrics sample, and a token per added entry."""
        if added and self.tokens is not None:
            self.tokens.publish(company, queue_id, added)
        self.metrics.record(company, queue_id)

    def _new_doc(self, company: str, user: str | None, name: str, tags: list, system_tags: list,
                 display_name: str | None = None) -> dict:
        now = utcnow()
        return {
            "_id": new_id(), "company": company, "user": user, "name": name, "display_name": display_name,
            "tags": tags or [], "system_tags": system_tags or [], "entries": [], "metadata": {},
            "created": now, "last_update": now,
        }


def _limit_entries(queue: dict, max_task_entries: int | None) -> dict:
    if max_task_entries and isinstance(queue.get("entries"), list):
        queue["entries"] = queue["entries"][:max_task_entries]
    return _api_metadata(queue)


def _api_metadata(queue: dict) -> dict:
    """Metadata keyed by the real keys again (stored escaped, as for models)."""
    metadata = queue.get("metadata")
    if isinstance(metadata, dict):
        queue["metadata"] = {item.get("key", field): item for field, item in metadata.items() if isinstance(item, dict)}
    return queue

