"""A lease-style Redis lock: ``SET NX PX`` to take it, compare-and-expire to keep it, compare-and-delete to
give it back. Whoever stops renewing loses it after ``ttl_ms``, so a killed watchdog is replaced."""
from __future__ import annotations

import uuid

import redis

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisLock:
    def __init__(self, client: redis.Redis, key: str, ttl_ms: int):
        self.redis = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.owner = uuid.uuid4().hex
        self.held = False

    def hold(self) -> bool:
        """Take the lock, or keep it if it is ours; whether we hold it now."""
        if self.held and self.redis.eval(_RENEW, 1, self.key, self.owner, self.ttl_ms):
            return True
        self.held = bool(self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms))
        return self.held

    def release(self) -> None:
        if self.held:
            self.redis.eval(_RELEASE, 1, self.key, self.owner)
            self.held = False
