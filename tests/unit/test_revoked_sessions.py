"""Revoked-token checks when Redis cannot be reached: calls go on (fail open, logged) and stop trying for a while."""
from __future__ import annotations

import time

from trackside.shared.revocation import RevokedSessions
from trackside.shared.embedded.process import free_port
from trackside.shared.storage.redis import connect_failing_fast


def test_an_unreachable_redis_is_skipped_for_a_while(caplog):
    sessions = RevokedSessions(connect_failing_fast({"host": "127.0.0.1", "port": free_port()}))
    assert sessions.is_revoked("abc") is False
    assert "cannot check revoked tokens" in caplog.text
    started = time.monotonic()
    assert sessions.is_revoked("abc") is False   # not tried again: answers at once
    assert time.monotonic() - started < 0.05
