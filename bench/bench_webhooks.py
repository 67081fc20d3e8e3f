#!/usr/bin/env python3
"""Webhook delivery speed, and what publishing domain events costs the API.

One embedded stack (secantusdb, Valkey with ACL users), two API processes on it (gunicorn, 2 workers each):
one with ``services.webhooks.publish_events`` true, one with it false; the webhooks service and RQ workers;
a loopback receiver in this process. One webhook subscribes to ``task.created``.

  burst        N tasks.create calls from 8 client threads as fast as the API takes them (publishing API):
               events/s from the first API write to the last delivery at the receiver, and each event's
               end-to-end latency (just before tasks.create is sent -> the receiver has the signed request).
  idle         tasks.create one at a time with pauses: end-to-end latency of a lone event (no queueing).
  publish cost tasks.create request latency on the publishing API against the non-publishing one, calls
               alternating between them in the same run (target: publishing adds at most 1 ms p50).

Run:
    make bench-webhooks                                  # full run (~2 minutes), 4 workers
    .venv/bin/python bench/bench_webhooks.py --workers 8  # another worker count
    .venv/bin/python bench/bench_webhooks.py --quick     # sanity run inside make test (~40 s)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pymongo

from trackside.shared.config import load_config
from trackside.shared.dispatch.client import ApiError, ApiSession
from trackside.shared.embedded.launcher import ensure_secure_conf, redis_acl
from trackside.shared.embedded.process import ServerProcess, free_port, port_open
from trackside.shared.embedded.servers import HOST, mongo_env, mongo_wire_server, valkey_server
from trackside.shared.ids import new_id
from trackside.shared.webhooks import sealing, store

TARGET_PUBLISH_COST_MS = 1.0
FULL = dict(burst=2000, idle=200, cost=1000, workers=4, clients=8)
QUICK = dict(burst=150, idle=30, cost=150, workers=2, clients=4)
WEBHOOKS_ENV = {"CLEARML__SERVICES__WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true"}


# -- the receiver ---------------------------------------------------------------------------------------------
class Receiver:
    """Records when each task's delivery arrived (by the task name in the body)."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                name = json.loads(body)["data"]["name"]
                with receiver.lock:
                    receiver.requests += 1
                    receiver.arrived.setdefault(name, at)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hook"

    def wait(self, names: list[str], timeout: float) -> dict[str, float]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if all(name in self.arrived for name in names):
                    return {name: self.arrived[name] for name in names}
            time.sleep(0.01)
        with self.lock:
            missing = [name for name in names if name not in self.arrived]
        raise RuntimeError(f"{len(missing)} of {len(names)} deliveries did not arrive within {timeout:.0f} s")

    def stop(self) -> None:
        self.server.shutdown()


