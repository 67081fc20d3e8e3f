"""Failed ``auth.login`` attempts, counted so that guessing secrets gets slower and slower.

Three counters of failures, each with its own threshold:

* per key and address (lowest): one machine guessing one key;
* per address: one machine guessing many keys;
* per key (highest): many machines guessing one key. An address that signed in with the key recently (a
  *known address*) is exempt from this one, so an attacker spread over many machines cannot lock the key's
  owner out of the machines they use.

Once a counter reaches its threshold, each further failure locks that scope for ``lock_sec`` doubled per
failure past the threshold, up to ``max_lock_sec``; attempts while locked are answered 429 without checking
the secret and are not counted, so a lock always ends and a steady attacker gets one guess per
``max_lock_sec`` per scope. A counter is forgotten ``forget_after_sec`` after its last failure.

An attempt is counted as a failure *before* its secret is checked (``attempt``), so guesses sent in parallel
see each other at once instead of all passing the check during the ~0.25 s a bcrypt check takes. A successful
sign-in then clears its address's counters (the key-and-address one and the address one), takes its attempt
back from the key's counter and remembers the address as known for the key; an attempt that ended in a server
error is taken back from all three (``forgive``).

Counters live in Redis (shared by every API process); when Redis cannot be reached each process counts in
memory for a while (``ResilientCounters``), which still slows an attacker, per process.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import redis
from pyhocon import ConfigTree

log = logging.getLogger(__name__)

PREFIX = "trackside:auth:login"
# After a Redis failure, how long each process counts in memory before trying Redis again.
_REDIS_BACKOFF_SEC = 10.0


@dataclass(frozen=True)
class ThrottleRules:
    enabled: bool = True
    key_and_address: int = 5
    address: int = 20
    key: int = 50
    lock_sec: float = 1.0
    max_lock_sec: float = 900.0
    forget_after_sec: float = 3600.0
    known_address_sec: float = 30 * 86400.0

    @classmethod
    def from_config(cls, section: ConfigTree) -> "ThrottleRules":
        defaults = cls()
        rules = cls(
            enabled=section.get_bool("enabled", defaults.enabled),
            key_and_address=section.get_int("failures_per_key_and_address", defaults.key_and_address),
            address=section.get_int("failures_per_address", defaults.address),
            key=section.get_int("failures_per_key", defaults.key),
            lock_sec=section.get_float("lock_sec", defaults.lock_sec),
            max_lock_sec=section.get_float("max_lock_sec", defaults.max_lock_sec),
            forget_after_sec=section.get_float("forget_after_sec", defaults.forget_after_sec),
            known_address_sec=section.get_float("known_address_sec", defaults.known_address_sec),
        )
        # A counter must outlive the lock it causes.
        if rules.forget_after_sec < rules.max_lock_sec:
            rules = cls(**{**rules.__dict__, "forget_after_sec": rules.max_lock_sec})
        return rules

    def lock_seconds(self, failures: int, threshold: int) -> float:
        """How long ``failures`` (the last one just now) lock a scope whose threshold is ``threshold``."""
        if threshold <= 0 or failures < threshold:
            return 0.0
        return min(self.max_lock_sec, self.lock_sec * 2.0 ** min(failures - threshold, 60))


class Counters(Protocol):
    def read(self, scopes: list[str], known: str) -> tuple[list[tuple[int, float]], bool]:
        """``(failures, last failure time)`` of each scope, and whether ``known`` is remembered."""

    def add_failure(self, scopes: list[str], now: float, ttl: float) -> None: ...

    def clear(self, scopes: list[str]) -> None: ...

    def forgive(self, scopes: list[str], ttl: float) -> None:
        """One failure fewer in each scope (never below zero)."""

    def remember(self, known: str, ttl: float) -> None: ...


class LoginThrottle:
    def __init__(self, rules: ThrottleRules, counters: Counters, clock: Callable[[], float] = time.time):
        self.rules = rules
        self._counters = counters
        self._clock = clock

    def retry_after(self, key: str, address: str) -> int:
        """0 when this key may try from this address now, else whole seconds to wait."""
        if not self.rules.enabled:
            return 0
        scopes = self._scopes(key, address)
        states, known = self._counters.read([name for name, _ in scopes], _known_id(key, address))
        now, wait = self._clock(), 0.0
        for (name, threshold), (failures, last) in zip(scopes, states):
            if name.startswith("k:") and known:
                continue
            wait = max(wait, last + self.rules.lock_seconds(failures, threshold) - now)
        return math.ceil(wait) if wait > 0 else 0

    def attempt(self, key: str, address: str) -> int:
        """Like :meth:`retry_after`; when 0, the attempt is counted as a failure in advance."""
        wait = self.retry_after(key, address)
        if not wait:
            self.failed(key, address)
        return wait

    def failed(self, key: str, address: str) -> None:
        if self.rules.enabled:
            scopes = [name for name, _ in self._scopes(key, address)]
            self._counters.add_failure(scopes, self._clock(), self.rules.forget_after_sec)

    def succeeded(self, key: str, address: str) -> None:
        """After :meth:`attempt`: the address's counters cleared, the key's attempt taken back."""
        if self.rules.enabled:
            key_and_address, by_address, by_key = (name for name, _ in self._scopes(key, address))
            self._counters.clear([key_and_address, by_address])
            self._counters.forgive([by_key], self.rules.forget_after_sec)
            self._counters.remember(_known_id(key, address), self.rules.known_address_sec)

    def forgive(self, key: str, address: str) -> None:
        """After :meth:`attempt`, when checking the secret failed for another reason (the database is down)."""
        if self.rules.enabled:
            self._counters.forgive([name for name, _ in self._scopes(key, address)], self.rules.forget_after_sec)

    def _scopes(self, key: str, address: str) -> list[tuple[str, int]]:
        # Hashed: fixed-size names whatever a caller sends, and no user names kept in Redis.
        return [("ka:" + _digest(key, address), self.rules.key_and_address),
                ("a:" + _digest(address), self.rules.address),
                ("k:" + _digest(key), self.rules.key)]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _known_id(key: str, address: str) -> str:
    return "known:" + _digest(key, address)


class RedisCounters:
    """Counters shared by every API process: a hash ``{n, last}`` per scope that expires with its window."""

    def __init__(self, client: redis.Redis):
        self._redis = client

    def read(self, scopes: list[str], known: str) -> tuple[list[tuple[int, float]], bool]:
        pipe = self._redis.pipeline(transaction=False)
        for scope in scopes:
            pipe.hmget(f"{PREFIX}:{scope}", "n", "last")
        pipe.exists(f"{PREFIX}:{known}")
        *values, exists = pipe.execute()
        return [(int(n or 0), float(last or 0)) for n, last in values], bool(exists)

    def add_failure(self, scopes: list[str], now: float, ttl: float) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for scope in scopes:
            name = f"{PREFIX}:{scope}"
            pipe.hincrby(name, "n", 1)
            pipe.hset(name, "last", repr(now))
            pipe.expire(name, max(1, math.ceil(ttl)))
        pipe.execute()

    def clear(self, scopes: list[str]) -> None:
        self._redis.delete(*[f"{PREFIX}:{scope}" for scope in scopes])

    def forgive(self, scopes: list[str], ttl: float) -> None:
        # A counter that expired meanwhile comes back at -1 (one free failure) and with its expiry set again:
        # harmless, and simpler than a script.
        pipe = self._redis.pipeline(transaction=True)
        for scope in scopes:
            pipe.hincrby(f"{PREFIX}:{scope}", "n", -1)
            pipe.expire(f"{PREFIX}:{scope}", max(1, math.ceil(ttl)))
        pipe.execute()

    def remember(self, known: str, ttl: float) -> None:
        self._redis.set(f"{PREFIX}:{known}", "1", ex=max(1, math.ceil(ttl)))


class MemoryCounters:
    """One process's counters (tests, and the stand-in while Redis is down)."""

    _PRUNE_EVERY = 1000

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float, float]] = {}  # scope -> (n, last, expires)
        self._known: dict[str, float] = {}  # id -> expires
        self._writes = 0

    def read(self, scopes: list[str], known: str) -> tuple[list[tuple[int, float]], bool]:
        now = self._clock()
        with self._lock:
            states = []
            for scope in scopes:
                n, last, expires = self._failures.get(scope, (0, 0.0, 0.0))
                states.append((n, last) if expires > now else (0, 0.0))
            return states, self._known.get(known, 0.0) > now

    def add_failure(self, scopes: list[str], now: float, ttl: float) -> None:
        with self._lock:
            for scope in scopes:
                n, _, expires = self._failures.get(scope, (0, 0.0, 0.0))
                self._failures[scope] = ((n if expires > now else 0) + 1, now, now + ttl)
            self._prune(now)

    def clear(self, scopes: list[str]) -> None:
        with self._lock:
            for scope in scopes:
                self._failures.pop(scope, None)

    def forgive(self, scopes: list[str], ttl: float) -> None:
        with self._lock:
            for scope in scopes:
                if scope in self._failures:
                    n, last, expires = self._failures[scope]
                    self._failures[scope] = (max(0, n - 1), last, expires)

    def remember(self, known: str, ttl: float) -> None:
        now = self._clock()
        with self._lock:
            self._known[known] = now + ttl
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._writes += 1
        if self._writes % self._PRUNE_EVERY:
            return
        self._failures = {k: v for k, v in self._failures.items() if v[2] > now}
        self._known = {k: v for k, v in self._known.items() if v > now}


class ResilientCounters:
    """Redis while it answers; this process's memory for a while after it does not (logged)."""

    def __init__(self, primary: Counters, fallback: Counters):
        self._primary, self._fallback = primary, fallback
        self._skip_until = 0.0

    def read(self, scopes, known):
        return self._call("read", scopes, known)

    def add_failure(self, scopes, now, ttl):
        return self._call("add_failure", scopes, now, ttl)

    def clear(self, scopes):
        return self._call("clear", scopes)

    def forgive(self, scopes, ttl):
        return self._call("forgive", scopes, ttl)

    def remember(self, known, ttl):
        return self._call("remember", known, ttl)

    def _call(self, name: str, *args):
        if time.monotonic() >= self._skip_until:
            try:
                return getattr(self._primary, name)(*args)
            except redis.RedisError as exc:
                self._skip_until = time.monotonic() + _REDIS_BACKOFF_SEC
                log.warning("sign-in throttle: Redis unavailable (%s); counting in this process for %.0f s",
                            exc, _REDIS_BACKOFF_SEC)
        return getattr(self._fallback, name)(*args)
