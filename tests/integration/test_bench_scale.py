"""The scale benchmark, reduced (``--quick``: 200 then 1,000 tasks), runs clean inside ``make test``: every query
answers as expected at both sizes and every figure and ratio is printed. Only sanity is asserted, never speed:
``make bench-scale`` (1,000 / 10,000 / 100,000 tasks) is where the figures come from."""
from __future__ import annotations

import json
import re
from pathlib import Path

from support.bench_runs import run_quick_bench

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_scale.py"
TIMEOUT_S = 180
ROWS = ("table: first page, biggest project", "projects page (get_all_ex, include_stats)",
        "tags: organization.get_tags", "users: projects.get_user_names, all",
        "metrics: get_unique_metric_variants, all", "hyperparams: get_hyperparam_values, all", "tasks.get_by_id")


def test_quick_bench_answers_every_query_at_both_sizes_and_reports_ratios(tmp_path):
    figures_file = tmp_path / "figures.json"
    returncode, out, err = run_quick_bench(SCRIPT, TIMEOUT_S, "--json", str(figures_file))
    assert returncode == 0, f"exit code {returncode}\n{out}\n{err[-3000:]}"
    for row in ROWS:  # the query, its time at 200 and 1,000 tasks, the ratio, whether the aim is met
        assert re.search(rf"^{re.escape(row)} +[\d,]+ ms +[\d,]+ ms +[\d.]+x  (met|NO)$", out, re.M), \
            f"no row {row}:\n{out}"
    assert re.search(r"^tasks.delete, 100 events +[\d,]+ ms +[\d,]+ ms", out, re.M), out
    assert "checks: all passed" in out
    figures = json.loads(figures_file.read_text())
    assert figures["sizes"]["steps"] == [200, 1000]
    assert all(set(f["samples"]) == {"200", "1000"} for f in figures["figures"]), figures
