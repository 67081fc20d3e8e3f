"""The daemon's working hours: tell each claim whether the schedule is on, wake the subscriber the moment
it opens or closes, and publish the state for ``workers.get_all``.

The server gates every claim (queue tag ``force_workers:on/off``, then the worker's ``force`` runtime
property, then ``schedule_active``), so a worker in its downtime still holds its subscription and is
forced on without a restart. The state is published as the worker's runtime property ``schedule``
(``active`` / ``idle``); the server combines it with ``force`` into the worker's ``schedule_state``.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Callable

from trackside.agent.schedule import Schedule

log = logging.getLogger("trackside.agent.daemon")
PROPERTY = "schedule"
# Sleep at most this long between looks at the clock: a changed system clock or DST is caught within it.
MAX_SLEEP_SEC = 600.0


class WorkingHours:
    def __init__(self, schedule: Schedule, call: Callable[[str, dict], dict], worker: str,
                 clock: Callable[[], datetime] = datetime.now):
        self.schedule, self.call, self.worker, self.clock = schedule, call, worker, clock
        self._on_change: Callable[[], None] = lambda: None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="working-hours", daemon=True)
        self._state = self.active()

    def active(self) -> bool:
        return self.schedule.is_active(self.clock())

    def start(self, on_change: Callable[[], None]) -> "WorkingHours":
        self._on_change = on_change
        self._publish(self._state)
        log.info("working hours (%s): %s now", self.schedule.describe(), "on" if self._state else "off")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._quietly({"key": PROPERTY, "expiry": 0})

    def _watch(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            change = self.schedule.next_change(now)
            wait = MAX_SLEEP_SEC if change is None else (change - now).total_seconds() + 0.5
            if self._stop.wait(max(0.5, min(wait, MAX_SLEEP_SEC))):
                return
            state = self.active()
            if state != self._state:
                self._state = state
                log.info("working hours: %s", "on: taking tasks" if state else "off: no new tasks")
                self._publish(state)
                self._on_change()

    def _publish(self, active: bool) -> None:
        self._quietly({"key": PROPERTY, "value": "active" if active else "idle"})

    def _quietly(self, prop: dict) -> None:
        try:
            self.call("workers.set_runtime_properties", {"worker": self.worker, "runtime_properties": [prop]})
        except Exception as exc:  # noqa: BLE001 - the schedule still gates claims; only the display is stale
            log.warning("could not publish the working-hours state: %s", exc)
