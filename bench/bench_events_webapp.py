#!/usr/bin/env python3
"""Server time of the web app's big-data events endpoints on the embedded default (secantusdb), through a real API
process: a task with ``--points`` scalar events across ``--series`` series (charts, zoom) and a log of ``--lines``
lines (console window, search).

The data is written straight into the stores as ingestion leaves it (the events, their scalar bucket pyramid,
the log line counter) because a million events through ``events.add_batch`` take ~20 minutes here
(``make bench-events`` measures that path). Each figure is the median of ``--repeat`` calls, in seconds, as the
client sees it (HTTP and JSON included).

Run:
    .venv/bin/python bench/bench_events_webapp.py                      # 1,000,000 points, 1,000,000 lines
    .venv/bin/python bench/bench_events_webapp.py --points 100000 --lines 100000 --json out.json
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
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters and API client

from support.client import ApiClient  # noqa: E402
from support.suite import start_api, start_mongo, start_redis  # noqa: E402
from trackside.api.bll.event_log_lines import COUNTERS  # noqa: E402
from trackside.api.bll.scalar_pyramid import ScalarPyramid  # noqa: E402
from trackside.shared.events import normalise  # noqa: E402
from trackside.shared.events.mongo import EVENTS  # noqa: E402

CHUNK = 10_000
T0 = 1_733_000_000_000


def _insert(db, docs: list[dict]) -> None:
    db[EVENTS.name].insert_many([{"_id": d["id"], **{k: v for k, v in d.items() if k != "id"}} for d in docs],
                                ordered=False)


def seed_scalars(db, company: str, task: str, points: int, series: int) -> None:
    """The events, inserted a chunk at a time, and their buckets built in one pass (ScalarPyramid.insert_new)."""
    per_series = points // series

    def events():
        batch: list[dict] = []
        for i in range(per_series):
            for s in range(series):
                value = math.sin(i / 500 + s) + (50.0 if i % 99_991 == 12_345 else 0.0)
                event = normalise({"type": "training_stats_scalar", "task": task, "metric": f"metric{s // 4}",
                                   "variant": f"v{s}", "iter": i, "value": value, "timestamp": T0 + i * 100},
                                  company)
                batch.append(event)
                yield event
            if len(batch) >= CHUNK:
                _insert(db, batch)
                batch = []
        if batch:
            _insert(db, batch)

    ScalarPyramid(db).insert_new(company, events())


def seed_log(db, company: str, task: str, lines: int) -> None:
    batch = []
    for n in range(lines):
        event = normalise({"type": "log", "task": task, "msg": f"step {n} loss={n % 97} lr=0.001"
                           + (" NEEDLE" if n in (lines // 2, lines - 1000) else ""),
                           "level": "info", "worker": "bench", "timestamp": T0 + n}, company)
        event["seq"] = n
        batch.append(event)
        if len(batch) >= CHUNK:
            _insert(db, batch)
            batch = []
    if batch:
        _insert(db, batch)
    db[COUNTERS.name].insert_one({"_id": f"{company}:{task}", "company": company, "task": task, "n": lines})


def timed(client: ApiClient, repeat: int, name: str, **request) -> tuple[float, dict]:
    times, answer = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.ok(name, **request)
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict = {"points": args.points, "series": args.series, "lines": args.lines}
    with tempfile.TemporaryDirectory(prefix="bench-webapp-events-") as tmp:
        work = Path(tmp)
        mongo = start_mongo(work)
        redis = start_redis(work)
        try:
            api = start_api(mongo.port, work / "api", redis_port=redis.port)
            try:
                client = ApiClient(api.url, api.key, api.secret).login()
                project = client.ok("projects.create", name=f"bench {time.time()}")["id"]
                task = client.ok("tasks.create", name="big", type="training", project=project)["id"]
                db = pymongo.MongoClient(f"mongodb://127.0.0.1:{mongo.port}/?retryWrites=false").backend
                company = db.tasks.find_one({"_id": task})["company"]
                start = time.perf_counter()
                seed_scalars(db, company, task, args.points, args.series)
                results["seed_scalars_s"] = round(time.perf_counter() - start, 1)
                start = time.perf_counter()
                seed_log(db, company, task, args.lines)
                results["seed_log_s"] = round(time.perf_counter() - start, 1)
                print(json.dumps(results), flush=True)
                per_series = args.points // args.series
                name = "events.scalar_metrics_iter_downsampled"
                one = [{"metric": "metric0", "variants": ["v0"]}]
                cases = {
                    "chart: all series, 1000 points, by iteration": dict(task=task, points=1000),
                    "chart: all series, by time": dict(task=task, points=1000, key="timestamp"),
                    "zoom: one series, 10% of the range": dict(task=task, metrics=one, x_min=per_series // 3,
                                                               x_max=per_series // 3 + per_series // 10),
                    "zoom: one series, 1% of the range": dict(task=task, metrics=one, x_min=per_series // 3,
                                                              x_max=per_series // 3 + per_series // 100),
                    "zoom: one series, 800 iterations (exact)": dict(task=task, metrics=one, x_min=per_series // 3,
                                                                     x_max=per_series // 3 + 799),
                    "zoom: all series, 10% of the range": dict(task=task, x_min=per_series // 3,
                                                               x_max=per_series // 3 + per_series // 10),
                }
                for label, request in cases.items():
                    seconds, answer = timed(client, args.repeat, name, **request)
                    shown = sum(len(s["x"]) for m in answer["metrics"].values() for s in m.values())
                    results[label] = {"s": round(seconds, 3), "points_returned": shown}
                    print(label, results[label], flush=True)
                log_cases = {
                    "log: last 200 lines": ("events.get_task_log_lines", dict(task=task, from_end=True, limit=200)),
                    "log: 200 lines at the middle": ("events.get_task_log_lines",
                                                     dict(task=task, offset=args.lines // 2, limit=200)),
                    "search: hit 3,000 lines away": ("events.search_task_log",
                                                     dict(task=task, text="needle", from_offset=args.lines // 2 - 3000)),
                    "search: prev from the end, hit 1,000 lines up": ("events.search_task_log",
                                                                      dict(task=task, text="NEEDLE", direction="prev")),
                    "search: regex, hit 20,000 lines away": ("events.search_task_log",
                                                             dict(task=task, text=r"needle$", regex=True,
                                                                  from_offset=args.lines // 2 - 20_000)),
                    "search: no hit, one time-budgeted request": ("events.search_task_log",
                                                                  dict(task=task, text="absent", from_offset=0)),
                }
                for label, (endpoint, request) in log_cases.items():
                    seconds, answer = timed(client, args.repeat, endpoint, **request)
                    extra = ({"found": answer["found"], "offset": answer["offset"],
                              "searched_to": answer["searched_to"]} if "found" in answer
                             else {"lines": len(answer["lines"])})
                    results[label] = {"s": round(seconds, 3), **extra}
                    print(label, results[label], flush=True)
            finally:
                api.process.stop()
        finally:
            redis.stop()
            mongo.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
