"""Watch for a stop request while the task runs: ``tasks.stop`` from outside leaves the task in_progress with
``status_message "stopping"`` (a live worker runs it), or another actor already moved it on (reset, stopped,
failed, re-enqueued). Either way the task's process must end. The stock agent's rules."""
from __future__ import annotations

import threading
from typing import Callable

ENDED_ELSEWHERE = {"stopped", "closed", "failed", "published", "queued", "completed"}
CREATED_TIMES = 4  # a task reset to `created` is trusted only after several looks (a reset-and-enqueue races it)


class StopWatch:
    def __init__(self, call: Callable[[str, dict], dict], task: str, interval: float,
                 on_stop: Callable[[str], None]):
        self.call, self.task, self.interval, self.on_stop = call, task, interval, on_stop
        self.reason: str | None = None
        self.ended_as: str | None = None   # the status another actor gave the task, if any
        self._done = threading.Event()
        self._created = 0
        self._thread = threading.Thread(target=self._run, name="stop-watch", daemon=True)

    def start(self) -> "StopWatch":
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        self._thread.join(self.interval + 5)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            try:
                tasks = self.call("tasks.get_all", {"id": [self.task], "only_fields": ["status", "status_message"],
                                                    "search_hidden": True}).get("tasks") or []
            except Exception:  # noqa: BLE001 - the API is away: keep running, look again
                continue
            if not tasks:
                self._trigger("the task was deleted", "deleted")
                return
            status, message = tasks[0].get("status"), (tasks[0].get("status_message") or "")
            if status == "in_progress" and message.lower() == "stopping":
                self._trigger("stop requested (tasks.stop)", None)
                return
            if status in ENDED_ELSEWHERE:
                self._trigger(f"the task became {status}", status)
                return
            self._created = self._created + 1 if status == "created" else 0
            if self._created >= CREATED_TIMES:
                self._trigger("the task was reset", "created")
                return

    def _trigger(self, reason: str, ended_as: str | None) -> None:
        self.reason, self.ended_as = reason, ended_as
        self.on_stop(reason)
