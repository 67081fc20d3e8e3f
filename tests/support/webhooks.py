"""Webhooks in tests: the webhooks service and N RQ workers as real processes against the suite's MongoDB,
Valkey and API (their configuration: the API's environment), and a loopback receiver that records what it
gets and answers with the statuses it is told to.

    receiver = Receiver().start()
    stack = WebhooksStack(api_server, tmp_path, workers=2, env={...}).start()
    hook_id, secret = insert_webhook(backend, api_server, company, receiver.url("/a"), ["task.status_changed"])
    ...
    stack.stop(); receiver.stop()
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from pyhocon import ConfigFactory

from trackside.shared.embedded.process import ServerProcess, free_port
from trackside.shared.ids import new_id
from trackside.shared.webhooks import sealing, store

# Quick settings for tests: private (loopback) targets, short retries and a fast sweep of lost jobs.
TEST_ENV = {
    "CLEARML__SERVICES__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
    "CLEARML__SERVICES__WEBHOOKS__RETRY_SCHEDULE": "[0.5, 1, 2]",
    "CLEARML__SERVICES__WEBHOOKS__REQUEST_TIMEOUT": "3",
    "CLEARML__SERVICES__WEBHOOKS__SWEEP_INTERVAL_SEC": "1",
    "CLEARML__SERVICES__WEBHOOKS__SWEEP_OVERDUE_SEC": "3",
    "CLEARML__SERVICES__WEBHOOKS__CLAIM_IDLE_MS": "3000",
}


# -- the receiver ---------------------------------------------------------------------------------------------
@dataclass
class Received:
    method: str
    path: str
    headers: dict  # lower-case names
    body: bytes
    at: float  # time.time()
    status: int  # what was answered

    def json(self):
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every request. ``plan(path, [503, 503])`` makes the next
    requests to ``path`` answer those statuses in turn (then 200); ``headers`` go with the planned answers
    (e.g. Retry-After); ``hold(path, seconds)`` delays answers (to catch a worker mid-delivery)."""

    def __init__(self):
        self.requests: list[Received] = []
        self._plans: dict[str, list[tuple[int, dict]]] = {}
        self._holds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                receiver._answer(self)

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def plan(self, path: str, statuses: list[int], headers: dict | None = None) -> None:
        with self._lock:
            self._plans[path] = [(status, dict(headers or {})) for status in statuses]

    def hold(self, path: str, seconds: float) -> None:
        with self._lock:
            self._holds[path] = seconds

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path
        with self._lock:
            planned = self._plans.get(path) or []
            status, headers = planned.pop(0) if planned else (200, {})
            hold = self._holds.get(path, 0)
        if hold:
            time.sleep(hold)
        with self._lock:
            self.requests.append(Received(handler.command, path, {k.lower(): v for k, v in handler.headers.items()},
                                          body, time.time(), status))
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender died waiting (a killed worker): what it sent is recorded


# -- the service and its workers -----------------------------------------------------------------------------
@dataclass
class WebhooksStack:
    """``trackside-webhooks`` and ``workers`` RQ workers, configured like ``api_server`` (its configuration
    folder, MongoDB and Redis) plus ``TEST_ENV`` and ``env``."""
    api_server: object
    work_dir: Path
    workers: int = 1
    env: dict = field(default_factory=dict)
    service: ServerProcess | None = None
    worker_processes: list[ServerProcess] = field(default_factory=list)

    def _env(self, **extra: str) -> dict:
        return {**self.api_server.env, **TEST_ENV, **self.env, **extra}

    def start(self) -> "WebhooksStack":
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.start_service()
        for _ in range(self.workers):
            self.add_worker()
        return self

    def start_service(self) -> ServerProcess:
        port = free_port()
        self.service = ServerProcess(
            "webhooks", [sys.executable, "-m", "trackside.webhooks", "serve"], ready=lambda: _ready(port),
            port=port, log_path=self.work_dir / "webhooks.log",
            env=self._env(CLEARML__SERVICES__WEBHOOKS__HEALTH__LISTEN__PORT=str(port),
                          CLEARML__SERVICES__WEBHOOKS__CONSUMER_NAME='"tests"'),
        ).start(timeout=60)
        return self.service

    def add_worker(self) -> ServerProcess:
        port = free_port()
        index = len(self.worker_processes)
        worker = ServerProcess(
            f"webhooks-worker-{index}", [sys.executable, "-m", "trackside.webhooks", "worker"],
            ready=lambda: _ready(port), port=port, log_path=self.work_dir / f"worker-{index}.log",
            env=self._env(CLEARML__SERVICES__WEBHOOKS__WORKER_HEALTH__LISTEN__PORT=str(port)),
        ).start(timeout=60)
        self.worker_processes.append(worker)
        return worker

    def kill_worker(self, index: int = 0) -> None:
        """SIGKILL the worker and its process group (its RQ scheduler), as a container kill does."""
        worker = self.worker_processes[index]
        if worker.running():
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.proc.wait(10)

    def restart_service(self) -> None:
        self.service.stop()
        self.start_service()

    def logs(self) -> str:
        paths = [self.work_dir / "webhooks.log"] + [w.log_path for w in self.worker_processes]
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in paths if p.exists())

    def stop(self) -> None:
        """Stop every process at once (each finishes its current job: RQ's warm shutdown), then whatever their
        process groups left (a worker's RQ scheduler)."""
        running = [p for p in [*self.worker_processes, self.service] if p is not None and p.running()]
        stoppers = [threading.Thread(target=process.stop) for process in running]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


# -- webhooks written directly (for tests that do not go through webhooks.create) ----------------------------
def token_secret(api_server) -> str:
    return ConfigFactory.parse_file(str(api_server.config_dir / "secure.conf")).get("auth.token_secret")


def insert_webhook(db, api_server, company: str, url: str, event_types: list[str], *, projects=(),
                   statuses=(), payload_template: str | None = None, enabled: bool = True,
                   user: str = "tests") -> tuple[str, str]:
    """A webhook document as webhooks.create stores it; its id and (plain) secret."""
    secret, now = sealing.new_secret(), datetime.now(timezone.utc)
    webhook_id = new_id()
    db[store.WEBHOOKS].insert_one({
        "_id": webhook_id, "company": company, "user": user, "name": f"test {webhook_id[:6]}", "url": url,
        "event_types": list(event_types), "projects": list(projects), "statuses": list(statuses),
        "payload_template": payload_template, "enabled": enabled,
        "secret_sealed": sealing.seal(secret, token_secret(api_server)), "previous_secret_sealed": None,
        "previous_secret_expires": None, "disabled_reason": None, "failing_since": None,
        "created": now, "last_update": now,
    })
    return webhook_id, secret


def verify(secret: str, request: Received) -> dict:
    """The body of ``request`` once its Standard Webhooks signature verifies (the `standardwebhooks` package,
    independent of our signing code)."""
    from standardwebhooks.webhooks import Webhook

    return Webhook(secret).verify(request.body, request.headers)
