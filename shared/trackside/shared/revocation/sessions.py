"""Tokens revoked by a logout: their session ids in a Redis sorted set scored by the token's expiry, so the
set only ever holds tokens that would still be valid (as the reference keeps them).

Checked on every token-authenticated call, by the API and the file server. When Redis cannot be reached the
check is skipped (and logged) for a short while rather than failing or stalling every call: the services keep
serving without Redis, as enqueueing does, at the price of revoked tokens working until it is back.
"""
from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger(__name__)

KEY = "trackside:auth:revoked_sessions"
# After a Redis failure, how long calls skip the check before trying again.
_BACKOFF_SEC = 10.0


class RevokedSessions:
    def __init__(self, client: redis.Redis):
        self._redis = client
        self._skip_until = 0.0

    def revoke(self, session_id: str, expires: int) -> None:
        now = int(time.time())
        pipe = self._redis.pipeline()
        pipe.zadd(KEY, {session_id: expires})
        pipe.zremrangebyscore(KEY, 0, now)
        pipe.execute()

    def is_revoked(self, session_id: str) -> bool:
        if time.monotonic() < self._skip_until:
            return False
        try:
            return self._redis.zscore(KEY, session_id) is not None
        except redis.RedisError as exc:
            self._skip_until = time.monotonic() + _BACKOFF_SEC
            log.warning("cannot check revoked tokens (Redis: %s); not checking for %.0f s", exc, _BACKOFF_SEC)
            return False
