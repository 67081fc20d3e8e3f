"""The sign-in throttle's rules (auth/throttle.py) on in-memory counters and a fake clock, the address a
login is charged to (auth/addresses.py), and the fall-back to memory when Redis cannot be reached."""
from __future__ import annotations

import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from pyhocon import ConfigFactory

from trackside.api.auth.addresses import client_address, trusted_networks
from trackside.api.auth.throttle import (
    LoginThrottle, MemoryCounters, RedisCounters, ResilientCounters, ThrottleRules,
)
from trackside.shared.config import ConfigError
from trackside.shared.embedded.process import free_port

RULES = ThrottleRules(key_and_address=3, address=5, key=8, lock_sec=1, max_lock_sec=8, forget_after_sec=60,
                      known_address_sec=600)


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def throttle(clock):
    return LoginThrottle(RULES, MemoryCounters(clock), clock)


def fail(throttle, key, address, times):
    for _ in range(times):
        assert throttle.retry_after(key, address) == 0
        throttle.failed(key, address)


def test_lock_doubles_past_the_threshold_up_to_the_cap():
    assert [RULES.lock_seconds(n, 3) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 8, 8]
    assert RULES.lock_seconds(10**6, 3) == 8   # no overflow however many failures


def test_key_and_address_locks_after_its_threshold_and_the_lock_ends(throttle, clock):
    fail(throttle, "k", "10.0.0.1", 3)
    assert throttle.retry_after("k", "10.0.0.1") == 1
    assert throttle.retry_after("k", "10.0.0.2") == 0   # the key from elsewhere
    assert throttle.retry_after("other", "10.0.0.1") == 0   # another key from here
    clock.now += 1
    assert throttle.retry_after("k", "10.0.0.1") == 0
    throttle.failed("k", "10.0.0.1")
    assert throttle.retry_after("k", "10.0.0.1") == 2   # doubled


def test_attempts_while_locked_are_not_counted(throttle, clock):
    fail(throttle, "k", "a", 3)
    for _ in range(50):
        assert throttle.retry_after("k", "a") == 1   # refused, never counted: the lock does not grow
    clock.now += 1.01
    assert throttle.retry_after("k", "a") == 0


def test_address_locks_across_keys(throttle):
    for key in "abcde":
        fail(throttle, key, "10.0.0.9", 1)
    assert throttle.retry_after("f", "10.0.0.9") == 1
    assert throttle.retry_after("f", "10.0.0.10") == 0


def test_success_clears_the_address_but_not_the_key(throttle, clock):
    for address in ("1", "2", "3", "4"):
        fail(throttle, "victim", f"10.0.1.{address}", 2)   # 8 failures on the key from 4 addresses
    assert throttle.retry_after("victim", "10.0.2.1") == 1   # the per-key lock, for a new address
    fail(throttle, "mine", "10.0.0.5", 2)
    throttle.succeeded("mine", "10.0.0.5")
    fail(throttle, "mine", "10.0.0.5", 2)   # counting from zero again
    assert throttle.retry_after("mine", "10.0.0.5") == 0


def test_a_known_address_is_not_locked_out_by_failures_elsewhere(throttle, clock):
    throttle.succeeded("victim", "192.0.2.7")   # the owner signed in from here
    for n in range(RULES.key):   # one failure from each of many addresses: only the per-key counter grows
        fail(throttle, "victim", f"198.51.100.{n}", 1)
    assert throttle.retry_after("victim", "198.51.100.99") > 0   # a stranger waits
    assert throttle.retry_after("victim", "192.0.2.7") == 0     # the owner does not


def test_attempts_count_before_their_outcome_so_parallel_guesses_see_each_other(throttle):
    assert [throttle.attempt("k", "a") for _ in range(4)] == [0, 0, 0, 1]   # none has finished yet


def test_a_success_takes_its_attempt_back(throttle):
    for _ in range(RULES.key):   # from a new address each time: each success leaves the key's count as it was
        address = f"10.9.0.{_}"
        assert throttle.attempt("k", address) == 0
        throttle.succeeded("k", address)
    assert throttle.retry_after("k", "10.9.1.1") == 0
    for _ in range(2):
        throttle.attempt("k", "a")
    assert throttle.attempt("k", "a") == 0
    throttle.succeeded("k", "a")
    fail(throttle, "k", "a", 2)   # the address counts from zero again
    assert throttle.retry_after("k", "a") == 0


def test_a_server_error_is_not_counted(throttle):
    for _ in range(10):
        assert throttle.attempt("k", "a") == 0
        throttle.forgive("k", "a")


def test_counters_are_forgotten_after_the_window(throttle, clock):
    fail(throttle, "k", "a", 2)
    clock.now += RULES.forget_after_sec + 1
    fail(throttle, "k", "a", 2)
    assert throttle.retry_after("k", "a") == 0


def test_disabled_throttle_never_waits(clock):
    throttle = LoginThrottle(ThrottleRules(enabled=False, key_and_address=1), MemoryCounters(clock), clock)
    fail(throttle, "k", "a", 10)


def test_rules_from_config_keep_counters_longer_than_locks():
    section = ConfigFactory.parse_string(
        "failures_per_key_and_address: 2, failures_per_address: 4, failures_per_key: 9, lock_sec: 0.5, "
        "max_lock_sec: 120, forget_after_sec: 30")
    rules = ThrottleRules.from_config(section)
    assert (rules.key_and_address, rules.address, rules.key, rules.lock_sec) == (2, 4, 9, 0.5)
    assert rules.forget_after_sec == 120


def test_unreachable_redis_falls_back_to_memory_and_stops_trying(caplog, clock):
    client = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    throttle = LoginThrottle(RULES, ResilientCounters(RedisCounters(client), MemoryCounters(clock)), clock)
    fail(throttle, "k", "a", 3)
    assert throttle.retry_after("k", "a") == 1   # counted in memory
    assert "counting in this process" in caplog.text
    started = time.monotonic()
    throttle.retry_after("k", "a")
    assert time.monotonic() - started < 0.05   # Redis not tried again for a while


TRUSTED = trusted_networks(["127.0.0.1", "10.1.0.0/16"])


@pytest.mark.parametrize("peer, forwarded, real_ip, expected", [
    ("203.0.113.5", "1.2.3.4", "", "203.0.113.5"),            # an untrusted peer's headers are ignored
    ("127.0.0.1", "", "", "127.0.0.1"),
    ("127.0.0.1", "198.51.100.1", "", "198.51.100.1"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", "", "198.51.100.1"),  # the hop the proxy added, not the forged one
    ("127.0.0.1", "198.51.100.1, 10.1.2.3", "", "198.51.100.1"),  # through two trusted proxies
    ("127.0.0.1", "", "198.51.100.2", "198.51.100.2"),
    ("127.0.0.1", "not-an-address", "", "not-an-address"),
])
def test_client_address(peer, forwarded, real_ip, expected):
    assert client_address(peer, forwarded, real_ip, TRUSTED) == expected


def test_a_bad_trusted_proxy_is_a_configuration_error():
    with pytest.raises(ConfigError, match="trusted_proxies"):
        trusted_networks(["localhost"])
