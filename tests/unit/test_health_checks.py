"""trackside.shared.health.run_checks: checks in parallel, shared names all must pass, a failing or hanging
check is false (never an exception), and the reply carries nothing but the flags."""
from __future__ import annotations

import threading
import time

from trackside.shared import health


def test_checks_sharing_a_name_must_all_pass():
    results = health.run_checks([("mongo", lambda: True), ("mongo", lambda: False), ("redis", lambda: True)])
    assert results == {"mongo": False, "redis": True}


def test_a_raising_check_is_false():
    def boom() -> bool:
        raise ConnectionError("10.0.0.5:27017 refused")
    assert health.run_checks([("mongo", boom)]) == {"mongo": False}
    assert health.ready_reply({"mongo": False}) == (503, {"status": "unavailable", "checks": {"mongo": False}})


def test_checks_run_in_parallel_and_a_hanging_one_is_given_up():
    release = threading.Event()
    started = time.monotonic()
    results = health.run_checks([("a", lambda: release.wait(10)), ("b", lambda: time.sleep(0.3) or True),
                                 ("c", lambda: time.sleep(0.3) or True)], timeout=0.5)
    release.set()
    assert results == {"a": False, "b": True, "c": True}
    assert time.monotonic() - started < 2.5


def test_ready_when_every_check_passes():
    assert health.ready_reply(health.run_checks([])) == (200, {"status": "ok", "checks": {}})
    assert health.ready_reply({"storage": True}) == (200, {"status": "ok", "checks": {"storage": True}})
