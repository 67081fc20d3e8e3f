"""The events store a deployment configured: ``services.events.store`` picks the backend, ``hosts`` says where.

- ``mongo``: the ``events`` collection of the given backend database.
- ``elastic``: the cluster of ``hosts.elastic.events`` (see :mod:`trackside.shared.storage.elastic`), with
  ``services.events.elastic.refresh`` ("wait_for" or "true": how writes become visible to reads).
"""
from __future__ import annotations

from typing import Any

from trackside.shared.events.store import EventStore, open_store


def store_from_config(config: Any, mongo_db: Any) -> EventStore:
    """The configured store; ``config`` is the loaded configuration tree, ``mongo_db`` the backend database."""
    backend = config.get("services.events.store", "mongo")
    if backend == "elastic":
        from trackside.shared.storage.elastic import connect  # the client library is needed only when chosen

        return open_store("elastic", client=connect(config.get_config("hosts.elastic.events")),
                          refresh=config.get("services.events.elastic.refresh", "wait_for"))
    return open_store(backend, db=mongo_db)
