#!/usr/bin/env python3
"""Events at scale: one task's reads and deletes while the events store around it grows, on each backend.

One "probe" task holds a fixed amount of data (``--probe-scalars`` scalars in 10 series, with their bucket
pyramid, and ``--probe-lines`` numbered log lines), written once. Filler tasks (``--per-task`` events each, scalars
and log lines) are then added until the store holds each of ``--sizes`` events in turn; at each size the bench
measures through a real API process (HTTP, medians of ``--repeat``):

  chart      events.scalar_metrics_iter_downsampled, every series, 1000 points
  zoom       the same, one series, 10% of its range
  console    events.get_task_log_lines from the end (the console's first screen), and at offset 0
  search     events.search_task_log: a hit 2,000 lines on, and one time-budgeted request with no hit
and, on the store directly, the deletes that grow with what they delete, never with the store:
  urls       the read of one task's plots and images that tasks.delete makes for return_file_urls
  delete     delete_for_tasks of one filler task (tasks.delete / tasks.reset)
  retention  retention.drop_before of half of one filler task's events, in batches of 1000

Filler events go in through the backend's own write path (``EventStore.write``, the call events.add_batch makes),
not HTTP, so that millions are feasible; the probe's pyramid is built in one pass (``ScalarPyramid.insert_new``).
Each figure is printed per size with the ratio largest/smallest: what stays flat does not depend on the store's
size. secantusdb takes ~2,000-14,000 documents/s on this 2-core machine, so 10 million events (the issue's
target) need hours here: pass what fits, e.g. ``--sizes 100000,1000000``.

On the elastic backend the events live in osmem-server, the suite's in-memory stand-in for Elasticsearch: it reads
every document of an index for each query, it seems (a full chart, ten small raw reads beside the Mongo-held
buckets, took 46 s at 120,000 events and over 60 s at 425,000), so its figures measure the stand-in, not
Elasticsearch; a request over 60 s is reported as nan.

Run:
    make bench-events-scale                                            # 100k and 1M, mongo and elastic
    .venv/bin/python bench/bench_events_scale.py --sizes 20000,100000 --backends mongo --json out.json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pymongo
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters and API client

from support.client import ApiClient  # noqa: E402
from support.suite import start_api, start_elastic, start_mongo, start_redis  # noqa: E402
from trackside.api.bll.event_log_lines import COUNTERS  # noqa: E402
from trackside.api.bll.scalar_pyramid import ScalarPyramid  # noqa: E402
from trackside.shared.events import IMAGE, PLOT, EventFilter, normalise, open_store  # noqa: E402
from trackside.shared.events.retention import drop_before  # noqa: E402
from trackside.shared.storage.elastic import connect as elastic_connect  # noqa: E402

T0 = 1_733_000_000_000
CHUNK = 5_000
SERIES = 10


def _chunks(events, size: int = CHUNK):
    batch = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_all(store, events) -> None:
    for batch in _chunks(events):
        result = store.write(batch)
        if result.failed:
            raise RuntimeError(f"{len(result.failed)} events not stored")


def probe_events(company: str, task: str, scalars: int, lines: int):
    per_series = scalars // SERIES
    for i in range(per_series):
        for s in range(SERIES):
            yield normalise({"type": "training_stats_scalar", "task": task, "metric": f"metric{s // 4}",
                             "variant": f"v{s}", "iter": i, "value": math.sin(i / 500 + s),
                             "timestamp": T0 + i * 100}, company)
    for n in range(lines):
        event = normalise({"type": "log", "task": task, "level": "info", "timestamp": T0 + n,
                           "msg": f"step {n} loss={n % 97}" + (" NEEDLE" if n == 2_000 else "")}, company)
        event["seq"] = n
        yield event


def filler_events(company: str, task: str, count: int):
    """A filler task: 4 scalar series and every fifth event a log line, over an hour."""
    for n in range(count):
        if n % 5 == 4:
            event = normalise({"type": "log", "task": task, "msg": f"filler {n}", "timestamp": T0 + n * 10}, company)
            event["seq"] = n // 5
        else:
            event = normalise({"type": "training_stats_scalar", "task": task, "metric": "loss", "variant": f"v{n % 4}",
                               "iter": n // 4, "value": float(n % 13), "timestamp": T0 + n * 10}, company)
        yield event


def timed(call, repeat: int) -> tuple[float, object]:
    times, answer = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def measure(client: ApiClient, store, company: str, probe: str, fillers: list[str], per_task: int,
            args) -> dict[str, float]:
    per_series = args.probe_scalars // SERIES
    one = [{"metric": "metric0", "variants": ["v0"]}]
    api_cases = {
        "chart: 10 series, 1000 points": ("events.scalar_metrics_iter_downsampled", dict(task=probe, points=1000)),
        "zoom: one series, 10%": ("events.scalar_metrics_iter_downsampled",
                                  dict(task=probe, metrics=one, x_min=per_series // 3,
                                       x_max=per_series // 3 + per_series // 10)),
        "console: last 200 lines": ("events.get_task_log_lines", dict(task=probe, from_end=True, limit=200)),
        "console: first 200 lines": ("events.get_task_log_lines", dict(task=probe, offset=0, limit=200)),
        "search: hit 2,000 lines on": ("events.search_task_log", dict(task=probe, text="needle", from_offset=0)),
        "search: no hit (budgeted request)": ("events.search_task_log", dict(task=probe, text="absent",
                                                                             from_offset=0)),
    }
    figures = {}
    for label, (endpoint, request) in api_cases.items():
        try:
            figures[label], _ = timed(lambda: client.ok(endpoint, **request), args.repeat)
        except requests.RequestException as exc:  # e.g. over the client's 60 s: reported, the run goes on
            print(f"  {label}: {type(exc).__name__}", file=sys.stderr, flush=True)
            figures[label] = math.nan
    # Deletes on the store (fresh filler tasks each time: the last two written).
    victim, aged = fillers[-1], fillers[-2]
    urls = EventFilter(company, [victim], types=[IMAGE, PLOT])
    figures["tasks.delete URL scan: a task's plots and images"], _ = timed(
        lambda: store.search(urls, [("id", 1)], 1000, fields=["url", "source_urls"]), args.repeat)
    start = time.perf_counter()
    removed = store.delete_for_tasks(company, [victim])
    figures["delete: one task's events (delete_for_tasks)"] = time.perf_counter() - start
    assert removed == per_task, (removed, per_task)
    start = time.perf_counter()
    dropped, done = drop_before(store, company, aged, T0 + per_task * 5, batch=1000)
    figures["retention: half a task's events (batches of 1000)"] = time.perf_counter() - start
    assert done and sum(dropped.values()) == per_task // 2, dropped
    return figures


def run_backend(name: str, args, work: Path) -> dict:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    started = []
    try:
        mongo = start_mongo(work / name)
        started.append(mongo)
        redis = start_redis(work / name)
        started.append(redis)
        elastic = start_elastic(work / name) if name == "elastic" else None
        if elastic:
            started.append(elastic)
        api = start_api(mongo.port, work / name / "api", redis_port=redis.port,
                        elastic_port=elastic.port if elastic else None)
        started.append(api.process)
        client = ApiClient(api.url, api.key, api.secret).login()
        project = client.ok("projects.create", name=f"bench-events-scale-{uuid.uuid4().hex[:8]}")["id"]
        probe = client.ok("tasks.create", name="probe", type="training", project=project)["id"]
        db = pymongo.MongoClient(f"mongodb://127.0.0.1:{mongo.port}/?retryWrites=false", tz_aware=True).backend
        company = db.tasks.find_one({"_id": probe})["company"]
        if elastic:
            # The API's own client settings (hosts.conf): bulk requests can take seconds on a loaded machine.
            store = open_store("elastic", client=elastic_connect({
                "hosts": [{"host": "127.0.0.1", "port": elastic.port}], "plain_json": True,
                "args": {"timeout": 120, "max_retries": 3, "retry_on_timeout": True}}))
        else:
            store = open_store("mongo", db=db)
        store.setup()

        start = time.perf_counter()
        probe_list = list(probe_events(company, probe, args.probe_scalars, args.probe_lines))
        write_all(store, probe_list)
        ScalarPyramid(db).insert_new(company, (e for e in probe_list if e["type"] != "log"))
        db[COUNTERS.name].insert_one({"_id": f"{company}:{probe}", "company": company, "task": probe,
                                      "n": args.probe_lines})
        stored = len(probe_list)
        print(f"{name}: probe task seeded ({stored:,} events) in {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)
        fillers: list[str] = []
        result: dict = {}
        for size in sizes:
            start, seeded = time.perf_counter(), 0
            while stored < size + 2 * args.per_task:  # the two deleted by measure() are put back on top
                task = uuid.uuid4().hex
                write_all(store, filler_events(company, task, args.per_task))
                fillers.append(task)
                stored += args.per_task
                seeded += args.per_task
            seconds = time.perf_counter() - start
            total = stored
            print(f"{name}: {total:,} events stored ({seeded:,} added at {seeded / max(seconds, 1e-9):,.0f}/s)",
                  file=sys.stderr, flush=True)
            figures = measure(client, store, company, probe, fillers, args.per_task, args)
            fillers = fillers[:-2]
            stored -= args.per_task * 3 // 2
            result[str(total)] = {**figures, "seed_events_per_s": seeded / max(seconds, 1e-9)}
            for label, value in figures.items():
                print(f"  {label}: {value:.3f} s", file=sys.stderr, flush=True)
        return result
    finally:
        for process in reversed(started):
            process.stop()


def report(results: dict) -> str:
    lines = []
    for backend, by_size in results.items():
        sizes = list(by_size)
        small, large = sizes[0], sizes[-1]
        lines.append(f"\n{backend}: events stored {int(small):,} -> {int(large):,}  (seconds, median; ratio large/small)")
        for label in by_size[small]:
            if label == "seed_events_per_s":
                continue
            a, b = by_size[small][label], by_size[large][label]
            lines.append(f"  {label:<52} {a:8.3f} {b:8.3f}   x{b / a:5.2f}" if a and a == a else
                         f"  {label:<52} {a:8.3f} {b:8.3f}")
        lines.append(f"  {'seeding rate, events/s':<52} {by_size[small]['seed_events_per_s']:8,.0f} "
                     f"{by_size[large]['seed_events_per_s']:8,.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="total events stored at each measurement")
    parser.add_argument("--backends", default="mongo,elastic")
    parser.add_argument("--per-task", type=int, default=10_000, help="events per filler task")
    parser.add_argument("--probe-scalars", type=int, default=50_000)
    parser.add_argument("--probe-lines", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-events-scale-") as tmp:
        for name in args.backends.split(","):
            results[name] = run_backend(name, args, Path(tmp))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
