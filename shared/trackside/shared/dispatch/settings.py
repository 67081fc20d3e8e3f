"""Dispatch settings, read from ``services.queues.dispatch`` by the API and the watchdog."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping


@dataclass(frozen=True)
class DispatchSettings:
    # How long a claimed task may wait for its agent to start it before it goes back to its queue.
    lease_sec: float = 60.0
    # Seconds between the watchdog's reconcile passes.
    reconcile_interval_sec: float = 5.0
    # A consumer that has not read its stream for this long is gone; its pending tokens are dropped.
    consumer_timeout_sec: float = 60.0
    # How long a subscriber blocks in XREADGROUP per call (keeps live consumers fresh).
    block_ms: int = 5000
    # Tokens the reconcile keeps undelivered per queue at most.
    max_tokens_per_queue: int = 1000

    @classmethod
    def from_config(cls, config: Any) -> "DispatchSettings":
        """From a config tree (``services.queues.dispatch``) or a plain mapping of the same keys."""
        section: Mapping = {}
        if hasattr(config, "get_config"):
            try:
                section = config.get_config("services.queues.dispatch")
            except Exception:  # no such section: the defaults
                section = {}
        elif isinstance(config, Mapping):
            section = config
        values = {}
        for field in fields(cls):
            if field.name in section and section[field.name] is not None:
                values[field.name] = type(field.default)(section[field.name])
        return cls(**values)
