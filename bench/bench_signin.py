"""Refused auth.login over HTTP: an unknown key against a wrong secret (database key and configuration key),
at the shipped bcrypt cost, so their times can be compared (they should not differ: auth/service.py).

Starts its own Mongo-wire server, Valkey and API (the sign-in throttle off, so every try is checked), creates
one database key, then makes TRIES refused logins of each kind, interleaved, and prints median and fastest.

    .venv/bin/python bench/bench_signin.py [--tries 50] [--rounds 12]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters

from support.client import ApiClient  # noqa: E402
from support.suite import start_api, start_mongo, start_redis, stop_together  # noqa: E402


def refusal_ms(session: requests.Session, url: str, key: str) -> float:
    started = time.perf_counter()
    reply = session.post(f"{url}/auth.login", auth=(key, "wrong secret"), timeout=30)
    elapsed = (time.perf_counter() - started) * 1000
    assert reply.status_code == 401, reply.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost (the shipped default is 12)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-signin-"))
    mongo = start_mongo(work / "mongo")
    redis = start_redis(work / "redis")
    api = start_api(mongo.port, work / "api", redis_port=redis.port, extra_env={
        "CLEARML__APISERVER__AUTH__BCRYPT_ROUNDS": str(args.rounds),
        "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__ENABLED": "false",
    })
    try:
        admin = ApiClient(api.url, api.key, api.secret).login()
        stored_key = admin.ok("auth.create_credentials", label="bench")["credentials"]["access_key"]
        keys = {"unknown key": "NOSUCHKEY0000000000000000000", "database key, wrong secret": stored_key,
                "configuration key, wrong secret": api.key}
        session = requests.Session()
        for key in keys.values():   # warm the connection and each worker's caches
            refusal_ms(session, api.url, key)
        times: dict[str, list[float]] = {name: [] for name in keys}
        for _ in range(args.tries):
            for name, key in keys.items():
                times[name].append(refusal_ms(session, api.url, key))
        print(f"refused auth.login over HTTP, bcrypt cost {args.rounds}, {args.tries} tries each (interleaved):")
        for name, values in times.items():
            print(f"  {name:34s} median {statistics.median(values):7.1f} ms   fastest {min(values):7.1f} ms")
    finally:
        stop_together([api.process])
        stop_together([mongo, redis])


if __name__ == "__main__":
    main()
