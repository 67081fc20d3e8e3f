"""The watchdog's health listener: ``GET /health/live`` and ``GET /health/ready`` on ``watchdog.health.listen``.

The watchdog serves nothing else over HTTP, so a tiny stdlib server in a daemon thread answers probes.
Readiness pings the MongoDB backend database and Redis with clients of its own (short timeouts). A port that
is taken is logged and the watchdog runs on without the listener: its jobs matter more than its probe.
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from trackside.shared import health
from trackside.shared.storage import mongo

log = logging.getLogger("trackside.watchdog.health")


def readiness(config) -> Callable[[], dict[str, bool]]:
    db = mongo.connect(config.get("hosts.mongo.backend.host"))
    client = health.redis_client(config.get_config("hosts.redis.apiserver"))
    checks = [("mongo", health.mongo_check(db)), ("redis", health.redis_check(client))]
    return lambda: health.run_checks(checks)


def start(config) -> ThreadingHTTPServer | None:
    """Serve probes in a daemon thread; None when the address cannot be bound."""
    host, port = config.get("watchdog.health.listen.host"), config.get_int("watchdog.health.listen.port")
    handler = type("Handler", (_Handler,), {"ready": staticmethod(readiness(config))})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        log.error("health listener on %s:%s not started: %s", host, port, exc.strerror or exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("health listener on %s:%s", host, server.server_address[1])
    return server


class _Handler(BaseHTTPRequestHandler):
    ready: Callable[[], dict[str, bool]]
    server_version = "trackside-watchdog"
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
