"""bench/bench_dispatch.py --quick runs clean inside ``make test`` (a sanity check; figures come from
``make bench-dispatch``): both agents claim every task, and the subscribed one beats the 5 s poll."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_dispatch_bench(tmp_path):
    out_file = tmp_path / "figures.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_dispatch.py"), "--quick", "--json",
                          str(out_file)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "subscribed (streams)" in run.stdout and "polling (5 s loop)" in run.stdout
    figures = json.loads(out_file.read_text())
    assert figures["subscribed_p50_ms"] < figures["polling_p50_ms"]
    assert figures["ratio_p50"] > 1
