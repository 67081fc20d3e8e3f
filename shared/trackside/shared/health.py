"""Liveness and readiness answers shared by every service's health endpoints.

Each readiness check pings one dependency with a short timeout and yields a boolean; it never raises, so a
probe learns which dependency is down and nothing else (no host names, versions or error texts: the
endpoints are unauthenticated). The checks run in parallel, so a probe waits about one timeout at most.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, Mapping

log = logging.getLogger("trackside.health")
CHECK_TIMEOUT_SEC = 2.0
LIVE_PATH, READY_PATH = "/health/live", "/health/ready"
LIVE_REPLY = {"status": "ok"}

Check = tuple[str, Callable[[], bool]]


def run_checks(checks: Iterable[Check], timeout: float = CHECK_TIMEOUT_SEC) -> dict[str, bool]:
    """``{name: ok}``; several checks may share a name (both MongoDB databases): all of them must pass.
    A check still running after ``timeout`` (plus a margin for its own timeout to fire) counts as failed."""
    checks = list(checks)
    results = {name: True for name, _ in checks}
    if not checks:
        return results
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
    futures = {pool.submit(_safely, name, check): name for name, check in checks}
    done, _ = wait(futures, timeout=timeout + 1.0)
    pool.shutdown(wait=False)
    for future, name in futures.items():
        results[name] = results[name] and future in done and future.result()
    return results


def ready_reply(results: Mapping[str, bool], optional: Iterable[str] = ()) -> tuple[int, dict]:
    """The HTTP status and body of a readiness answer; ``optional`` checks are reported but never fail it
    (dependencies the service keeps serving without)."""
    optional = set(optional)
    ok = all(passed for name, passed in results.items() if name not in optional)
    return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": dict(results)}


def _safely(name: str, check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception as exc:  # noqa: BLE001 - a probe reports a failure, it never fails itself
        log.warning("readiness check %s failed: %s", name, exc)
        return False


def mongo_check(db: Any, timeout: float = CHECK_TIMEOUT_SEC) -> Callable[[], bool]:
    """A ``ping`` of a pymongo database; the client's own (long) server selection timeout does not apply."""
    import pymongo  # the server extra; only services that use MongoDB call this

    def check() -> bool:
        with pymongo.timeout(timeout):
            db.command("ping")
        return True
    return check


def redis_client(settings: Mapping[str, Any], timeout: float = CHECK_TIMEOUT_SEC):
    """A client for probes only: short socket timeouts and no retries, unlike the services' own clients."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from trackside.shared.storage import redis as redis_store

    return redis_store.connect(settings, socket_timeout=timeout, socket_connect_timeout=timeout,
                               health_check_interval=0, retry=Retry(NoBackoff(), 0))


def redis_check(client: Any) -> Callable[[], bool]:
    return lambda: bool(client.ping())


def elastic_check(client: Any, timeout: float = CHECK_TIMEOUT_SEC) -> Callable[[], bool]:
    """``HEAD /`` of the cluster (``ping`` answers False on connection and HTTP errors)."""
    return lambda: bool(client.options(request_timeout=timeout, max_retries=0).ping())