# -- the stack ------------------------------------------------------------------------------------------------
class Stack:
    def __init__(self, home: Path, workers: int):
        self.home = home
        self.processes: list[ServerProcess] = []
        config_dir = home / "config"
        self.key, self.secret = ensure_secure_conf(config_dir)
        env = {**os.environ, "CLEARML_CONFIG_DIR": str(config_dir), **redis_acl(home / "valkey"), **WEBHOOKS_ENV}
        mongo = self._start(mongo_wire_server(home / "mongo", log_path=home / "mongo.log"))
        redis = self._start(valkey_server(home / "valkey", log_path=home / "valkey.log", persistent=False,
                                          acl_file=home / "valkey" / "users.acl"))
        env.update(mongo_env(mongo.port))
        env.update({"CLEARML_REDIS_SERVICE_HOST": HOST, "CLEARML_REDIS_SERVICE_PORT": str(redis.port)})
        self.env = env
        self.mongo_port = mongo.port
        self.url = self._api("api-publishing", publish=True)
        self.url_quiet = self._api("api-not-publishing", publish=False)
        self._start(ServerProcess("webhooks", [sys.executable, "-m", "trackside.webhooks"], ready=lambda: True,
                                  log_path=home / "webhooks.log",
                                  env={**env, "CLEARML__SERVICES__WEBHOOKS__HEALTH__LISTEN__PORT": "0"}))
        for index in range(workers):
            self._start(ServerProcess(f"worker-{index}", [sys.executable, "-m", "trackside.webhooks", "worker"],
                                      ready=lambda: True, log_path=home / f"worker-{index}.log",
                                      env={**env, "CLEARML__SERVICES__WEBHOOKS__WORKER_HEALTH__LISTEN__PORT": "0"}))

    def _api(self, name: str, publish: bool) -> str:
        port = free_port()
        env = {**self.env, "CLEARML__APISERVER__LISTEN__PORT": str(port),
               "CLEARML__SERVICES__WEBHOOKS__PUBLISH_EVENTS": "true" if publish else "false"}
        self._start(ServerProcess(name, [sys.executable, "-m", "trackside.api", "--workers", "2", "--threads", "8"],
                                  ready=lambda: port_open(HOST, port), log_path=self.home / f"{name}.log", env=env))
        return f"http://{HOST}:{port}"

    def _start(self, process: ServerProcess) -> ServerProcess:
        process.start(timeout=90)
        self.processes.append(process)
        return process

    def add_webhook(self, company: str, url: str) -> None:
        config = load_config(self.env)
        db = pymongo.MongoClient(HOST, self.mongo_port, directConnection=True)["backend"]
        now = datetime.now(timezone.utc)
        secret = sealing.seal(sealing.new_secret(), config.get("secure.auth.token_secret"))
        db[store.WEBHOOKS].insert_one({
            "_id": new_id(), "company": company, "user": "bench", "name": "bench", "url": url,
            "event_types": ["task.created"], "projects": [], "statuses": [], "payload_template": None,
            "enabled": True, "secret_sealed": secret, "previous_secret_sealed": None,
            "previous_secret_expires": None, "disabled_reason": None, "failing_since": None,
            "created": now, "last_update": now})

    def stop(self) -> None:
        """The services at once (an API or RQ worker takes a second or more to wind down; one after another
        was ~10 s of the quick run), then the stores they use."""
        stores = self.processes[:2]  # secantusdb and Valkey, started first
        services = self.processes[2:]
        if services:
            with ThreadPoolExecutor(len(services)) as pool:
                list(pool.map(ServerProcess.stop, services))
        for process in reversed(stores):
            process.stop()


# -- the measurements ---------------------------------------------------------------------------------------
def create(session: ApiSession, name: str) -> float:
    """Send tasks.create for ``name``; the time just before it was sent."""
    sent = time.time()
    session.call("tasks.create", {"name": name, "type": "training"})
    return sent


def burst(stack: Stack, receiver: Receiver, count: int, clients: int) -> tuple[float, float, list[float]]:
    names = [f"burst-{i}-{time.time_ns()}" for i in range(count)]
    sessions = threading.local()

    def one(name: str) -> float:
        if not hasattr(sessions, "api"):
            sessions.api = ApiSession(stack.url, stack.key, stack.secret)
        return create(sessions.api, name)

    with ThreadPoolExecutor(clients) as pool:
        sent = dict(zip(names, pool.map(one, names)))
    writes_done = time.time()
    arrived = receiver.wait(names, timeout=120 + count / 10)
    span = max(arrived.values()) - min(sent.values())
    return count / span, count / (writes_done - min(sent.values())), [arrived[name] - sent[name] for name in names]


def idle(stack: Stack, receiver: Receiver, count: int) -> list[float]:
    session = ApiSession(stack.url, stack.key, stack.secret)
    latencies = []
    for i in range(count):
        name = f"idle-{i}-{time.time_ns()}"
        sent = create(session, name)
        latencies.append(receiver.wait([name], timeout=30)[name] - sent)
        time.sleep(0.02)
    return latencies


