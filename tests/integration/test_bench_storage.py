"""The storage benchmark, reduced (``--quick``) and on the embedded default only, runs clean inside ``make test``.

The full comparison of both Mongo-wire servers is ``make bench-storage``; this keeps the script working and
the checks it makes on secantusdb (Trackside's queue claim exactly-once, paging, durability...) passing.
"""
from __future__ import annotations

import re
import runpy
from pathlib import Path

from support.bench_runs import run_quick_bench

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_mongo_wire.py"
TIMEOUT_S = 180


def bench_patterns() -> list[str]:
    return runpy.run_path(str(SCRIPT))["PATTERNS"]  # the script's own list; main() does not run


def test_quick_bench_passes_on_secantusdb_and_reports_every_pattern():
    returncode, out, err = run_quick_bench(SCRIPT, TIMEOUT_S, "--servers", "secantusdb")
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    patterns = bench_patterns()
    assert "queue_pop" in patterns and "queue_pop_fam_before" in patterns
    for pattern in patterns:
        # a table row: the pattern name, then its unit and the secantusdb median (a number, not FAIL/ERR)
        assert re.search(rf"^{re.escape(pattern)}\*? +\S+ +[\d,.]+$", out, re.M), f"no row for {pattern}:\n{out}"
    assert "not used by Trackside; known not exactly-once on secantusdb" in out
