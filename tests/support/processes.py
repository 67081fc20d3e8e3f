"""Ending a test's agent process the way a user or a service manager would, then whatever it left behind."""
from __future__ import annotations

import subprocess

import psutil


def stop_process(process: subprocess.Popen, signum: int, timeout: float = 20) -> None:
    """Send ``signum`` and wait; kill it after ``timeout``; then kill every descendant it had."""
    if process.poll() is not None:
        return
    descendants = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signum)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
