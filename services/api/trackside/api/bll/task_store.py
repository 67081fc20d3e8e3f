"""Reading one task and writing it safely: the primitives the task modules share.

Status changes are conditional: the update's filter repeats the status just read, so a concurrent change
makes the write miss (400/121) instead of being lost. Edits of contents are single atomic updates of exactly
the fields they change, filtered on the statuses that allow them (:meth:`TaskStore.update_contents`): they
never read-modify-write, so concurrent edits of different fields all land.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from pymongo.collection import Collection

from trackside.api import errors
from trackside.api.bll.common import get_one
from trackside.api.bll.task_params import unescape_task
from trackside.api.context import Identity
from trackside.shared.project_counters import ProjectCounters, touches_counted
from trackside.shared.timeutil import utcnow

# An edit refused by a status that allows it again when re-read (a status flapping under the edit) is redone
# this many times before the caller gets a conflict.
EDIT_ATTEMPTS = 5


def changed_by(identity: Identity) -> dict:
    """The bookkeeping fields every user write sets."""
    now = utcnow()
    return {"last_update": now, "last_change": now, "last_changed_by": identity.user}


def get_path(doc: dict, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class TaskStore:
    def __init__(self, coll: Collection):
        self.coll = coll
        # Project statistics follow every write of a counted field (status, project, archived...).
        self.counters = ProjectCounters(coll.database)

    def counted(self, update: dict, *task_ids: str) -> None:
        """After a write: the tasks' project counters follow it when it touched a counted field."""
        if touches_counted(update):
            self.counters.reconcile_many(task_ids)

    def load(self, company: str, task_id: str, only_fields: list[str] | None = None,
             allow_public: bool = False) -> dict:
        """The task in API shape (``id``); InvalidTaskId (400/101) naming the id when there is none."""
        if only_fields:
            only_fields = [*only_fields, "status", "project", "name"]  # name: for the domain events
        return unescape_task(get_one(self.coll, company, task_id, errors.InvalidTaskId, only_fields, kind="task",
                                     allow_public=allow_public))

    def update_if_status(self, company: str, task: dict, update: dict, also: dict | None = None) -> None:
        """Apply ``update`` only while the task keeps the status it was read with (and matches ``also``)."""
        query = {"_id": task["id"], "company": company, "status": task.get("status"), **(also or {})}
        if not self.coll.update_one(query, update).matched_count:
            raise self.lost_race(task["id"], task.get("status"))
        self.counted(update, task["id"])

    def try_update(self, identity: Identity, task_id: str, update: dict, statuses: Iterable[str] | None,
                   check: Callable[[dict], None], precondition: dict | None = None,
                   array_filters: list[dict] | None = None) -> bool:
        """Apply ``update`` in one write while the task's status is one of ``statuses`` (None: any) and it
        matches ``precondition``; the bookkeeping fields are set with it.

        On a miss the task is re-read: a missing task raises 400/101 and ``check(task)`` raises when its status
        refuses the edit. False means the write may be retried: only the precondition failed, or the status
        allowed it again by the time it was re-read."""
        query = {"_id": task_id, "company": identity.company, **(precondition or {})}
        if statuses is not None:
            query["status"] = {"$in": sorted(statuses)}
        update = {**update, "$set": {**update.get("$set", {}), **changed_by(identity)}}
        if self.coll.update_one(query, update, array_filters=array_filters).matched_count:
            self.counted(update, task_id)
            return True
        check(self.load(identity.company, task_id, ["id"]))
        return False

    def update_contents(self, identity: Identity, task_id: str, update: dict, statuses: Iterable[str] | None,
                        check: Callable[[dict], None]) -> int:
        """:meth:`try_update` with no precondition, redone while a flapping status made it miss."""
        for _ in range(EDIT_ATTEMPTS):
            if self.try_update(identity, task_id, update, statuses, check):
                return 1
        raise self.lost_race(task_id, None)

    @staticmethod
    def lost_race(task_id: str, status: str | None) -> errors.APIError:
        return errors.FailedChangingTaskStatus(
            f"{errors.FailedChangingTaskStatus.default_message} (task {task_id})", task=task_id, status=status,
        )
