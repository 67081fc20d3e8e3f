"""The daemon's heartbeat: ``workers.status_report`` every ``agent.status_report_interval_sec`` (30 s;
``CLEARML_AGENT_STATUS_REPORT_FREQ_SEC``) and at once when a task starts or ends (``report_now``).

A report also keeps the worker alive in the server's registry (its record expires after the worker timeout),
so it is sent from its own thread, never behind a running task. ``current`` is asked for what runs now:
``(task id, queue id)`` or ``(None, None)``. ``task_workers`` (dynamic GPUs) reports each running task as a
worker of its own after the daemon's report (``task_workers.py``).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from trackside.agent.machine_stats import MachineStats
from trackside.agent.task_workers import TaskWorkerReports

log = logging.getLogger(__name__)
_SAMPLE = object()  # build(): take a sample of the machine's statistics


class StatusReporter:
    def __init__(self, call: Callable[[str, dict], object], worker: str, queues: list[str],
                 current: Callable[[], tuple[str | None, str | None]], stats: MachineStats | None,
                 interval_sec: float = 30.0, tags: list[str] | None = None,
                 task_workers: TaskWorkerReports | None = None):
        self.call, self.worker, self.queues, self.current = call, worker, list(queues), current
        self.task_workers = task_workers
        self.stats, self.interval, self.tags = stats, max(1.0, float(interval_sec)), list(tags or [])
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-reporter", daemon=True)
        self._failing = False
        self.sent = 0

    def start(self) -> "StatusReporter":
        self._thread.start()
        return self

    def report_now(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if self.task_workers is not None and not self._thread.is_alive():
            self.task_workers.retire_all(self.call)

    def build(self, stats: dict | None | object = _SAMPLE) -> dict:
        task, queue = self.current()
        report = {"worker": self.worker, "timestamp": int(time.time() * 1000), "is_daemon": True,
                  "queues": self.queues, "machine_stats": self._machine_stats() if stats is _SAMPLE else stats}
        if task:
            report.update(task=task, queue=queue)
        if self.tags:
            report["tags"] = self.tags
        return report

    def send(self) -> None:
        stats = self._machine_stats()
        self._send_own(stats)
        if self.task_workers is not None:
            self.task_workers.send(self.call, stats)

    def _send_own(self, stats: dict | None) -> None:
        try:
            self.call("workers.status_report", self.build(stats))
        except Exception as exc:  # noqa: BLE001 - the server is down or slow: say so once, keep trying
            if not self._failing:
                log.warning("status report failed: %s (retrying every %.0f s)", exc, self.interval)
            self._failing = True
            return
        if self._failing:
            log.info("status reports are getting through again")
        self._failing = False
        self.sent += 1

    def _machine_stats(self) -> dict | None:
        if self.stats is None:
            return None
        try:
            return self.stats.sample()
        except Exception as exc:  # noqa: BLE001 - a sensor failing must not stop the heartbeat
            log.debug("machine statistics: %s", exc)
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.send()
            self._wake.wait(self.interval)
            self._wake.clear()
