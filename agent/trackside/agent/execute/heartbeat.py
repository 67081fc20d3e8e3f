"""Signs of life while a task is ours: ``tasks.ping`` a few seconds after the start and then every
``agent.task_ping_interval_sec`` (the server's non-responsive watchdog reads them), and, for a bare
``execute`` (its own short-lived worker), ``workers.status_report`` every ``agent.status_report_interval_sec``
so the worker stays listed with its task. From a thread of its own: a slow API never holds up the task."""
from __future__ import annotations

import threading
import time
from typing import Callable

FIRST_PING_SEC = 5.0


class Heartbeat:
    def __init__(self, call: Callable[[str, dict], object], task: str, ping_sec: float,
                 worker: str | None = None, report_sec: float = 30.0):
        self.call, self.task, self.worker = call, task, worker
        self.ping_sec, self.report_sec = max(1.0, float(ping_sec)), max(1.0, float(report_sec))
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self.pings = 0

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def _run(self) -> None:
        now = time.monotonic()
        next_ping = now + min(FIRST_PING_SEC, self.ping_sec)
        next_report = now + self.report_sec
        while True:
            wake = min(next_ping, next_report if self.worker else next_ping)
            if self._done.wait(max(0.0, wake - time.monotonic())):
                return
            now = time.monotonic()
            if now >= next_ping:
                self._quietly("tasks.ping", {"task": self.task})
                self.pings += 1
                next_ping = now + self.ping_sec
            if self.worker and now >= next_report:
                self._quietly("workers.status_report", worker_report(self.worker, self.task))
                next_report = now + self.report_sec

    def _quietly(self, endpoint: str, data: dict) -> None:
        try:
            self.call(endpoint, data)
        except Exception:  # noqa: BLE001 - the next beat tries again
            pass


def worker_report(worker: str, task: str | None) -> dict:
    """A one-off execute's status report (clearml-agent: is_daemon false, the task while it runs)."""
    report = {"worker": worker, "timestamp": int(time.time() * 1000), "is_daemon": False}
    if task:
        report["task"] = task
    return report
