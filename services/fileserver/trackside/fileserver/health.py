"""``GET /health/live`` and ``GET /health/ready`` for the file server, with no authentication.

Ready while its storage folder and staging folder are writable directories (a volume that went away or turned
read-only fails). With authentication on, the answer also names whether the stores of token revocations
answer (``mongo``: the auth database, ``redis``), without failing on them: the file server keeps serving
while they are down (``trackside.shared.revocation``), so a probe must not take it out of service.
"""
from __future__ import annotations

import json
import os

from flask import Blueprint, Response, current_app
from pyhocon import ConfigTree

from trackside.fileserver.storage import Storage
from trackside.shared import health
from trackside.shared.revocation import TokenRevocations

EXTENSION = "trackside.fileserver.health"
# Reported, never failing readiness.
OPTIONAL = ("mongo", "redis")
# Static rules: werkzeug matches them before the ``/<path>`` file routes, so no stored file can shadow
# them (a file stored as ``health/live`` is not served by GET).
routes = Blueprint("health", __name__)


class Readiness:
    def __init__(self, storage: Storage, revocations: TokenRevocations | None, config: ConfigTree):
        self._checks: list[health.Check] = [("storage", lambda: _writable_folders(storage))]
        if revocations is not None:
            # Its own Redis client: a probe answers within seconds and never retries.
            redis_probe = health.redis_client(config.get_config("hosts.redis.apiserver"))
            self._checks += [("mongo", health.mongo_check(revocations.access.auth_db)),
                             ("redis", health.redis_check(redis_probe))]

    def __call__(self) -> tuple[int, dict]:
        return health.ready_reply(health.run_checks(self._checks), optional=OPTIONAL)


@routes.get(health.LIVE_PATH)
def live() -> Response:
    return _reply(200, health.LIVE_REPLY)


@routes.get(health.READY_PATH)
def ready() -> Response:
    return _reply(*current_app.extensions[EXTENSION]())


def _writable_folders(storage: Storage) -> bool:
    return all(folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
               for folder in (storage.root, storage.staging))


def _reply(status: int, body: dict) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.cache_control.no_store = True
    return response
