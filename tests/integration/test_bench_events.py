"""The events ingestion benchmark, reduced (``--quick``), runs clean inside ``make test`` on both backends.

Only sanity is asserted (the script's own checks passed, every figure and ratio is printed), never speed:
``make bench-events`` is where the figures come from.
"""
from __future__ import annotations

import re
from pathlib import Path

from support.bench_runs import run_quick_bench

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_events.py"
TIMEOUT_S = 240


def test_quick_bench_runs_both_backends_and_reports_rates_and_ratios():
    returncode, out, err = run_quick_bench(SCRIPT, TIMEOUT_S)
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    for backend in ("mongo", "elastic"):
        # the backend, then raw bulk, store.write and API rates, then API/raw
        assert re.search(rf"^{backend} +[\d,]+ +[\d,]+ +[\d,]+ +\d+\.\d\d$", out, re.M), f"no row for {backend}:\n{out}"
        assert re.search(rf"^target API/raw >= 0.5: {backend} (met|NOT met)$", out, re.M), out
    assert re.search(r"^elastic store.write with refresh=true: [\d,]+ events/s", out, re.M), out
    assert "checks: all passed" in out
