"""Workers: the agents that report to the server. Liveness and runtime properties live in Redis
(:mod:`worker_registry`); machine statistics history in MongoDB (:mod:`worker_stats`)."""
from __future__ import annotations

import redis
from pyhocon import ConfigTree

from trackside.api.bll.worker_registry import WorkerRegistry


class WorkersBLL:
    def __init__(self, redis_client: redis.Redis, config: ConfigTree):
        self.registry = WorkerRegistry(redis_client)
        self.default_timeout = int(config.get("services.workers.default_worker_timeout_sec", 60))

    # -- read by other domains (dispatch at claim time, tasks.stop, tasks.enqueue) ---------------------------
    def get_runtime_properties(self, company: str, worker: str) -> dict[str, str]:
        """The worker's runtime properties that have not expired, as ``{key: value}``."""
        return {prop["key"]: prop["value"] for prop in self.registry.get_properties(company, worker)}

    def is_alive(self, company: str, worker: str) -> bool:
        return self.registry.is_alive(company, worker)

    def listening_on(self, company: str, queue: str) -> list[str]:
        """Ids of the live workers that listen on ``queue``."""
        return self.registry.listening_on(company, queue)
