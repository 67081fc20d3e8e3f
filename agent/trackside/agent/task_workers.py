"""Tasks that report as workers of their own, as clearml-agent's do:
- dynamic GPUs: named after the task's GPUs: ``box:dgpu0,1,2,3:3f9a2c7e`` is the daemon serving the queues,
  ``box:gpu2,3:3f9a2c7e`` one task running on GPUs 2 and 3, with those GPUs' load;
- services mode: ``box:cpu:3f9a2c7e:service:<task id>``, with the ``--child-report-tags``.
So the workers list shows every running task, and ``tasks.stop`` finds each task's worker alive (the
graceful stop request) however many tasks run at once.

The reports go out from the status reporter's thread, right after the daemon's own: a task's last report can
never arrive after its worker was unregistered.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)
ApiCall = Callable[[str, dict], object]


@dataclass(frozen=True)
class TaskWorker:
    worker: str
    task: str
    queue: str
    gpu_slots: tuple[int, ...] = ()   # where its GPUs are in the daemon's statistics (the gpu_* lists)
    tags: tuple[str, ...] = ()


def service_worker_id(daemon_worker: str, task: str) -> str:
    return f"{daemon_worker}:service:{task}"


class TaskWorkerReports:
    def __init__(self, running: Callable[[], list[TaskWorker]]):
        self.running = running
        self._reported: set[str] = set()   # workers the server knows from us and that are not unregistered

    def send(self, call: ApiCall, stats: dict | None) -> None:
        """Report every running task's worker; unregister the workers whose task has ended."""
        now = self.running()
        self._unregister(call, self._reported - {tw.worker for tw in now})
        for tw in now:
            report = {"worker": tw.worker, "timestamp": int(time.time() * 1000), "is_daemon": False, "task": tw.task,
                      "queue": tw.queue, "machine_stats": gpu_share(stats, tw.gpu_slots)}
            if tw.tags:
                report["tags"] = list(tw.tags)
            try:
                call("workers.status_report", report)
            except Exception as exc:  # noqa: BLE001 - the daemon's own report already said the server fails
                log.debug("status report for %s: %s", tw.worker, exc)
                continue
            self._reported.add(tw.worker)

    def retire_all(self, call: ApiCall) -> None:
        """The daemon stops: no task worker outlives it."""
        self._unregister(call, set(self._reported))

    def _unregister(self, call: ApiCall, workers: set[str]) -> None:
        for worker in workers:
            try:
                call("workers.unregister", {"worker": worker})
            except Exception as exc:  # noqa: BLE001 - it expires after the worker timeout anyway
                log.warning("workers.unregister %s failed: %s", worker, exc)
            self._reported.discard(worker)


def gpu_share(stats: dict | None, slots: tuple[int, ...]) -> dict | None:
    """The machine's statistics with the ``gpu_*`` lists cut down to one task's GPUs (CPU, memory, disk and
    network are the machine's, as each of clearml-agent's task workers reports them)."""
    if not stats:
        return stats
    share = {key: value for key, value in stats.items() if not key.startswith("gpu_")}
    for key, values in stats.items():
        if key.startswith("gpu_") and slots and isinstance(values, list) and max(slots) < len(values):
            share[key] = [values[slot] for slot in slots]
    return share
