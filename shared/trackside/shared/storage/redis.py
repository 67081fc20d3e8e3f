"""Redis (or Valkey) connections from ``hosts.conf``: ``hosts.redis.<role>`` with host, port, db and optional
username/password (production Redis requires them: see ARCHITECTURE.md, "Dispatch")."""
from __future__ import annotations

from typing import Any, Mapping

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect(settings: Mapping[str, Any], **options: Any) -> redis.Redis:
    """A client for one ``hosts.redis.<role>`` section. Replies are decoded to ``str``."""
    options.setdefault("decode_responses", True)
    options.setdefault("socket_connect_timeout", 5)
    options.setdefault("health_check_interval", 30)
    return redis.Redis(
        host=settings.get("host", "127.0.0.1"),
        port=int(settings.get("port", 6379)),
        db=int(settings.get("db", 0)),
        username=settings.get("username", None) or None,
        password=settings.get("password", None) or None,
        **options,
    )


def connect_failing_fast(settings: Mapping[str, Any]) -> redis.Redis:
    """A client for checks a request makes on the side (revoked tokens, the sign-in throttle): 1 s time-outs
    and one immediate retry, since redis-py's default retries take ~4 s on a refused connection and the
    request waits for them; the callers carry on without Redis for a while instead."""
    return connect(settings, socket_timeout=1.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 1))
