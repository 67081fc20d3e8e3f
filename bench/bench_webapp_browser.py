#!/usr/bin/env python3
"""Browser time of the web app's big-data pages, in headless Chromium against a real web app, API and embedded
store: a task with ``--points`` scalar points across 10 series (charts drawn, zoom re-query), a console of
``--lines`` lines (first screen, search hit far from the view), and compare of ``--tasks`` tasks x 10 metrics.

The events are written straight into the store as ingestion leaves them (bench_events_webapp.py's seeding), since
a million events through events.add_batch take ~20 minutes here. Each figure is the median of ``--repeat`` page
loads, in seconds, from navigation start to the thing drawn on screen.

Run:
    .venv/bin/python bench/bench_webapp_browser.py                       # 1M points, 1M lines, 100 tasks
    .venv/bin/python bench/bench_webapp_browser.py --points 100000 --lines 100000 --tasks 20 --json out.json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pymongo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_events_webapp import CHUNK, T0, _insert, seed_log, seed_scalars  # noqa: E402
from support.browser import launch_chromium, new_page, sign_in_page  # noqa: E402
from support.client import ApiClient  # noqa: E402
from support.suite import start_mongo, start_redis  # noqa: E402
from support.webapp import start_webapp_stack  # noqa: E402
from trackside.api.bll.events import field_hash  # noqa: E402
from trackside.api.bll.scalar_pyramid import ScalarPyramid  # noqa: E402
from trackside.shared.events import normalise  # noqa: E402

CHARTS_DRAWN = """(n) => { const plots = [...document.querySelectorAll('.chart-card .chart-plot')];
  return plots.length >= n && plots.slice(0, n).every((p) => p.dataset.drawn === 'true'); }"""


def seed_compare(db, company: str, tasks: list[str], points: int, metrics: int) -> None:
    pyramid = ScalarPyramid(db)
    batch: list[dict] = []
    for t, task in enumerate(tasks):
        for m in range(metrics):
            for i in range(points):
                batch.append(normalise({"type": "training_stats_scalar", "task": task, "metric": f"m{m}",
                                        "variant": "v", "iter": i, "value": math.cos(i / 50 + t + m),
                                        "timestamp": T0 + i * 100}, company))
                if len(batch) >= CHUNK:
                    _insert(db, batch)
                    pyramid.add(company, [(e, True) for e in batch])
                    batch = []
    if batch:
        _insert(db, batch)
        pyramid.add(company, [(e, True) for e in batch])


RESOURCES = """(names) => performance.getEntriesByType('resource')
  .filter((e) => names.some((n) => e.name.includes(n)))
  .map((e) => ({name: e.name.split('/').pop(), ms: Math.round(e.duration), start: Math.round(e.startTime)}))"""


def breakdown(page, names: list[str]) -> list[dict]:
    """The requests of the last load (name, duration, start from navigation) - where the time went."""
    return page.evaluate(RESOURCES, names)


def summarise(db, task: str, pairs: list[tuple[str, str]], last_iter: int) -> None:
    """The task's last_metrics as ingestion would leave them (the charts' list of series comes from there)."""
    fields = {f"last_metrics.{field_hash(m)}.{field_hash(v)}": {"metric": m, "variant": v, "value": 0.0,
                                                                  "value_iteration": last_iter}
              for m, v in pairs}
    db.tasks.update_one({"_id": task}, {"$set": {**fields, "last_iteration": last_iter}})


def timed_load(page, url: str, ready: str, arg=None, repeat: int = 3) -> float | str:
    """Median seconds from navigation to ``ready``; a page not ready in 120 s is reported as such."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    times = []
    for _ in range(repeat):
        page.goto("/projects")
        start = time.perf_counter()
        page.goto(url)
        try:
            page.wait_for_function(ready, arg=arg, timeout=120_000)
        except PlaywrightTimeout:
            return "not ready in 120 s"
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--compare-points", type=int, default=1000, help="points per task and metric")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict = {"points": args.points, "lines": args.lines, "tasks": args.tasks,
                     "compare_points": args.compare_points}
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-webapp-browser-") as tmp:
        work = Path(tmp)
        mongo, redis = start_mongo(work), start_redis(work)
        stack = None
        try:
            stack = start_webapp_stack(mongo.port, redis.port, work / "stack")
            client = ApiClient(stack.api_url, stack.api_key, stack.api_secret).login()
            project = client.ok("projects.create", name=f"bench {time.time()}")["id"]
            task = client.ok("tasks.create", name="big", type="training", project=project)["id"]
            db = pymongo.MongoClient(f"mongodb://127.0.0.1:{mongo.port}/?retryWrites=false").backend
            company = db.tasks.find_one({"_id": task})["company"]
            start = time.perf_counter()
            seed_scalars(db, company, task, args.points, 10)
            summarise(db, task, [(f"metric{s // 4}", f"v{s}") for s in range(10)], args.points // 10 - 1)
            seed_log(db, company, task, args.lines)
            compared = [client.ok("tasks.create", name=f"run {n:03d}", type="training", project=project)["id"]
                        for n in range(args.tasks)]
            seed_compare(db, company, compared, args.compare_points, 10)
            for one in compared:
                summarise(db, one, [(f"m{m}", "v") for m in range(10)], args.compare_points - 1)
            results["seed_s"] = round(time.perf_counter() - start, 1)
            print(json.dumps(results), flush=True)

            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = new_page(browser, stack.url)
                sign_in_page(page, stack.admin_user, stack.admin_password)
                page.evaluate("localStorage.removeItem('trackside.scalars.settings')")
                base = f"/projects/{project}/tasks/{task}"

                # Charts: 10 series of args.points/10 points, grouped by metric (3 charts, all on screen).
                results["scalars: 3 charts (10 series), drawn"] = timed_load(
                    page, base + "/info-output/metrics/scalar", CHARTS_DRAWN, 3, args.repeat)
                results["scalars: requests of the last load"] = breakdown(
                    page, ["downsampled", "get_multi_task_metrics", "single_value", "plotly.min.js"])
                print(results, flush=True)
                # Zoom: 1% of the range of the first chart, re-queried and redrawn.
                per_series = args.points // 10
                zooms = []
                for n in range(args.repeat):
                    a = per_series // 3 + n * 1000
                    before = page.evaluate("Number(document.querySelector('.chart-plot').dataset.draws || 0)")
                    start = time.perf_counter()
                    page.evaluate("([a, b]) => Plotly.relayout(document.querySelector('.chart-plot'), "
                                  "{'xaxis.range': [a, b]})", [a, a + per_series // 100])
                    page.wait_for_function("(n) => Number(document.querySelector('.chart-plot').dataset.draws) > n",
                                           arg=before, timeout=60_000)
                    zooms.append(time.perf_counter() - start)
                results["zoom to 1% of the range: re-queried and drawn"] = round(statistics.median(zooms), 3)
                results["zoomed chart status"] = page.evaluate(
                    "document.querySelector('.chart-status').textContent")

                # Console: the tail on screen, then a search hit half a log away.
                last = f"step {args.lines - 1} "
                results["console: first screen (tail)"] = timed_load(
                    page, base + "/info-output/log",
                    "(t) => [...document.querySelectorAll('.console-row')].some((r) => r.textContent.includes(t))",
                    last, args.repeat)
                hits = []
                for _ in range(args.repeat):
                    page.goto(base + "/info-output/log")
                    page.wait_for_selector(".console-row")
                    page.get_by_label("Search console").fill("NEEDLE")
                    start = time.perf_counter()
                    page.get_by_role("button", name="Previous match").click()
                    page.wait_for_selector(".console-hit mark", timeout=120_000)
                    hits.append(time.perf_counter() - start)
                results["console: requests"] = breakdown(page, ["search_task_log"])
                results["console: search hit (prev from the end)"] = round(statistics.median(hits), 3)
                page.get_by_role("button", name="Previous match").click()
                start = time.perf_counter()
                page.wait_for_function("() => document.querySelector('.console-status').textContent"
                                       f".includes('line {args.lines // 2 + 1:,}')", timeout=120_000)
                results["console: next hit, half the log away"] = round(time.perf_counter() - start, 3)
                print(results, flush=True)

                # Compare: every task's 10 metrics overlaid; first screen, then all 10 charts after scrolling.
                ids = ",".join(compared)
                url = f"/projects/{project}/compare-tasks;ids={ids}/scalars/graph"
                results[f"compare {args.tasks} tasks x 10 metrics: first screen drawn"] = timed_load(
                    page, url, CHARTS_DRAWN, 4, args.repeat)
                start = time.perf_counter()
                page.evaluate("document.querySelector('main').scrollTo(0, 1e9)")
                page.wait_for_function(CHARTS_DRAWN, arg=10, timeout=120_000)
                results[f"compare {args.tasks} tasks x 10 metrics: the other 6 after scrolling"] = round(
                    time.perf_counter() - start, 3)
                results["compare: requests of the last load"] = breakdown(page, ["downsampled", "get_all_ex"])
                results[f"compare {args.tasks} tasks: hyperparameters table"] = timed_load(
                    page, f"/projects/{project}/compare-tasks;ids={ids}/hyper-params/values",
                    "() => !!document.querySelector('.compare-table')", None, args.repeat)
                print(results, flush=True)
                browser.close()
        finally:
            if stack:
                stack.stop()
            redis.stop()
            mongo.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
