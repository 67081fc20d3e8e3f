"""``GET /health/live`` and ``GET /health/ready``: probes for orchestrators, with no authentication.

Readiness pings both MongoDB databases, Redis and, when events are stored there, Elasticsearch; the answer
names only which of them is down (``trackside.shared.health``). ``debug.ping`` stays the clients' check.
"""
from __future__ import annotations

import json

from flask import Flask, Response, current_app

from trackside.api.services import AppServices
from trackside.shared import health

EXTENSION = "trackside.health"


class Readiness:
    def __init__(self, services: AppServices):
        config = services.config
        # Its own client: the API's has no read timeout, and a probe must answer within seconds.
        self._redis = health.redis_client(config.get_config("hosts.redis.apiserver"))
        self._checks = [("mongo", health.mongo_check(services.backend)),
                        ("mongo", health.mongo_check(services.auth_db)),
                        ("redis", health.redis_check(self._redis))]
        if config.get("services.events.store", "mongo") == "elastic":
            self._checks.append(("elastic", health.elastic_check(services.events.store.client)))

    def __call__(self) -> dict[str, bool]:
        return health.run_checks(self._checks)


def register(app: Flask, services: AppServices) -> None:
    """Static rules: werkzeug matches them before the catch-all ``/<path>`` of the API calls."""
    app.extensions[EXTENSION] = Readiness(services)
    app.add_url_rule(health.LIVE_PATH, "health_live", live)
    app.add_url_rule(health.READY_PATH, "health_ready", ready)


def live() -> Response:
    return _reply(200, health.LIVE_REPLY)


def ready() -> Response:
    return _reply(*health.ready_reply(current_app.extensions[EXTENSION]()))


def _reply(status: int, body: dict) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.cache_control.no_store = True
    return response
