"""The live worker registry's Redis key layout, and a read-only view of it for processes other than the API.

The API writes the registry (``trackside.api.bll.worker_registry``, where the layout is described); the
watchdog only needs to know which tasks live workers say they run. Reading never prunes or writes.
"""
from __future__ import annotations

import json
import time

import redis

PREFIX = "trackside:workers"


def record_key(company: str, worker: str) -> str:
    """A worker's record (JSON), with a TTL of the worker's timeout: it exists while the worker is alive."""
    return f"{PREFIX}:{company}:w:{worker}"


def all_key(company: str) -> str:
    """Sorted set of the company's worker ids scored by record expiry (an index; may hold dead members)."""
    return f"{PREFIX}:{company}:all"


class LiveWorkers:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def running_tasks(self, company: str) -> dict[str, str]:
        """``{task id: worker id}`` for every live worker of ``company`` whose latest report names a task."""
        workers = self.redis.zrangebyscore(all_key(company), time.time(), "+inf")
        if not workers:
            return {}
        running = {}
        for value in self.redis.mget([record_key(company, worker) for worker in workers]):
            record = json.loads(value) if value else None
            task = (record or {}).get("task") or {}
            if task.get("id"):
                running[task["id"]] = record.get("id")
        return running
