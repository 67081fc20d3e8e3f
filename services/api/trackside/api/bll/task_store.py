"""Reading one task and writing it safely: the primitives the task modules share.

Writes that depend on what was read are conditional: the update's filter repeats the status (and, for
read-modify-write edits, the old value), so a concurrent change makes the write miss instead of being lost.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from pymongo.collection import Collection

from trackside.api import errors
from trackside.api.bll.common import get_one
from trackside.api.context import Identity
from trackside.shared.timeutil import utcnow

# Read-modify-write edits retry this many times on fresh data before giving up.
MODIFY_ATTEMPTS = 5


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

    def load(self, company: str, task_id: str, only_fields: list[str] | None = None) -> dict:
        """The task in API shape (``id``); InvalidTaskId (400/101) naming the id when there is none."""
        if only_fields:
            only_fields = [*only_fields, "status", "project"]
        return get_one(self.coll, company, task_id, errors.InvalidTaskId, only_fields, kind="task")

    def update_if_status(self, company: str, task: dict, update: dict, also: dict | None = None) -> None:
        """Apply ``update`` only while the task keeps the status it was read with (and matches ``also``)."""
        query = {"_id": task["id"], "company": company, "status": task.get("status"), **(also or {})}
        if not self.coll.update_one(query, update).matched_count:
            raise self.lost_race(task["id"], task.get("status"))

    def modify(self, identity: Identity, task_id: str, path: str, change: Callable[[Any], Any],
               check: Callable[[dict], None]) -> int:
        """Replace the value at ``path`` with ``change(old value)``, atomically.

        ``check(task)`` raises when the task may not be changed (its status, typically). The write only
        lands if neither the status nor the value changed since they were read; otherwise it is redone.
        """
        for _ in range(MODIFY_ATTEMPTS):
            task = self.load(identity.company, task_id, [path])
            check(task)
            old = get_path(task, path)
            query = {"_id": task_id, "company": identity.company, "status": task.get("status"), path: old}
            update = {"$set": {path: change(copy.deepcopy(old)), **changed_by(identity)}}
            if self.coll.update_one(query, update).matched_count:
                return 1
        raise self.lost_race(task_id, None)

    @staticmethod
    def lost_race(task_id: str, status: str | None) -> errors.APIError:
        return errors.FailedChangingTaskStatus(
            f"{errors.FailedChangingTaskStatus.default_message} (task {task_id})", task=task_id, status=status,
        )
