"""Ending a test's agent process the way a user or a service manager would, then whatever it left behind."""
from __future__ import annotations

import subprocess
import time

import psutil


def stop_process(process: subprocess.Popen, signum: int, timeout: float = 20,
                 resend_every: float | None = None) -> None:
    """Send ``signum`` and wait (sending it again every ``resend_every`` seconds, as a user presses Ctrl-C
    again when the first one is swallowed); kill it after ``timeout``; then kill every descendant it had."""
    if process.poll() is not None:
        return
    descendants = psutil.Process(process.pid).children(recursive=True)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signum)
        try:
            process.wait(min(resend_every or timeout, max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        process.kill()
        process.wait()
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
