"""Run a benchmark script's reduced form (``--quick``) as a subprocess, for the tests that keep benches honest."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_quick_bench(script: Path, timeout_s: int, *extra: str) -> tuple[int, str, str]:
    """``python <script> --quick <extra...>`` from the repository root: (exit code, stdout, stderr). Past
    ``timeout_s`` the script is sent SIGTERM (each stops its servers on it), then killed, and the test fails."""
    proc = subprocess.Popen([sys.executable, str(script), "--quick", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"{script.name} --quick still running after {timeout_s} s\n{out}\n{err[-3000:]}")


def bench_api_env(api_server) -> dict[str, str]:
    """The environment for a bench run with ``--api-url api_server.url``: the credentials go by environment
    (bench/task_start.py), never on a command line other processes can read."""
    return {**os.environ, "TRACKSIDE_BENCH_API_KEY": api_server.key, "TRACKSIDE_BENCH_API_SECRET": api_server.secret}
