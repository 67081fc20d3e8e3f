"""A tiny probe listener for services that serve nothing else over HTTP: ``GET /health/live`` and
``GET /health/ready`` from a stdlib server in a daemon thread (the watchdog, the webhooks service and its workers).

A port that is taken is logged and the service runs on without the listener: its work matters more than its
probe. Port 0 picks a free one (several workers on one machine).
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from trackside.shared import health

log = logging.getLogger("trackside.health")


def readiness(config) -> Callable[[], dict[str, bool]]:
    """MongoDB's backend database and Redis, pinged with clients of their own (short timeouts)."""
    from trackside.shared.storage import mongo

    db = mongo.connect(config.get("hosts.mongo.backend.host"))
    client = health.redis_client(config.get_config("hosts.redis.apiserver"))
    checks = [("mongo", health.mongo_check(db)), ("redis", health.redis_check(client))]
    return lambda: health.run_checks(checks)


def start(host: str, port: int, ready: Callable[[], dict[str, bool]], name: str) -> ThreadingHTTPServer | None:
    """Serve probes in a daemon thread; None when the address cannot be bound."""
    handler = type("Handler", (_Handler,), {"ready": staticmethod(ready), "server_version": name})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        log.error("%s: health listener on %s:%s not started: %s", name, host, port, exc.strerror or exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("%s: health listener on %s:%s", name, host, server.server_address[1])
    return server


class _Handler(BaseHTTPRequestHandler):
    ready: Callable[[], dict[str, bool]]
    sys_version = ""  # the Server header names no Python version

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == health.LIVE_PATH:
            self._reply(200, health.LIVE_REPLY)
        elif path == health.READY_PATH:
            self._reply(*health.ready_reply(self.ready()))
        else:
            self._reply(404, {"status": "not found"})

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - probes every few seconds: debug only
        log.debug("%s " + format, self.address_string(), *args)
