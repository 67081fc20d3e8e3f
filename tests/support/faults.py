"""Faults for the fault tests (tests/stress/test_faults_*.py): SIGKILLs of an API's gunicorn workers at random
moments, a store's outage timed from outside, and a task's events read back whole through the API."""
from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil
import requests

from support.client import ApiClient


# How long a kill waits for a worker at work before it takes one holding an idle connection.
IDLE_VICTIM_AFTER_SEC = 2.0


def add_workers(master_pid: int, count: int) -> None:
    """``count`` more workers for a gunicorn master (its SIGTTIN), so kills can come faster than one boots."""
    for _ in range(count):
        os.kill(master_pid, signal.SIGTTIN)
        time.sleep(0.2)  # one signal per master loop: signals sent together may be merged


class WorkerKiller(threading.Thread):
    """SIGKILLs a gunicorn worker every ``every`` seconds (uniform in the range) until stopped; the master
    starts a new one each time. The victim is a worker holding a client's connection (mid-request, or between
    the requests of a kept-alive connection), and only while ``spare`` other workers have booted: a worker
    takes seconds to boot on a busy machine (10 s and more on two shared cores), and killing the ones that
    serve while the others boot would leave nobody serving instead of testing the clients' retries.
    ``kills`` holds the PIDs killed; past ``max_kills`` it stops killing."""

    def __init__(self, master_pid: int, port: int, every: tuple[float, float] = (0.5, 1.0), seed: int | None = None,
                 spare: int = 1, max_kills: int | None = None):
        super().__init__(daemon=True)
        self.master = psutil.Process(master_pid)
        self.port = port
        self.every = every
        self.random = random.Random(seed)
        self.kills: list[int] = []
        self.busy_kills = 0  # of them, workers that were using the CPU: mid-request
        self.spare = spare  # booted workers left serving after a kill
        self.max_kills = max_kills  # then it stops killing
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.random.uniform(*self.every)):
            if self.max_kills is not None and len(self.kills) >= self.max_kills:
                return
            idle_ok_at = time.monotonic() + IDLE_VICTIM_AFTER_SEC
            while not self._stopping.is_set():
                workers = self.master.children()
                serving = [worker for worker in workers if self._serving(worker)]
                # Rather one at work on a request (it used the CPU just now) than one holding an idle connection.
                busy = [worker for worker in serving if self._busy(worker)]
                candidates = busy or (serving if time.monotonic() > idle_ok_at else [])
                if candidates:
                    victim = self.random.choice(candidates)
                    if sum(self._booted(worker) for worker in workers if worker.pid != victim.pid) >= self.spare:
                        self._kill(victim)
                        if busy:
                            self.busy_kills += 1
                        break
                self._stopping.wait(0.02)

    @staticmethod
    def _busy(worker: psutil.Process) -> bool:
        try:
            before = sum(worker.cpu_times()[:2])
            time.sleep(0.01)
            return sum(worker.cpu_times()[:2]) > before
        except psutil.Error:
            return False

    @staticmethod
    def _booted(worker: psutil.Process) -> bool:
        """Whether the worker runs its request loop: the loop touches gunicorn's heartbeat file (an unlinked
        ``wgunicorn-*`` file the worker holds open) with a time.monotonic() stamp, where the master created it
        with the wall-clock time; the master itself tells a worker's time-out that way."""
        try:
            for fd in os.listdir(f"/proc/{worker.pid}/fd"):
                path = f"/proc/{worker.pid}/fd/{fd}"
                if "wgunicorn-" in os.readlink(path):
                    stamp = os.stat(path).st_mtime
                    return abs(stamp - time.monotonic()) < abs(stamp - time.time())
        except OSError:
            pass
        return False

    def _serving(self, worker: psutil.Process) -> bool:
        try:
            return any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port
                       for c in worker.net_connections(kind="tcp"))
        except psutil.Error:
            return False

    def _kill(self, worker: psutil.Process) -> None:
        try:
            os.kill(worker.pid, signal.SIGKILL)
            self.kills.append(worker.pid)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


def all_events(api: ApiClient, task: str, batch_size: int = 5000) -> list[dict]:
    """Every event of ``task`` (all types), through events.get_task_events' scroll."""
    events, scroll = [], None
    while True:
        page = api.ok("events.get_task_events", task=task, batch_size=batch_size,
                      **({"scroll_id": scroll} if scroll else {}))
        if not page["returned"]:
            return events
        events += page["events"]
        scroll = page["scroll_id"]


def duplicates(counter: Counter) -> dict:
    return {key: count for key, count in counter.items() if count > 1}


@dataclass
class Outcomes:
    """What a client saw, per kind: 'ok', 'no answer' (connection closed or refused), or 'HTTP <code>';
    with the slowest answer of each kind, to tell a prompt error from a hang."""
    counts: Counter = field(default_factory=Counter)
    slowest: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.counts[kind] += 1
            self.slowest[kind] = round(max(self.slowest.get(kind, 0.0), seconds), 2)

    def call(self, api: ApiClient, name: str, data: dict | str, timeout: float = 30.0) -> requests.Response | None:
        """``name`` sent once (no retry): ``data`` as JSON, or a str as JSON lines (events.add_batch); the
        response, or None when none came."""
        # A connection per call, so calls spread over the workers instead of keeping to one.
        headers = {"Authorization": f"Bearer {api.token}", "Connection": "close"}
        if isinstance(data, str):
            headers["Content-Type"] = "application/json-lines"
        else:
            data = json.dumps(data)
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            resp = api.session.post(f"{api.base_url}/v{api.version}/{name}", data=data, timeout=timeout,
                                    headers=headers)
        except requests.ConnectionError:
            self.record("no answer", time.monotonic() - started)
            return None
        self.record("ok" if resp.status_code == 200 else f"HTTP {resp.status_code}", time.monotonic() - started)
        return resp
