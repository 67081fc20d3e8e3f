#!/usr/bin/env python3
"""Benchmark event ingestion end to end (``events.add_batch``) against the raw bulk-insert rate of the store.

For each events backend (``mongo`` on secantusdb, ``elastic`` on osmem-server, the servers the test suite uses)
the same workload is run three ways, each by several concurrent "tasks" that send their batches back to back:

  raw bulk     the backing store's own bulk insert of the stored documents into a collection / index with
               the store's indexes / mapping: pymongo ``insert_many`` / ``elasticsearch.helpers.bulk`` (no
               refresh); what the store can take at best
  store.write  Trackside's ``EventStore.write`` in this process (upserts by id; Elasticsearch: refresh
               ``wait_for``, and again with ``refresh=true``)
  API          ``events.add_batch`` over HTTP as the SDK sends it (json lines, GET /v2.23), through a real API
               process (gunicorn, 2 workers x 8 threads) configured with that backend: parsing, validation,
               task checks, the store write and the task's last_metrics/last_iteration updates in MongoDB

The workload is what the clearml SDK sends: every ~5 s each running task reports a batch of a few hundred
scalar lines (here 5 metrics x 4 variants, consecutive iterations); several tasks report at once. The figure
is scalar events per second (median of the runs); ``API/raw`` is the end-to-end rate over the raw rate
measured in the same run. The aim is API/raw >= 0.5. Checks (exit code 1 when one fails): every batch is
accepted whole, and every tier stored exactly the events it was sent.

Run:
    make bench-events                                   # full run, both backends (a few minutes)
    .venv/bin/python bench/bench_events.py --quick      # reduced; runs inside make test
    .venv/bin/python bench/bench_events.py --backends elastic --json out.json

osmem-server is an in-memory stand-in: its figures say how much our code costs around a bulk request, not
what a real Elasticsearch cluster ingests. Expect 20-40% run-to-run variation on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import pymongo
from elasticsearch.helpers import bulk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters and API client

from support.client import ApiClient  # noqa: E402
from support.suite import start_api, start_elastic, start_mongo, start_redis  # noqa: E402
from trackside.shared.events import SCALAR, EventFilter, EventStore, normalise, open_store  # noqa: E402
from trackside.shared.events.elastic import mapping  # noqa: E402
from trackside.shared.events.mongo import EVENTS  # noqa: E402
from trackside.shared.storage.elastic import connect as elastic_connect  # noqa: E402
from trackside.shared.storage.mongo import Collection as MongoCollection, ensure_indexes  # noqa: E402

BACKENDS = ("mongo", "elastic")
JSON_LINES = {"Content-Type": "application/json-lines"}
TARGET_RATIO = 0.5
T0 = 1_700_000_000_000
WARM_UP_LINES = 20


@dataclass(frozen=True)
class Config:  # the full run; --quick overrides with QUICK
    reps: int = 3
    tasks: int = 4  # concurrent reporting tasks
    batches: int = 10  # per task and run
    lines: int = 300  # scalar lines per batch
    metrics: int = 5
    variants: int = 4

    @property
    def events(self) -> int:
        return self.tasks * self.batches * self.lines


QUICK = dict(reps=1, tasks=2, batches=3, lines=200)


# ---- the workload ------------------------------------------------------------------------------------------
def sdk_batches(task: str, cfg: Config, first_iteration: int = 0) -> list[list[dict]]:
    """One task's batches, as the SDK's reporter sends them: every series advances one iteration per round."""
    series = [(f"metric_{m}", f"variant_{v}") for m in range(cfg.metrics) for v in range(cfg.variants)]
    batches, n = [], 0
    for _ in range(cfg.batches):
        batch = []
        for _ in range(cfg.lines):
            metric, variant = series[n % len(series)]
            iteration = first_iteration + n // len(series)
            batch.append({"timestamp": T0 + n, "type": SCALAR, "task": task, "iter": iteration, "metric": metric,
                          "variant": variant, "value": (n % 97) / 97.0, "model_event": False,
                          "allow_locked": False, "method": "get"})
            n += 1
        batches.append(batch)
    return batches


def stored_batches(company: str, tasks: list[str], cfg: Config) -> list[list[list[dict]]]:
    """Per task, its batches in stored (normalised) form."""
    return [[[normalise(raw, company) for raw in batch] for batch in sdk_batches(task, cfg)] for task in tasks]


def new_ids(n: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(n)]


def run_concurrently(per_task: list, send: Callable[[int, object], None]) -> float:
    """Each task's batches sent in order by its own thread, all threads started together; wall seconds."""
    start = threading.Barrier(len(per_task) + 1)

    def worker(index: int) -> None:
        start.wait()
        for batch in per_task[index]:
            send(index, batch)

    with ThreadPoolExecutor(len(per_task)) as pool:
        futures = [pool.submit(worker, i) for i in range(len(per_task))]
        start.wait()
        t0 = time.perf_counter()
        for future in futures:
            future.result()
        return time.perf_counter() - t0


