"""``GET /health/live`` and ``GET /health/ready`` for the file server, with no authentication.

The file server depends on its storage folder alone: ready while the folder and its staging folder are
writable directories (a volume that went away or turned read-only fails). The answer says only that.
"""
from __future__ import annotations

import json
import os

from flask import Blueprint, Response, current_app

from trackside.fileserver.views import EXTENSION
from trackside.shared import health

# Static rules: werkzeug matches them before the ``/<path>`` file routes, so no stored file can shadow
# them (a file stored as ``health/live`` is not served by GET).
routes = Blueprint("health", __name__)


@routes.get(health.LIVE_PATH)
def live() -> Response:
    return _reply(200, health.LIVE_REPLY)


@routes.get(health.READY_PATH)
def ready() -> Response:
    storage = current_app.extensions[EXTENSION].storage
    return _reply(*health.ready_reply(health.run_checks([("storage", lambda: _writable_folders(storage))])))


def _writable_folders(storage) -> bool:
    return all(folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
               for folder in (storage.root, storage.staging))


def _reply(status: int, body: dict) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.cache_control.no_store = True
    return response
