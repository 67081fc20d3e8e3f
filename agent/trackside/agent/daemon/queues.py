"""The daemon's queues: ``--queue`` names or ids in priority order, the default queue without any.

Names match exactly first, then case-insensitively as clearml-agent matches them (it filters the server's
answer with ``name.lower() ==``); the server's name filter is a case-sensitive regex, so the names are
compared here, over one ``queues.get_all`` of ids and names. With ``--create-queue`` a missing queue is
created (``queues.create``); without it the daemon stops with ``QueueError`` naming it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from trackside.agent.api import ApiError

ApiCall = Callable[[str, dict], dict]
DEFAULT_NAME = "default"
PAGE_SIZE = 500


class QueueError(Exception):
    """A queue that cannot be served: unknown, ambiguous, or no default queue."""


@dataclass(frozen=True)
class Queue:
    id: str
    name: str


def resolve_queues(call: ApiCall, wanted: list[str], create: bool = False) -> list[Queue]:
    """``wanted`` in order, duplicates dropped; [] means the default queue."""
    if not wanted:
        default = _default_queue(call)
        if default:
            return [default]
        wanted = [DEFAULT_NAME]  # clearml-agent's fallback when no queue carries the default tag
    known = _all_queues(call)
    resolved: list[Queue] = []
    for token in dict.fromkeys(w.strip() for w in wanted if w.strip()):
        queue = _match(token, known)
        if queue is None and create:
            queue = Queue(call("queues.create", {"name": token})["id"], token)
            known.append(queue)
        if queue is None:
            raise QueueError(f"queue {token!r} does not exist (use --create-queue to create it)")
        if queue not in resolved:
            resolved.append(queue)
    if not resolved:
        raise QueueError("no queue given")
    return resolved


def _default_queue(call: ApiCall) -> Queue | None:
    try:
        found = call("queues.get_default", {})
    except ApiError:  # no queue (or several) with the default tag: fall back to the name
        return None
    return Queue(found["id"], found["name"])


def _all_queues(call: ApiCall) -> list[Queue]:
    queues: list[Queue] = []
    for page in range(10_000):
        reply = call("queues.get_all", {"only_fields": ["id", "name"], "search_hidden": True, "order_by": ["id"],
                                        "page": page, "page_size": PAGE_SIZE})
        found = reply.get("queues") or []
        queues += [Queue(q["id"], q.get("name") or "") for q in found]
        if len(found) < PAGE_SIZE:
            break
    return queues


def _match(token: str, known: list[Queue]) -> Queue | None:
    for queue in known:
        if queue.id == token or queue.name == token:
            return queue
    folded = [q for q in known if q.name.lower() == token.lower()]
    if len(folded) > 1:
        names = ", ".join(sorted(q.name for q in folded))
        raise QueueError(f"queue {token!r} is ambiguous: {names} (give the exact name or the id)")
    return folded[0] if folded else None
