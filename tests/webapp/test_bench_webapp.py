"""The web app benchmark, reduced (``--quick``: a few hundred tasks, points and lines), runs clean inside
``make test``: it seeds, measures server and browser time on both sides and prints every figure with its ratio.

Only sanity is asserted (the script's own checks passed: every call answered as the page needs, every page
showed what it must), never speed: ``make bench-webapp`` is where the figures come from.
"""
from __future__ import annotations

import re
from pathlib import Path

from support.bench_runs import run_quick_bench

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_webapp.py"
TIMEOUT_S = 240
FIGURE = r"[\d,.]+ (ms|s)"
ROWS = [
    "store alone: tasks page", "server: table first page", "server: table sorted by name",
    "server: table filtered by status", "server: table search", "server: scalar chart", "server: chart zoom re-query",
    "server: console first screen", "server: console search hit", "server: compare scalars",
    "browser: table first rows visible", "browser: scalar chart drawn", "browser: zoom re-query drawn",
    "browser: console first screen", "browser: console search hit shown", "browser: compare scalars drawn",
]


def test_quick_bench_seeds_measures_and_reports_every_figure():
    returncode, out, err = run_quick_bench(SCRIPT, TIMEOUT_S)
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    for row in ROWS:
        # name, baseline, (baseline*), big, big/base ratio
        line = next((line for line in out.splitlines() if line.startswith(row)), None)
        assert line, f"no row {row!r}:\n{out}"
        assert re.search(rf"{FIGURE} +({FIGURE}|-) +{FIGURE} +\d+\.\d ", line), f"figures missing: {line}"
    assert "checks: all passed" in out
