"""``services.webhooks`` settings (defaults: trackside/shared/config/default/services/webhooks.conf)."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

SECTION = "services.webhooks"
# A delivery job must end before RQ's job timeout (jobs.DELIVERY_JOB_TIMEOUT) kills it.
MAX_REQUEST_TIMEOUT = 60.0


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class Settings:
    allow_private_targets: bool = False
    retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    request_timeout: float = 15.0
    max_body_bytes: int = 262144
    disable_after: float = 86400.0
    secrets: dict = field(default_factory=dict, repr=False)
    token_secret: str = field(default="", repr=False)
    consumer_group: str = "trackside-webhooks"
    consumer_name: str = ""
    claim_idle_ms: int = 30000
    sweep_interval_sec: float = 15.0
    sweep_overdue_sec: float = 120.0
    read_block_ms: int = 1000
    read_count: int = 100

    @classmethod
    def from_config(cls, config) -> "Settings":
        section = config.get(SECTION, None) or {}

        def get(key: str, default: Any) -> Any:
            value = section.get(key, None)
            return default if value is None else value

        schedule = get("retry_schedule", cls.retry_schedule)
        if isinstance(schedule, (int, float, str)):
            schedule = [schedule]
        secrets = get("secrets", {})
        secrets = secrets.as_plain_ordered_dict() if hasattr(secrets, "as_plain_ordered_dict") else dict(secrets)
        return cls(
            allow_private_targets=_flag(get("allow_private_targets", False)),
            retry_schedule=tuple(float(step) for step in schedule),
            request_timeout=min(float(get("request_timeout", 15)), MAX_REQUEST_TIMEOUT),
            max_body_bytes=int(get("max_body_bytes", 262144)),
            disable_after=float(get("disable_after", 86400)),
            secrets={str(k): str(v) for k, v in secrets.items()},
            token_secret=str(config.get("secure.auth.token_secret", "") or ""),
            consumer_group=str(get("consumer_group", cls.consumer_group)),
            consumer_name=str(get("consumer_name", "") or socket.gethostname()),
            claim_idle_ms=int(get("claim_idle_ms", 30000)),
            sweep_interval_sec=float(get("sweep_interval_sec", 15)),
            sweep_overdue_sec=float(get("sweep_overdue_sec", 120)),
        )
