"""bench/bench_agent.py --quick runs clean inside ``make test`` (a sanity check; figures come from
``make bench-agent``): both agents run the task from a warm venv cache, and ours starts it sooner."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_runs import bench_api_env
from support.our_agent import WHEELHOUSE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason="make setup fills the wheelhouse")
def test_quick_agent_bench(api_server, tmp_path):
    """On the suite's API (the full bench starts its own stack)."""
    out_file = tmp_path / "figures.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_agent.py"), "--quick", "--json",
                          str(out_file), "--api-url", api_server.url], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, env=bench_api_env(api_server))
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(out_file.read_text())
    assert figures["trackside"]["median"] < figures["stock"]["median"]
