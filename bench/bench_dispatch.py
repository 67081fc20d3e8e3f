#!/usr/bin/env python3
"""Enqueue-to-claim latency: an idle agent subscribed to Redis streams against the stock agent's polling.

Both run in the same run on the same embedded stack (secantusdb, Valkey with ACL users, the API under
gunicorn with 2 workers), each agent in its own process:

  subscribed   trackside.shared.dispatch.subscriber: blocks in XREADGROUP, claims with dispatch.claim when a
               token arrives. One task at a time is enqueued while the agent is idle.
  polling      clearml-agent's documented loop (wire protocol 4.2), simulated: every 5 s, queues.get_all
               (id, tags), workers.get_runtime_properties, then queues.get_next_task; on a task it starts
               it and polls again at once. Several pollers (one queue each, random phases) share the 5 s
               windows so samples come faster; each sees its tasks arrive at random points of its cycle.

Latency = from just before tasks.enqueue is sent to just after the claim (dispatch.claim or get_next_task)
returns the task, on the same clock (one machine). The enqueue call's own time is reported too: it is part
of both figures.

Run:
    make bench-dispatch                                   # full run (~1 minute)
    .venv/bin/python bench/bench_dispatch.py --quick      # sanity run inside make test (~20 s)
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from trackside.shared.dispatch.client import ApiError, ApiSession
from trackside.shared.embedded.launcher import ensure_secure_conf, redis_acl
from trackside.shared.embedded.process import ServerProcess, free_port, port_open
from trackside.shared.embedded.servers import HOST, mongo_env, mongo_wire_server, valkey_server

POLL_SEC = 5.0  # clearml-agent's default and minimum poll period
TARGET_P99_MS = 50.0
FULL = dict(subscribed=300, polled=50, pollers=10)
QUICK = dict(subscribed=40, polled=8, pollers=4)


# -- the agents (run as child processes of this script) ---------------------------------------------------------
def run_subscribed(session: ApiSession, queues: list[str]) -> None:
    from trackside.shared.dispatch.subscriber import Subscriber

    def call(endpoint: str, data: dict):
        reply = session.call(endpoint, data)
        if endpoint == "dispatch.claim" and reply.get("entry"):
            _report(reply["entry"]["task"])
        return reply

    subscriber = Subscriber(call, "bench-subscribed", queues)
    for claimed in subscriber.claims():
        subscriber.start(claimed)
        session.call("tasks.completed", {"task": claimed.task, "force": True})


def run_polling(api: tuple[str, str, str], queues: list[str]) -> None:
    def poll(queue_id: str) -> None:
        session = ApiSession(*api)
        worker = f"bench-poller-{queue_id[:6]}"
        time.sleep(random.uniform(0, POLL_SEC))  # agents start at arbitrary moments
        while True:
            session.call("queues.get_all", {"id": [queue_id], "only_fields": ["id", "tags"]})
            session.call("workers.get_runtime_properties", {"worker": worker})
            reply = session.call("queues.get_next_task", {"queue": queue_id})
            if reply.get("entry"):
                task = reply["entry"]["task"]
                _report(task)
                session.call("tasks.started", {"task": task, "force": True, "status_message": "pulled by agent"})
                session.call("tasks.completed", {"task": task, "force": True})
                continue  # after a task the agent polls again at once
            time.sleep(POLL_SEC)

    for queue_id in queues:
        threading.Thread(target=poll, args=(queue_id,), daemon=True).start()
    threading.Event().wait()


_report_lock = threading.Lock()


def _report(task: str) -> None:
    with _report_lock:
        sys.stdout.write(json.dumps({"task": task, "t": time.time()}) + "\n")
        sys.stdout.flush()


# -- the bench ---------------------------------------------------------------------------------------------------
class Stack:
    def __init__(self, home: Path):
        self.home = home
        self.processes: list[ServerProcess] = []
        config_dir = home / "config"
        self.key, self.secret = ensure_secure_conf(config_dir)
        env = {**os.environ, "CLEARML_CONFIG_DIR": str(config_dir), **redis_acl(home / "valkey")}
        mongo = self._start(mongo_wire_server(home / "mongo", log_path=home / "mongo.log"))
        redis = self._start(valkey_server(home / "valkey", log_path=home / "valkey.log", persistent=False,
                                          acl_file=home / "valkey" / "users.acl"))
        port = free_port()
        env.update(mongo_env(mongo.port))
        env.update({"CLEARML_REDIS_SERVICE_HOST": HOST, "CLEARML_REDIS_SERVICE_PORT": str(redis.port),
                    "CLEARML__APISERVER__LISTEN__PORT": str(port)})
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self._start(ServerProcess("api", [sys.executable, "-m", "trackside.api", "--workers", "2", "--threads", "8"],
                                  ready=lambda: port_open("127.0.0.1", port), log_path=home / "api.log", env=env))

    def _start(self, process: ServerProcess) -> ServerProcess:
        process.start(timeout=90)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


class Agent:
    """One agent child process; its claims arrive on ``claims`` as (task, time)."""

    def __init__(self, stack: Stack, role: str, queues: list[str]):
        argv = [sys.executable, __file__, f"--role={role}", f"--api={stack.url}", f"--key={stack.key}",
                f"--secret={stack.secret}", f"--queues={','.join(queues)}"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(stack.home / f"{role}.log", "wb"),
                                     text=True)
        self.claims: "queue.Queue[tuple[str, float]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            item = json.loads(line)
            self.claims.put((item["task"], item["t"]))

    def claimed(self, task: str, timeout: float) -> float:
        while True:
            got, at = self.claims.get(timeout=timeout)
            if got == task:
                return at

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure_subscribed(stack: Stack, session: ApiSession, count: int) -> tuple[list[float], list[float]]:
    queue_id = session.call("queues.create", {"name": f"bench-subscribed-{time.time_ns()}"})["id"]
    agent = Agent(stack, "subscribed", [queue_id])
    try:
        _warm_up(session, agent, queue_id)
        latencies, enqueue_times = [], []
        for _ in range(count):
            task = _new_task(session)
            time.sleep(random.uniform(0.02, 0.05))  # the agent is idle and blocked when the task comes
            sent = time.time()
            session.call("tasks.enqueue", {"task": task, "queue": queue_id})
            enqueue_times.append(time.time() - sent)
            latencies.append(agent.claimed(task, timeout=30) - sent)
        return latencies, enqueue_times
    finally:
        agent.stop()


def measure_polling(stack: Stack, session: ApiSession, count: int, pollers: int) -> list[float]:
    queues = [session.call("queues.create", {"name": f"bench-polled-{i}-{time.time_ns()}"})["id"]
              for i in range(pollers)]
    agent = Agent(stack, "polling", queues)
    try:
        pending: list[tuple[str, float]] = []
        for round_start in range(0, count, pollers):
            for queue_id in queues[:count - round_start]:
                time.sleep(random.uniform(0, POLL_SEC / pollers))
                task = _new_task(session)
                sent = time.time()
                session.call("tasks.enqueue", {"task": task, "queue": queue_id})
                pending.append((task, sent))
        results: dict[str, float] = {}
        deadline = time.time() + 3 * POLL_SEC
        while len(results) < len(pending) and time.time() < deadline:
            try:
                task, at = agent.claims.get(timeout=1.0)
                results[task] = at
            except queue.Empty:
                pass
        missing = [task for task, _ in pending if task not in results]
        if missing:
            raise RuntimeError(f"the polling agent never claimed {len(missing)} task(s)")
        return [results[task] - sent for task, sent in pending]
    finally:
        agent.stop()


def _new_task(session: ApiSession) -> str:
    return session.call("tasks.create", {"name": f"bench-{time.time_ns()}", "type": "training"})["id"]


def _warm_up(session: ApiSession, agent: Agent, queue_id: str) -> None:
    for _ in range(3):  # connections, the group, the first claim
        task = _new_task(session)
        session.call("tasks.enqueue", {"task": task, "queue": queue_id})
        agent.claimed(task, timeout=30)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def report(subscribed: list[float], enqueue_times: list[float], polled: list[float], quick: bool) -> dict:
    ms = lambda values, q: _pct(values, q) * 1000  # noqa: E731
    rows = [("subscribed (streams)", subscribed), ("polling (5 s loop)", polled), ("tasks.enqueue call", enqueue_times)]
    print(f"\nenqueue-to-claim latency, {'quick' if quick else 'full'} run (ms)")
    print(f"{'':22} {'n':>5} {'p50':>9} {'p99':>9} {'max':>9}")
    for name, values in rows:
        print(f"{name:22} {len(values):>5} {ms(values, 50):>9.1f} {ms(values, 99):>9.1f} {max(values) * 1000:>9.1f}")
    figures = {
        "subscribed_p50_ms": ms(subscribed, 50), "subscribed_p99_ms": ms(subscribed, 99),
        "polling_p50_ms": ms(polled, 50), "polling_p99_ms": ms(polled, 99),
        "enqueue_p50_ms": ms(enqueue_times, 50),
    }
    figures["ratio_p50"] = figures["polling_p50_ms"] / figures["subscribed_p50_ms"]
    figures["ratio_p99"] = figures["polling_p99_ms"] / figures["subscribed_p99_ms"]
    verdict = "met" if figures["subscribed_p99_ms"] < TARGET_P99_MS else "missed"
    print(f"\npolling / subscribed: p50 x{figures['ratio_p50']:.0f}, p99 x{figures['ratio_p99']:.0f}; "
          f"subscribed p99 target {TARGET_P99_MS:.0f} ms {verdict}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sanity run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--role", choices=["subscribed", "polling"], help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    parser.add_argument("--queues", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        session = ApiSession(args.api, args.key, args.secret)
        if args.role == "subscribed":
            run_subscribed(session, args.queues.split(","))
        else:
            run_polling((args.api, args.key, args.secret), args.queues.split(","))
        return 0

    sizes = QUICK if args.quick else FULL
    home = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    stack = None
    try:
        stack = Stack(home)
        session = ApiSession(stack.url, stack.key, stack.secret)
        subscribed, enqueue_times = measure_subscribed(stack, session, sizes["subscribed"])
        polled = measure_polling(stack, session, sizes["polled"], sizes["pollers"])
        figures = report(subscribed, enqueue_times, polled, args.quick)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
        return 0
    except (RuntimeError, ApiError, OSError, queue.Empty) as exc:
        print(f"bench-dispatch: {exc}", file=sys.stderr)
        return 1
    finally:
        if stack:
            stack.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
