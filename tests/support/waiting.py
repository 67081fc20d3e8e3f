"""Waiting in tests for something another process does: poll a condition until it holds or time runs out."""
from __future__ import annotations

import time


def wait_for(condition, timeout: float = 30.0, what: str = "condition", interval: float = 0.05):
    """``condition()``'s first true value; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
