"""``GET /health/live`` and ``GET /health/ready`` for the web app, with no authentication.

Ready while the API answers ``debug.ping`` and the file server its own liveness probe: without them no page
works. The answer names the failing dependency and nothing else.
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, current_app

from trackside.shared import health

routes = Blueprint("health", __name__)
EXTENSION = "trackside.webapp"


@routes.get(health.LIVE_PATH)
def live() -> Response:
    return _reply(200, health.LIVE_REPLY)


@routes.get(health.READY_PATH)
def ready() -> Response:
    app = current_app.extensions[EXTENSION]
    timeout = health.CHECK_TIMEOUT_SEC
    files_live = f"{app.settings.files_url}{health.LIVE_PATH}"
    return _reply(*health.ready_reply(health.run_checks([
        ("api", lambda: app.api.ping(timeout)),
        ("fileserver", lambda: app.files_http.get(files_live, timeout=timeout).status_code == 200),
    ])))


def _reply(status: int, body: dict) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.cache_control.no_store = True
    return response
