"""Notice that a running task must end, with clearml-agent's rules (wire protocol 4.6):

- ``in_progress`` with ``status_message`` "stopping": ``tasks.stop`` on a task a worker runs -> stopped;
- the status moved to closed, stopped, failed, published or queued (someone else ended or re-enqueued it)
  -> "status_changed" ("exception" when failed); the task keeps the status it was given;
- ``created`` on ``CREATED_LOOKS`` looks in a row (reset; one look could race a reset-and-enqueue) -> reset;
- the task is gone -> not_found.

A task that registered an abort callback (the SDK's ``Task.register_abort_callback``: runtime
``_abort_callback_timeout``) is given that long to run it, until it sets ``_abort_callback_completed``,
before its process is ended (capped by ``agent.abort_callback_max_timeout``).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

UNEXPECTED = {"closed", "stopped", "failed", "published", "queued"}
CREATED_LOOKS = 4
RUNTIME_TIMEOUT, RUNTIME_POLL, RUNTIME_DONE = "_abort_callback_timeout", "_abort_poll_freq", "_abort_callback_completed"


@dataclass(frozen=True)
class StopReason:
    code: int            # clearml-agent's TaskStopReason numbers, shown in the log line
    name: str            # stopped | reset | status_changed | exception | not_found
    status: str | None   # the status the task was seen in

    @property
    def by_user(self) -> bool:
        return self.name == "stopped"


STOPPED, RESET, STATUS_CHANGED, EXCEPTION, NOT_FOUND = 1, 2, 3, 4, 5


class StopWatch:
    """Looks every ``interval`` seconds from its own thread; ``on_stop(reason)`` once, then it is done."""

    def __init__(self, call: Callable[[str, dict], dict], task: str, interval: float,
                 on_stop: Callable[[StopReason], None], log: Callable[[str, str], None],
                 callback_max_sec: float = 1800.0, ignore: Callable[[StopReason], bool] = lambda reason: False):
        self.call, self.task, self.interval = call, task, max(0.1, float(interval))
        self.on_stop, self.log, self.callback_max_sec = on_stop, log, float(callback_max_sec)
        self.ignore = ignore   # reasons to keep watching through (a restartable service failing between runs)
        self.reason: StopReason | None = None
        self._created_looks = 0
        self._callback_since: float | None = None
        self._callback_until: float | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stop-watch", daemon=True)

    @property
    def waiting_for_callback(self) -> bool:
        """A stop was seen and the task's abort callback is running: if the task ends now, it was stopped."""
        return self._callback_until is not None and self.reason is None

    def start(self) -> "StopWatch":
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            reason = self.check()
            if reason is not None and not self.ignore(reason):
                self.reason = reason
                self.on_stop(reason)
                return

    # -- one look --------------------------------------------------------------------------------------------
    def check(self) -> StopReason | None:
        try:
            return self._check()
        except Exception as exc:  # noqa: BLE001 - the API is away: the task goes on, we look again
            self.log(f"stop watch: could not read the task's status ({exc})", "DEBUG")
            return None

    def _check(self) -> StopReason | None:
        tasks = self._get(["status", "status_message"])
        if not tasks:
            return StopReason(NOT_FOUND, "not_found", None)
        status, message = tasks[0].get("status"), tasks[0].get("status_message") or ""
        if status == "in_progress" and "stopping" in message:
            return StopReason(STOPPED, "stopped", status) if self._callback_done() else None
        if status in UNEXPECTED:
            if not self._callback_done():
                return None
            return StopReason(EXCEPTION, "exception", status) if status == "failed" \
                else StopReason(STATUS_CHANGED, "status_changed", status)
        if status == "created":
            if self._created_looks >= CREATED_LOOKS:
                return StopReason(RESET, "reset", status) if self._callback_done() else None
            self._created_looks += 1
            self.log(f"Warning: Task {self.task} was reset! if state is consistent we shall terminate "
                     f"({self._created_looks}/{CREATED_LOOKS}).", "WARNING")
        else:
            self._created_looks = 0
        return None

    def _callback_done(self) -> bool:
        """False while the task's abort callback is still being waited for."""
        now = time.monotonic()
        if self._callback_until is None:
            runtime = self._runtime()
            timeout = _number(runtime.get(RUNTIME_TIMEOUT))
            if not timeout:
                return True
            total = min(timeout + (_number(runtime.get(RUNTIME_POLL)) or 0.0), self.callback_max_sec)
            self.log(f"### Task abort callback timeout set, waiting for max {total:g} sec ###", "INFO")
            self._callback_since, self._callback_until = now, now + total
            return bool(runtime.get(RUNTIME_DONE))
        if now < self._callback_until:
            if not self._runtime().get(RUNTIME_DONE):
                return False
            self.log(f"### Task abort callback completed in {now - self._callback_since:.2f} seconds ###", "INFO")
        else:
            self.log(f"### Task abort callback timed out [timeout: {self._callback_until - self._callback_since:g}, "
                     f"elapsed: {now - self._callback_since:.2f}] ###", "INFO")
        return True

    def _runtime(self) -> dict:
        tasks = self._get([f"runtime.{RUNTIME_TIMEOUT}", f"runtime.{RUNTIME_POLL}", f"runtime.{RUNTIME_DONE}"])
        return (tasks[0].get("runtime") or {}) if tasks else {}

    def _get(self, fields: list[str]) -> list[dict]:
        return self.call("tasks.get_all", {"id": [self.task], "only_fields": fields,
                                           "search_hidden": True}).get("tasks") or []


def _number(value) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
