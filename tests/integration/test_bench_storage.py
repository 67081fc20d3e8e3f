"""The storage benchmark, reduced (``--quick``) and on the embedded default only, runs clean inside ``make test``.

The full comparison of both Mongo-wire servers is ``make bench-storage``; this keeps the script working and
the checks it makes on secantusdb (Trackside's queue claim exactly-once, paging, durability...) passing.
"""
from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_mongo_wire.py"
TIMEOUT_S = 180


def bench_patterns() -> list[str]:
    return runpy.run_path(str(SCRIPT))["PATTERNS"]  # the script's own list; main() does not run


def run_quick_bench() -> tuple[int, str, str]:
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--servers", "secantusdb"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.terminate()  # the script stops its server and workers on SIGTERM
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"bench --quick still running after {TIMEOUT_S} s\n{out}\n{err[-3000:]}")


def test_quick_bench_passes_on_secantusdb_and_reports_every_pattern():
    returncode, out, err = run_quick_bench()
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    patterns = bench_patterns()
    assert "queue_pop" in patterns and "queue_pop_fam_before" in patterns
    for pattern in patterns:
        # a table row: the pattern name, then its unit and the secantusdb median (a number, not FAIL/ERR)
        assert re.search(rf"^{re.escape(pattern)}\*? +\S+ +[\d,.]+$", out, re.M), f"no row for {pattern}:\n{out}"
    assert "not used by Trackside; known not exactly-once on secantusdb" in out
