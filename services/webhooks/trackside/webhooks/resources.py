"""The process's configuration, database and Redis clients, made once on first use (RQ jobs call in here:
a worker runs many jobs in one process, so the clients are reused)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from trackside.shared.config import load_config
from trackside.shared.storage import mongo, redis as redis_store
from trackside.shared.webhooks import store
from trackside.webhooks.settings import Settings


@dataclass
class Resources:
    config: Any
    settings: Settings
    db: Any
    redis: Any  # decoded replies (str)


_lock = threading.Lock()
_resources: Resources | None = None


def get() -> Resources:
    global _resources
    with _lock:
        if _resources is None:
            _resources = build(load_config())
        return _resources


def build(config) -> Resources:
    db = mongo.connect(config.get("hosts.mongo.backend.host"))
    store.ensure_indexes(db)
    client = redis_store.connect(config.get_config("hosts.redis.apiserver"), socket_timeout=10.0,
                                 socket_connect_timeout=3.0)
    return Resources(config, Settings.from_config(config), db, client)


def use(resources: Resources) -> None:
    """Install ready-made resources (the service process builds them itself at start)."""
    global _resources
    with _lock:
        _resources = resources
