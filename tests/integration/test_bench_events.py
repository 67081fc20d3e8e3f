"""The events ingestion benchmark, reduced (``--quick``), runs clean inside ``make test`` on both backends.

Only sanity is asserted (the script's own checks passed, every figure and ratio is printed), never speed:
``make bench-events`` is where the figures come from.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_events.py"
TIMEOUT_S = 240


def run_quick_bench() -> tuple[int, str, str]:
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--quick"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.terminate()  # the script stops its servers on SIGTERM
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"bench --quick still running after {TIMEOUT_S} s\n{out}\n{err[-3000:]}")


def test_quick_bench_runs_both_backends_and_reports_rates_and_ratios():
    returncode, out, err = run_quick_bench()
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    for backend in ("mongo", "elastic"):
        # the backend, then raw bulk, store.write and API rates, then API/raw
        assert re.search(rf"^{backend} +[\d,]+ +[\d,]+ +[\d,]+ +\d+\.\d\d$", out, re.M), f"no row for {backend}:\n{out}"
        assert re.search(rf"^target API/raw >= 0.5: {backend} (met|NOT met)$", out, re.M), out
    assert re.search(r"^elastic store.write with refresh=true: [\d,]+ events/s", out, re.M), out
    assert "checks: all passed" in out
