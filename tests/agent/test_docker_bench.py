"""bench/bench_docker.py --quick runs clean inside ``make test`` (a sanity check; figures come from
``make bench-docker``): the same task starts in a container and in a venv, both from warm caches."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.bench_runs import bench_api_env
from support.our_agent import WHEELHOUSE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason="make setup fills the wheelhouse")
def test_quick_docker_bench(api_server, docker_engine, test_image, tmp_path):
    """On the suite's API, engine and image (the full bench starts its own)."""
    out_file = tmp_path / "figures.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_docker.py"), "--quick", "--json",
                          str(out_file), "--docker-host", docker_engine.base_url, "--image", test_image,
                          "--api-url", api_server.url],
                         cwd=ROOT, capture_output=True, text=True, timeout=900, env=bench_api_env(api_server))
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(out_file.read_text())
    assert figures["docker"]["runs"] and figures["venv"]["runs"]
    assert figures["docker"]["median"] < figures["docker"]["cold"]   # the warm caches are used