# ---- results -----------------------------------------------------------------------------------------------
@dataclass
class Result:
    backend: str
    samples: dict[str, list[float]] = field(default_factory=dict)  # tier -> events/s per run
    failures: list[str] = field(default_factory=list)

    def add(self, tier: str, events: int, seconds: float) -> None:
        self.samples.setdefault(tier, []).append(events / seconds)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)
            print(f"  ! {self.backend}: {what}", file=sys.stderr)

    def median(self, tier: str) -> float | None:
        values = self.samples.get(tier)
        return statistics.median(values) if values else None

    @property
    def ratio(self) -> float | None:
        api, raw = self.median("api"), self.median("raw")
        return api / raw if api and raw else None


# ---- the three tiers ---------------------------------------------------------------------------------------
class MongoBackend:
    """The mongo backend's clients for one benchmark run (ElasticBackend has the same methods)."""

    name = "mongo"

    def __init__(self, mongo_port: int):
        self.client = pymongo.MongoClient("127.0.0.1", mongo_port, directConnection=True, tz_aware=True,
                                          retryWrites=False)  # as the suite connects (servers.mongo_env)
        self.db = self.client[f"bench_events_{uuid.uuid4().hex[:8]}"]

    def fresh(self) -> None:
        # With the store's own indexes, so the raw insert maintains what the store's writes maintain.
        name = f"raw_{uuid.uuid4().hex[:8]}"
        ensure_indexes(self.db, [MongoCollection(name, EVENTS.indexes)])
        self.raw = self.db[name]

    def raw_documents(self, batch: list[dict]) -> list[dict]:
        return [{"_id": e["id"], **e} for e in batch]

    def raw_insert(self, documents: list[dict]) -> None:
        self.raw.insert_many(documents, ordered=False)

    def raw_count(self) -> int:
        return self.raw.count_documents({})

    def store(self, **options) -> EventStore:
        store = open_store("mongo", db=self.client[f"{self.db.name}_{uuid.uuid4().hex[:6]}"])
        store.setup()
        return store

    def api_count(self, tasks: list[str]) -> int:
        return self.client["backend"]["events"].count_documents({"task": {"$in": tasks}, "type": SCALAR})

    def api_options(self) -> dict:
        return {}

    def close(self) -> None:
        for name in self.client.list_database_names():
            if name.startswith(self.db.name):
                self.client.drop_database(name)
        self.client.close()


class ElasticBackend:
    name = "elastic"

    def __init__(self, elastic_port: int):
        self.port = elastic_port
        self.client = elastic_connect({"hosts": [{"host": "127.0.0.1", "port": elastic_port}], "plain_json": True})

    def fresh(self) -> None:
        self.raw_index = f"bench_raw_{uuid.uuid4().hex[:8]}"
        # Created up front from the store's own mapping, so the timing covers inserts only.
        self.client.indices.create(index=self.raw_index, mappings=mapping(SCALAR).to_dict())

    def raw_documents(self, batch: list[dict]) -> list[dict]:
        return [{"_index": self.raw_index, "_id": e["id"], "_source": e} for e in batch]

    def raw_insert(self, documents: list[dict]) -> None:
        bulk(self.client, documents, chunk_size=len(documents))

    def raw_count(self) -> int:
        self.client.indices.refresh(index=self.raw_index)
        return self.client.count(index=self.raw_index)["count"]

    def store(self, **options) -> EventStore:
        store = open_store("elastic", client=self.client, index_prefix=f"bench_{uuid.uuid4().hex[:8]}", **options)
        store.setup()
        return store

    def api_count(self, tasks: list[str]) -> int:
        return self.client.count(index="events-*", query={"terms": {"task": tasks}}, ignore_unavailable=True,
                                 allow_no_indices=True)["count"]

    def api_options(self) -> dict:
        return {"elastic_port": self.port}

    def close(self) -> None:
        self.client.close()


def bench_raw(backend: MongoBackend | ElasticBackend, cfg: Config, res: Result) -> None:
    backend.fresh()
    per_task = [[backend.raw_documents(batch) for batch in batches]
                for batches in stored_batches(uuid.uuid4().hex, new_ids(cfg.tasks), cfg)]
    seconds = run_concurrently(per_task, lambda _, documents: backend.raw_insert(documents))
    res.add("raw", cfg.events, seconds)
    count = backend.raw_count()
    res.check(count == cfg.events, f"raw bulk stored {count} of {cfg.events} events")


def bench_store(backend: MongoBackend | ElasticBackend, cfg: Config, res: Result, tier: str, **options) -> None:
    store, company, tasks = backend.store(**options), uuid.uuid4().hex, new_ids(cfg.tasks)
    per_task = stored_batches(company, tasks, cfg)
    # Warm-up: the Elasticsearch indices are created by their first write, outside the timing.
    store.write([normalise({"type": SCALAR, "task": tasks[0], "metric": "warm", "value": 0}, company)])
    failed = []
    seconds = run_concurrently(per_task, lambda _, batch: failed.extend(store.write(batch).failed))
    res.add(tier, cfg.events, seconds)
    count = store.count(EventFilter(company, tasks, metrics={f"metric_{m}": [] for m in range(cfg.metrics)}))
    res.check(not failed and count == cfg.events, f"{tier} stored {count} of {cfg.events} events, {len(failed)} failed")


