"""The webhooks benchmark, reduced (``--quick``), runs clean inside ``make test``: every event is delivered
and every figure is printed. Only sanity is asserted, never speed: ``make bench-webhooks`` is where the
figures come from."""
from __future__ import annotations

import json
import re
from pathlib import Path

from support.bench_runs import run_quick_bench

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_webhooks.py"
TIMEOUT_S = 240


def test_quick_bench_delivers_every_event_and_reports_the_figures(tmp_path):
    figures_file = tmp_path / "figures.json"
    returncode, out, err = run_quick_bench(SCRIPT, TIMEOUT_S, "--json", str(figures_file))
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    assert re.search(r"^burst: \d+ events, \d+ events/s from API write to delivery", out, re.M), out
    for row in ("end to end, burst", "end to end, idle", "tasks.create, publish_events on",
                "tasks.create, publish_events off"):
        assert re.search(rf"^{re.escape(row)} +\d+ +[\d.]+ +[\d.]+ +[\d.]+$", out, re.M), f"no row {row}:\n{out}"
    assert re.search(r"^publishing costs tasks.create [+-][\d.]+ ms p50 \(target <= 1 ms: (met|missed)\)$", out, re.M)
    figures = json.loads(figures_file.read_text())
    assert figures["events_per_sec"] > 0 and figures["idle_p50_ms"] > 0
