"""The task's console output to the server: lines batched into ``events.add_batch`` log events by a
background thread, so a slow API never holds up the task. The buffer is bounded: when it is full the oldest
lines are dropped and a notice says how many, instead of memory growing without end."""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from trackside.agent.redact import Redactor

MAX_BUFFERED = 20000
MAX_BATCH = 500


class LogStream:
    def __init__(self, call_batch: Callable[[str, list], object], task: str, worker: str, redact: Redactor,
                 flush_sec: float = 1.0, enabled: bool = True):
        self.call_batch, self.task, self.worker, self.redact = call_batch, task, worker, redact
        self.flush_sec, self.enabled = flush_sec, enabled
        self._lines: collections.deque = collections.deque()
        self._dropped = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-stream", daemon=True)
        if enabled:
            self._thread.start()

    def write(self, text: str, level: str = "info") -> None:
        if not self.enabled:
            return
        event = {"type": "log", "task": self.task, "worker": self.worker, "level": level,
                 "msg": self.redact(text), "timestamp": int(time.time() * 1000)}
        with self._lock:
            if len(self._lines) >= MAX_BUFFERED:
                self._lines.popleft()
                self._dropped += 1
            self._lines.append(event)
            if len(self._lines) >= MAX_BATCH:
                self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Send everything left, then stop the thread."""
        if not self.enabled:
            return
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_sec)
            self._wake.clear()
            closing = self._closed.is_set()
            while self._send_some():
                pass
            if closing:
                return

    def _send_some(self) -> bool:
        with self._lock:
            batch = [self._lines.popleft() for _ in range(min(MAX_BATCH, len(self._lines)))]
            dropped, self._dropped = self._dropped, 0
        if dropped:
            batch.insert(0, {"type": "log", "task": self.task, "worker": self.worker, "level": "warning",
                             "msg": f"[agent] {dropped} console line(s) dropped: the server was not keeping up",
                             "timestamp": int(time.time() * 1000)})
        if not batch:
            return False
        for attempt in range(3):
            try:
                self.call_batch("events.add_batch", batch)
                return True
            except Exception:  # noqa: BLE001 - the task must go on; lines are retried, then given up
                time.sleep(0.5 * (attempt + 1))
        return True