def publish_cost(stack: Stack, count: int) -> tuple[list[float], list[float]]:
    """tasks.create request latency on each API, calls alternating, so both see the same machine load."""
    publishing = ApiSession(stack.url, stack.key, stack.secret)
    quiet = ApiSession(stack.url_quiet, stack.key, stack.secret)
    times: dict[str, list[float]] = {"on": [], "off": []}
    for session in (publishing, quiet):  # connections, logins, first-call caches
        for _ in range(10):
            create(session, f"warm-{time.time_ns()}")
    for i in range(count):
        order = (("on", publishing), ("off", quiet)) if i % 2 else (("off", quiet), ("on", publishing))
        for label, session in order:
            sent = time.perf_counter()
            session.call("tasks.create", {"name": f"cost-{label}-{i}", "type": "training"})
            times[label].append(time.perf_counter() - sent)
    return times["on"], times["off"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def report(rate: float, write_rate: float, burst_lat: list[float], idle_lat: list[float], on: list[float],
           off: list[float], quick: bool, workers: int) -> dict:
    ms = lambda values, q: _pct(values, q) * 1000  # noqa: E731
    print(f"\nwebhook deliveries, {'quick' if quick else 'full'} run, {workers} RQ workers")
    print(f"burst: {len(burst_lat)} events, {rate:.0f} events/s from API write to delivery "
          f"(the API took the writes at {write_rate:.0f}/s)")
    print(f"\n{'latency (ms)':34} {'n':>5} {'p50':>8} {'p99':>8} {'max':>8}")
    rows = [("end to end, burst", burst_lat), ("end to end, idle", idle_lat),
            ("tasks.create, publish_events on", on), ("tasks.create, publish_events off", off)]
    for name, values in rows:
        print(f"{name:34} {len(values):>5} {ms(values, 50):>8.1f} {ms(values, 99):>8.1f} {max(values) * 1000:>8.1f}")
    figures = {
        "events_per_sec": rate, "api_writes_per_sec": write_rate,
        "burst_p50_ms": ms(burst_lat, 50), "burst_p99_ms": ms(burst_lat, 99),
        "idle_p50_ms": ms(idle_lat, 50), "idle_p99_ms": ms(idle_lat, 99),
        "create_publish_p50_ms": ms(on, 50), "create_publish_p99_ms": ms(on, 99),
        "create_quiet_p50_ms": ms(off, 50), "create_quiet_p99_ms": ms(off, 99),
    }
    figures["publish_cost_p50_ms"] = figures["create_publish_p50_ms"] - figures["create_quiet_p50_ms"]
    verdict = "met" if figures["publish_cost_p50_ms"] <= TARGET_PUBLISH_COST_MS else "missed"
    print(f"\npublishing costs tasks.create {figures['publish_cost_p50_ms']:+.2f} ms p50 "
          f"(target <= {TARGET_PUBLISH_COST_MS:.0f} ms: {verdict})")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sanity run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--workers", type=int, help="RQ workers (default: 4, --quick 2)")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.workers:
        sizes["workers"] = args.workers
    home = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    stack = receiver = None
    try:
        stack = Stack(home, sizes["workers"])
        receiver = Receiver()
        session = ApiSession(stack.url, stack.key, stack.secret)
        company = session.call("users.get_current_user", {})["user"]["company"]["id"]
        stack.add_webhook(company, receiver.url)
        idle(stack, receiver, 5)  # warm: the consumer group, the workers' connections
        rate, write_rate, burst_lat = burst(stack, receiver, sizes["burst"], sizes["clients"])
        idle_lat = idle(stack, receiver, sizes["idle"])
        on, off = publish_cost(stack, sizes["cost"])
        figures = report(rate, write_rate, burst_lat, idle_lat, on, off, args.quick, sizes["workers"])
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
        return 0
    except (RuntimeError, ApiError, OSError) as exc:
        print(f"bench-webhooks: {exc}", file=sys.stderr)
        if stack:
            for log in sorted(home.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}", file=sys.stderr)
        return 1
    finally:
        # The stack first: its workers are still delivering the publish-cost run's events, and a receiver that
        # no longer answers held a worker's warm shutdown for the whole request timeout (15 s, then SIGKILL).
        if stack:
            stack.stop()
        if receiver:
            receiver.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