def bench_api(api_server, backend: MongoBackend | ElasticBackend, cfg: Config, res: Result) -> None:
    admin = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    project = admin.ok("projects.create", name=f"bench-events-{uuid.uuid4().hex[:8]}", description="bench")["id"]
    tasks = [admin.ok("tasks.create", name=f"reporter-{i}", type="training", project=project)["id"]
             for i in range(cfg.tasks)]
    clients = [ApiClient(api_server.url, api_server.key, api_server.secret).login() for _ in tasks]
    rejected = []

    def send(index: int, body: str) -> None:
        reply = clients[index].send("events.add_batch", body=body, headers=JSON_LINES, version="2.23")
        if reply.code != (200, 0) or reply.data.get("added") != body.count("\n") + 1:
            rejected.append(reply.meta if reply.code != (200, 0) else reply.data)

    def json_lines(batch: list[dict]) -> str:
        return "\n".join(json.dumps(event) for event in batch)

    for index, task in enumerate(tasks):  # warm-up: indices, caches, connections
        send(index, json_lines(sdk_batches(task, replace(cfg, batches=1, lines=WARM_UP_LINES), -1)[0]))
    per_task = [[json_lines(batch) for batch in sdk_batches(task, cfg)] for task in tasks]
    seconds = run_concurrently(per_task, send)
    res.add("api", cfg.events, seconds)
    expected = cfg.events + WARM_UP_LINES * len(tasks)
    count = backend.api_count(tasks)
    res.check(not rejected, f"API rejected {len(rejected)} batches, first: {rejected[:1]}")
    res.check(count == expected, f"API stored {count} of {expected} events")
    last = admin.ok("tasks.get_by_id", task=tasks[0])["task"].get("last_iteration")
    res.check(last == (cfg.batches * cfg.lines - 1) // (cfg.metrics * cfg.variants),
              f"task last_iteration {last} after the run")


# ---- running -----------------------------------------------------------------------------------------------
def run(cfg: Config, backends: list[str], work: Path) -> list[Result]:
    results, started = [], []
    try:
        mongo = start_mongo(work)
        started.append(mongo)
        redis = start_redis(work)
        started.append(redis)
        elastic = start_elastic(work) if "elastic" in backends else None
        started.append(elastic)
        for name in backends:
            backend = MongoBackend(mongo.port) if name == "mongo" else ElasticBackend(elastic.port)
            res = Result(name)
            api = start_api(mongo.port, work / f"api-{name}", redis_port=redis.port, **backend.api_options())
            try:
                for rep in range(cfg.reps):
                    print(f"{name}: run {rep + 1}/{cfg.reps}", file=sys.stderr)
                    bench_raw(backend, cfg, res)
                    bench_store(backend, cfg, res, "store")
                    if name == "elastic":
                        bench_store(backend, cfg, res, "store_refresh_true", refresh="true")
                    bench_api(api, backend, cfg, res)
            finally:
                api.process.stop()
                backend.close()
            results.append(res)
    finally:
        for server in reversed(started):
            if server is not None:
                server.stop()
    return results


def report(cfg: Config, results: list[Result]) -> str:
    def figure(value: float | None, fmt: str = "{:,.0f}") -> str:
        return fmt.format(value) if value is not None else "-"

    lines = [
        f"events.add_batch: {cfg.tasks} concurrent tasks x {cfg.batches} batches x {cfg.lines} scalar lines "
        f"= {cfg.events:,} events per run, median of {cfg.reps} run(s); events/s",
        "",
        f"{'backend':<9} {'raw bulk':>10} {'store.write':>12} {'API':>10} {'API/raw':>8}",
    ]
    for res in results:
        lines.append(f"{res.backend:<9} {figure(res.median('raw')):>10} {figure(res.median('store')):>12} "
                     f"{figure(res.median('api')):>10} {figure(res.ratio, '{:.2f}'):>8}")
    for res in results:
        if res.median("store_refresh_true"):
            lines.append(f"\n{res.backend} store.write with refresh=true: "
                         f"{figure(res.median('store_refresh_true'))} events/s "
                         f"(wait_for, the default: {figure(res.median('store'))})")
    lines.append("")
    for res in results:
        met = res.ratio is not None and res.ratio >= TARGET_RATIO
        lines.append(f"target API/raw >= {TARGET_RATIO}: {res.backend} {'met' if met else 'NOT met'}")
    failures = [f"{res.backend}: {f}" for res in results for f in res.failures]
    lines.append("checks: " + ("all passed" if not failures else "FAILED\n  " + "\n  ".join(failures)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run (for make test)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: mongo,elastic")
    parser.add_argument("--json", type=Path, help="also write the samples here")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    cfg = Config(**QUICK) if args.quick else Config()
    # SIGTERM (a test's timeout) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-events-") as work:
        results = run(cfg, backends, Path(work))
    print(report(cfg, results))
    if args.json:
        args.json.write_text(json.dumps({"config": asdict(cfg), "results": [asdict(r) for r in results]}, indent=2))
    return 0 if all(not r.failures for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
