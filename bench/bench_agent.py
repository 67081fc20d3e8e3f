#!/usr/bin/env python3
"""Enqueue-to-task-start latency with a warm venv cache: our daemon against the stock clearml-agent.

Both agents run in the same run, one after the other (never at once: two cores), on the same embedded
stack (secantusdb, Valkey with ACL users, the API), each with its default settings and its venv cache on:

  trackside   `trackside-agent daemon --queue bench-trackside`: woken through its Redis stream
  stock       `clearml-agent daemon --queue bench-stock` 3.0.3 (from .venv-clients): polls every 5 s

The task is the same for both: a literal script whose requirements (clearml==2.1.12 and its dependencies,
installed offline from the wheelhouse that `make setup` fills) make a real venv. A warm-up run per agent
fills its venv cache; each measured run then creates a fresh task with the same requirements and enqueues
it. Latency = from just before tasks.enqueue to the first line of the task's own process (it writes
time.time() to a file), on one clock. The venv build of the warm-up (cache miss) is reported too.

Run:
    make bench-agent                                   # full run (5 measured tasks per agent, ~3 minutes)
    .venv/bin/python bench/bench_agent.py --quick      # sanity run inside make test (1 measured task each)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters and agent harnesses

from support.client import ApiClient  # noqa: E402
from support.our_agent import WHEELHOUSE, AgentHome  # noqa: E402
from support.stock_agent import StockAgent  # noqa: E402
from support.suite import start_api, start_mongo, start_redis  # noqa: E402

REQUIREMENTS = "clearml==2.1.12\n"
JOB = """import pathlib, time
pathlib.Path({mark!r}).write_text(repr(time.time()))
"""
STOCK_POLL_SEC = 5  # clearml-agent's default (and minimum) poll period
FULL, QUICK = 5, 1


@dataclass
class Figures:
    agent: str
    cold_sec: float = 0.0                       # the warm-up: enqueue to task start, venv built
    warm_sec: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.warm_sec)


def create_task(api: ApiClient, name: str, mark: Path) -> str:
    script = {"diff": JOB.format(mark=str(mark)), "entry_point": "bench_job.py", "working_dir": ".",
              "binary": "python3", "requirements": {"pip": REQUIREMENTS}}
    return api.ok("tasks.create", name=name, type="training", script=script)["id"]


def run_once(api: ApiClient, queue: str, home: Path, name: str, timeout: float = 600) -> float:
    mark = home / f"{name}.mark"
    task = create_task(api, name, mark)
    sent = time.time()
    api.ok("tasks.enqueue", task=task, queue=queue)
    deadline = time.monotonic() + timeout
    while not mark.exists() or not mark.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the task did not start within {timeout:.0f} s")
        time.sleep(0.01)
    started = float(mark.read_text())
    while api.ok("tasks.get_by_id", task=task)["task"]["status"] not in ("completed", "failed", "stopped"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the task did not end")
        time.sleep(0.2)
    status = api.ok("tasks.get_by_id", task=task)["task"]["status"]
    if status != "completed":
        raise RuntimeError(f"{name}: ended {status}")
    return started - sent


def measure(agent: str, api: ApiClient, home: Path, queue: str, runs: int) -> Figures:
    figures = Figures(agent)
    figures.cold_sec = run_once(api, queue, home, f"{agent}-warmup")
    for i in range(runs):
        figures.warm_sec.append(run_once(api, queue, home, f"{agent}-{i}"))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sanity run")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not WHEELHOUSE.is_dir():
        print(f"{WHEELHOUSE} is missing: run `make setup`", file=sys.stderr)
        return 2
    runs = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    servers, agents = [], []
    try:
        mongo = start_mongo(work / "mongo")
        servers.append(mongo)
        redis_server = start_redis(work / "redis")
        servers.append(redis_server)
        server = start_api(mongo.port, work / "api", redis_port=redis_server.port)
        servers.append(server.process)
        api = ApiClient(server.url, server.key, server.secret).login()
        queue_ids = {name: api.ok("queues.create", name=name)["id"] for name in ("bench-trackside", "bench-stock")}

        ours_home = AgentHome.create(work / "trackside", server)
        ours = ours_home.start_daemon("--queue", "bench-trackside")
        agents.append(ours)
        trackside = measure("trackside", api, work, queue_ids["bench-trackside"], runs)
        ours.stop()

        stock_home = work / "stock"
        stock_home.mkdir()
        stock = StockAgent.start(server.url, server.key, server.secret, stock_home, queue="bench-stock",
                                 poll_sec=STOCK_POLL_SEC, system_site_packages=False, venvs_cache=True,
                                 extra_env={"PIP_FIND_LINKS": str(WHEELHOUSE)})
        agents.append(stock)
        stock_figures = measure("stock", api, work, queue_ids["bench-stock"], runs)
        stock.stop()
    finally:
        for agent in agents:
            agent.stop()
        for process in reversed(servers):
            process.stop()

    ratio = stock_figures.median / trackside.median
    print(f"enqueue to task start, warm venv cache ({runs} task(s) each, seconds):")
    for figures in (trackside, stock_figures):
        runs_text = ", ".join(f"{s:.2f}" for s in figures.warm_sec)
        print(f"  {figures.agent:<10} median {figures.median:6.2f}   runs [{runs_text}]   "
              f"cold (venv built) {figures.cold_sec:6.2f}")
    print(f"  stock / trackside: {ratio:.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "trackside": {"median": trackside.median, "runs": trackside.warm_sec, "cold": trackside.cold_sec},
            "stock": {"median": stock_figures.median, "runs": stock_figures.warm_sec, "cold": stock_figures.cold_sec},
            "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
