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
    .venv/bin/python bench/bench_agent.py --quick      # sanity run inside make test (1 measured task each,
                                                       # its requirement one small wheel: six)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters and agent harnesses

from support.our_agent import WHEELHOUSE, AgentHome  # noqa: E402
from support.stock_agent import StockAgent  # noqa: E402
from task_start import QUICK_REQUIREMENTS, REQUIREMENTS, add_api_argument, bench_queues, measure, stack  # noqa: E402

STOCK_POLL_SEC = 5  # clearml-agent's default (and minimum) poll period
FULL, QUICK = 5, 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sanity run")
    parser.add_argument("--json", help="also write the figures to this file")
    add_api_argument(parser)
    args = parser.parse_args(argv)
    if not WHEELHOUSE.is_dir():
        print(f"{WHEELHOUSE} is missing: run `make setup`", file=sys.stderr)
        return 2
    runs = QUICK if args.quick else FULL
    requirements = QUICK_REQUIREMENTS if args.quick else REQUIREMENTS
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    servers, agents = [], []
    try:
        server, api = stack(args, work, servers)
        queues = bench_queues(api, "trackside", "stock")

        ours_home = AgentHome.create(work / "trackside", server)
        ours = ours_home.start_daemon("--queue", queues["trackside"][0])
        agents.append(ours)
        trackside = measure("trackside", api, work, queues["trackside"][1], runs, requirements=requirements)
        ours.stop()

        stock_home = work / "stock"
        stock_home.mkdir()
        stock = StockAgent.start(server.url, server.key, server.secret, stock_home, queue=queues["stock"][0],
                                 poll_sec=STOCK_POLL_SEC, system_site_packages=False, venvs_cache=True,
                                 extra_env={"PIP_FIND_LINKS": str(WHEELHOUSE)})
        agents.append(stock)
        stock_figures = measure("stock", api, work, queues["stock"][1], runs, requirements=requirements)
        stock.stop()
    finally:
        for agent in agents:
            agent.stop()
        for process in reversed(servers):
            process.stop()

    ratio = stock_figures.median / trackside.median
    print(f"enqueue to task start, warm venv cache ({runs} task(s) each, seconds):")
    for figures in (trackside, stock_figures):
        print(figures.line("venv built"))
    print(f"  stock / trackside: {ratio:.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"trackside": trackside.as_dict(), "stock": stock_figures.as_dict(),
                                               "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
