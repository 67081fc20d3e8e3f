"""An unknown key costs what a wrong secret costs (auth/service.py ``check_credentials``): every path checks one
bcrypt hash, so the time of a refusal does not tell which keys exist. In process, on an in-memory database, at
a cost where bcrypt dominates (the full measure over HTTP at the default cost: bench/bench_signin.py)."""
from __future__ import annotations

import statistics
import time

import mongomock_ng
import pytest

from trackside.api import errors
from trackside.api.auth.service import AuthService
from trackside.shared.config import load_config

ROUNDS = 8
TRIES = 15
COMPANY = "d1bd92a3b039400cbafc60a7a5b1e52b"


@pytest.fixture(scope="module")
def auth():
    config = load_config({
        "CLEARML__SECURE__AUTH__TOKEN_SECRET": '"unit-test-secret-long-enough-for-hs256"',
        "CLEARML__SECURE__CREDENTIALS__TESTS__USER_KEY": '"CONFIGKEY"',
        "CLEARML__SECURE__CREDENTIALS__TESTS__USER_SECRET": '"config-secret"',
        "CLEARML__APISERVER__AUTH__BCRYPT_ROUNDS": str(ROUNDS),
    })
    service = AuthService(config, mongomock_ng.MongoClient()["auth"], COMPANY, "test", "2.31")
    identity = service.check_credentials("CONFIGKEY", "config-secret")
    service.stored_key = service.create_credentials(identity, "timing")["access_key"]
    return service


def refusal_ms(auth: AuthService, key: str) -> float:
    started = time.perf_counter()
    with pytest.raises(errors.InvalidCredentials):
        auth.check_credentials(key, "wrong secret")
    return (time.perf_counter() - started) * 1000


def test_unknown_key_and_wrong_secret_take_the_same_time(auth):
    keys = {"unknown key": "NOSUCHKEY", "database key": auth.stored_key, "configuration key": "CONFIGKEY"}
    times: dict[str, list[float]] = {name: [] for name in keys}
    for _ in range(TRIES):   # interleaved, so the machine's load falls on all three alike
        for name, key in keys.items():
            times[name].append(refusal_ms(auth, key))
    medians = {name: statistics.median(values) for name, values in times.items()}
    fastest = {name: min(values) for name, values in times.items()}
    print(f"\nrefusals at bcrypt cost {ROUNDS}, {TRIES} tries each, median (fastest): "
          + ", ".join(f"{name} {medians[name]:.1f} ms ({fastest[name]:.1f})" for name in keys))
    # Judged on the fastest try of each: the cost of the path itself, where the machine's load (other
    # processes on a shared 2-core machine) only ever adds. Without the dummy check an unknown key answered
    # ~10x faster than a database key's wrong secret.
    for name in ("database key", "configuration key"):
        assert 0.6 < fastest["unknown key"] / fastest[name] < 1.6, (fastest, medians)
