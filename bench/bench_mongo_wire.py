#!/usr/bin/env python3
"""Benchmark the Mongo-wire servers Trackside can embed (secantusdb, nx-27017) on Trackside's access patterns.

Each server is started with the project's own launcher (``trackside.shared.embedded.servers.mongo_wire_server``)
on a free 127.0.0.1 port and a fresh temporary data dir, and driven with ~2 KB ClearML-task documents through
pymongo, connected as the suite connects (``retryWrites=false``). Every pattern is repeated; the table shows
medians:

  insert                insert_one, one client                                              ops/s
  find_one              find_one by _id, projection with a dotted path                      ops/s
  update                update_one: nested $set + $currentDate (an SDK task edit)           ops/s
  get_all               company + project $in + name $regex + system_tags $nin, sorted by
                        -last_update, pages of 500                                          ms/page
  queue_pop             Trackside's queue claim, QueuesBLL.pop_entry (compare-and-swap on
                        "entries.0.task"), 4 processes; every entry taken exactly once      pops/s
  queue_pop_fam_before  find_one_and_update($pop, ReturnDocument.BEFORE), 4 processes.
                        NOT used by Trackside; known not exactly-once on secantusdb         pops/s
  mixed                 4 processes, 70% find_one / 30% update_one, fixed time              ops/s
  restart               SIGTERM, start again on the same data dir, data survived            s

Correctness checks run alongside (insert count, projection shape, nested $set applied, paging exact and in
order, queue entries taken exactly once and in order, mixed load without errors, DuplicateKeyError on a
duplicate _id and on a unique index, data survives restart, the server exits within 10 s of SIGTERM). A
failed check or pattern error on the embedded default (secantusdb) makes the exit code 1, except
queue_pop_fam_before's exactly-once check: that failure is a known finding, reported but not fatal. On the
other server they are findings only: nx-27017 fails two checks (a dotted-path projection comes back flat;
the queue claim's filter on "entries.0.task" matches nothing), which is part of why it is not the default. Patterns run in the order above on one server
instance, so later ones see the data and write history of earlier ones. Each pattern has a time limit and
stuck worker processes are killed, so a hung server fails a pattern instead of hanging the run.

Run:
    make bench-storage                                  # full run, both servers (a few minutes)
    .venv/bin/python bench/bench_mongo_wire.py --quick  # reduced, < 60 s per server
    .venv/bin/python bench/bench_mongo_wire.py --servers secantusdb --json out.json
    .venv/bin/python bench/bench_mongo_wire.py --uri-options retryWrites=true   # see secantusdb slow down

Reading the ratios: ``nx/secantus`` is nx-27017's median divided by secantusdb's. The ``better`` column says
which way is good: for ops/s and pops/s (higher) a ratio above 1 means nx-27017 is faster; for ms/page and s
(lower) a ratio above 1 means nx-27017 is slower. Expect 20-40% run-to-run variation, so only ratios well
away from 1 mean something. A FAIL in a figure column means the pattern's correctness check failed with no
usable figure; the findings section says why.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from trackside.api.bll.queues import QueuesBLL
from trackside.shared.embedded.servers import MONGO_ENGINES, mongo_wire_server

UTC = dt.timezone.utc
DB_NAME = "trackside_bench"
COMPANY = "d1bd92a3b039400cbafc60a7a5b1e52b"
PROJECTS = [f"{i:032x}" for i in range(0xA0, 0xAA)]  # 10 projects
GET_ALL_PROJECTS = PROJECTS[:7]
PAGE_SIZE = 500
WORKERS = 4
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0  # like `docker stop`: SIGTERM, then SIGKILL after 10 s
BASE_URI_OPTIONS = {"directConnection": "true", "retryWrites": "false"}  # as the suite connects
FAM_NOTE = "not used by Trackside; known not exactly-once on secantusdb"


@dataclass
class Metric:
    key: str
    unit: str
    higher_is_better: bool


METRICS = [
    Metric("insert", "ops/s", True),
    Metric("find_one", "ops/s", True),
    Metric("update", "ops/s", True),
    Metric("get_all", "ms/page", False),
    Metric("queue_pop", "pops/s", True),
    Metric("queue_pop_fam_before", "pops/s", True),
    Metric("mixed", "ops/s", True),
    Metric("restart", "s", False),
]
PATTERNS = [m.key for m in METRICS]


@dataclass(frozen=True)
class Config:  # the full run; --quick overrides with QUICK
    reps: int = 5
    insert_docs: int = 2000
    find_ops: int = 3000
    update_tasks: int = 100
    edits_per_task: int = 20
    get_all_docs: int = 5000
    queue_entries: int = 500
    mixed_seconds: float = 5.0
    mixed_docs: int = 2000
    restart_docs: int = 2000
    restart_reps: int = 3
    pattern_timeout: int = 300


QUICK = dict(reps=3, insert_docs=300, find_ops=500, update_tasks=15, get_all_docs=2000, queue_entries=150,
             mixed_seconds=1.0, mixed_docs=300, restart_docs=200, restart_reps=1)


# ---- the server under test: the project's ServerProcess plus a client bound to it --------------------------
def make_uri(port: int, extra: str) -> str:
    options = dict(BASE_URI_OPTIONS)
    options.update(kv.split("=", 1) for kv in extra.split("&") if kv)
    return f"mongodb://127.0.0.1:{port}/?" + "&".join(f"{k}={v}" for k, v in options.items())


def connect(uri: str) -> pymongo.MongoClient:
    # socketTimeoutMS bounds every operation, so a hung server raises instead of hanging.
    return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10000,
                               connectTimeoutMS=5000, socketTimeoutMS=30000)


class Target:
    """One engine under test. Process handling is ServerProcess's; this adds timing and a client."""

    def __init__(self, engine: str, workdir: Path, uri_options: str):
        self.engine = engine
        self.log_path = workdir / "server.log"
        self.server = mongo_wire_server(workdir / "data", log_path=self.log_path, engine=engine)
        self.uri = make_uri(self.server.port, uri_options)
        self.sigterms = self.sigkills = 0
        self._client: pymongo.MongoClient | None = None

    def start(self) -> float:
        """Start (or restart on the same port and data dir); seconds until it answers ping."""
        t0 = time.monotonic()
        self.server.start(START_TIMEOUT_S)
        if not self.answers_ping(START_TIMEOUT_S):
            raise RuntimeError(f"{self.engine}: port open but no answer to ping")
        return time.monotonic() - t0

    def stop(self) -> float:
        """SIGTERM, SIGKILL after STOP_GRACE_S (ServerProcess.stop); seconds until it exited."""
        self.close_client()
        if not self.server.running():
            return 0.0
        t0 = time.monotonic()
        self.sigterms += 1
        self.server.stop(STOP_GRACE_S)
        if self.server.proc.returncode == -signal.SIGKILL:
            self.sigkills += 1
            print(f"  ! {self.engine} ignored SIGTERM for {STOP_GRACE_S:.0f}s: killed", file=sys.stderr)
        return time.monotonic() - t0

    def answers_ping(self, timeout_s: float = 2.0) -> bool:
        ms = int(timeout_s * 1000)
        try:
            with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=ms, socketTimeoutMS=ms) as c:
                c.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def healthy(self) -> bool:
        return self.server.running() and self.answers_ping()

    @property
    def db(self):
        if self._client is None:
            self._client = connect(self.uri)
        return self._client[DB_NAME]

    def close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def log_tail(self, n: int = 20) -> str:
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-n:])
        except OSError:
            return "(no log)"


# ---- ClearML-shaped documents ------------------------------------------------------------------------------
def hyperparam(section: str, name: str, value: str, typ: str) -> dict:
    return {"section": section, "name": name, "value": value, "type": typ}


def make_task(i: int, rng: random.Random, last_update: dt.datetime) -> dict:
    """A ~2 KB document shaped like a ClearML task."""
    args = {"lr": ("0.001", "float"), "batch_size": ("64", "int"), "epochs": ("30", "int"),
            "optimizer": ("adam", "str"), "weight_decay": ("0.0001", "float"),
            "dataset": ("imagenet-mini", "str")}
    return {
        "_id": f"{rng.getrandbits(128):032x}", "name": f"exp-{i % 2}-run-{i:05d}", "company": COMPANY,
        "project": rng.choice(PROJECTS), "user": "8a1c7b8ee0434e6b9ba5cc7f9d4e1b21", "type": "training",
        "status": "created", "comment": "Auto-generated task by Trackside benchmark",
        "tags": ["resnet", f"batch-{i % 7}"],
        "system_tags": ["archived"] if rng.random() < 0.1 else ["development"],
        "script": {
            "repository": "https://github.com/example/vision-models.git", "branch": "main",
            "version_num": f"{rng.getrandbits(160):040x}", "entry_point": "train.py", "working_dir": ".",
            "requirements": {"pip": "torch==2.3.1\ntorchvision==0.18.1\nnumpy==1.26.4\n"
                                    "clearml==1.16.2\ntqdm==4.66.4\npillow==10.3.0\n"},
            "diff": "",
        },
        "execution": {"parameters": {f"Args/{k}": v for k, (v, _) in args.items()}, "queue": None,
                      "artifacts": {}},
        "hyperparams": {
            "Args": {k: hyperparam("Args", k, v, t) for k, (v, t) in args.items()},
            "General": {"seed": hyperparam("General", "seed", str(i), "int"),
                        "device": hyperparam("General", "device", "cuda:0", "str")},
        },
        "runtime": {"version": "1.16.2", "gpu_count": 1, "progress": 0, "hostname": f"worker-{i % 16:02d}",
                    "cpu_cores": 16},
        "models": {"input": [], "output": []},
        "container": {"image": "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04", "arguments": "--ipc=host",
                      "setup_shell_script": ""},
        "output": {"destination": "s3://trackside-artifacts/models", "result": None},
        "created": last_update, "last_update": last_update, "started": None,
    }


def make_tasks(n: int, seed: int) -> list[dict]:
    """n tasks with distinct, strictly decreasing whole-second last_update."""
    rng = random.Random(seed)
    base = dt.datetime(2024, 6, 1, tzinfo=UTC)
    return [make_task(i, rng, base - dt.timedelta(seconds=i)) for i in range(n)]


def task_edit(k: int) -> dict:
    """One SDK-style task edit: nested $set plus a server-side last_update."""
    return {"$set": {"status": "in_progress", "runtime.progress": k,
                     "execution.parameters.Args/lr": f"0.00{k}", "hyperparams.Args.lr.value": f"0.00{k}"},
            "$currentDate": {"last_update": True}}


# ---- results -----------------------------------------------------------------------------------------------
@dataclass
class ServerResult:
    name: str
    figures: dict[str, float] = field(default_factory=dict)
    checks: dict[str, tuple[bool, str, bool]] = field(default_factory=dict)  # name -> (ok, detail, gating)
    errors: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "", gating: bool = True) -> None:
        if name in self.checks and not self.checks[name][0]:
            return  # keep the first failure of a check run in several reps
        self.checks[name] = (bool(ok), detail, gating)
        if not ok:
            print(f"  ! check {name} FAILED: {detail}", file=sys.stderr)

    @property
    def ok(self) -> bool:
        return not self.errors and all(ok or not gating for ok, _, gating in self.checks.values())


class PatternTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: int, what: str):
    def on_alarm(signum, frame):
        raise PatternTimeout(f"{what} took longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


# ---- single-client patterns --------------------------------------------------------------------------------
FIND_PROJECTION = {"name": 1, "status": 1, "project": 1, "runtime.version": 1}


def bench_insert(db, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.reps):
        docs, col = make_tasks(cfg.insert_docs, seed=1000 + rep), db[f"insert_{rep}"]
        t0 = time.perf_counter()
        for d in docs:
            col.insert_one(d)
        samples.append(rate(len(docs), time.perf_counter() - t0))
        count = col.count_documents({})
        res.check("insert_count", count == len(docs), f"counted {count}, inserted {len(docs)}")
    return statistics.median(samples)


def bench_find_one(db, cfg: Config, res: ServerResult) -> float:
    col, docs = db["insert_0"], make_tasks(cfg.insert_docs, seed=1000)  # the docs bench_insert wrote
    got, src = col.find_one({"_id": docs[3]["_id"]}, FIND_PROJECTION), docs[3]
    expected = {"_id": src["_id"], "name": src["name"], "status": src["status"], "project": src["project"],
                "runtime": {"version": src["runtime"]["version"]}}
    res.check("projection_dotted_path", got == expected, f"got keys {sorted(got) if got else got}")
    ids, rng, samples = [d["_id"] for d in docs], random.Random(7), []
    for _ in range(cfg.reps):
        picks = [rng.choice(ids) for _ in range(cfg.find_ops)]
        t0 = time.perf_counter()
        for _id in picks:
            col.find_one({"_id": _id}, FIND_PROJECTION)
        samples.append(rate(len(picks), time.perf_counter() - t0))
    return statistics.median(samples)


def bench_update(db, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.reps):
        col, docs = db[f"update_{rep}"], make_tasks(cfg.update_tasks, seed=2000 + rep)
        col.insert_many(docs)
        started = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
        t0 = time.perf_counter()
        for k in range(1, cfg.edits_per_task + 1):
            for d in docs:
                col.update_one({"_id": d["_id"]}, task_edit(k))
        samples.append(rate(len(docs) * cfg.edits_per_task, time.perf_counter() - t0))
        check_update(col.find_one({"_id": docs[-1]["_id"]}), cfg.edits_per_task, started, res)
    return statistics.median(samples)


def check_update(doc: dict | None, k: int, started: dt.datetime, res: ServerResult) -> None:
    ok = (doc is not None and doc["runtime"]["progress"] == k and doc["runtime"]["version"] == "1.16.2"
          and doc["execution"]["parameters"]["Args/lr"] == f"0.00{k}"
          and doc["hyperparams"]["Args"]["lr"]["value"] == f"0.00{k}"
          and isinstance(doc["last_update"], dt.datetime) and doc["last_update"] >= started)
    res.check("nested_set_currentdate", ok,
              "" if ok else f"runtime={doc and doc.get('runtime')} last_update={doc and doc.get('last_update')!r}")


GET_ALL_QUERY = {"company": COMPANY, "project": {"$in": GET_ALL_PROJECTS}, "name": {"$regex": "^exp-1"},
                 "system_tags": {"$nin": ["archived"]}}
GET_ALL_FIELDS = {"name": 1, "status": 1, "project": 1, "type": 1, "user": 1, "tags": 1, "system_tags": 1,
                  "last_update": 1}


def fetch_all_pages(col) -> tuple[list[str], list[float]]:
    ids, page_ms, page = [], [], 0
    while True:
        t0 = time.perf_counter()
        batch = list(col.find(GET_ALL_QUERY, GET_ALL_FIELDS).sort("last_update", pymongo.DESCENDING)
                     .skip(page * PAGE_SIZE).limit(PAGE_SIZE))
        page_ms.append((time.perf_counter() - t0) * 1000)
        ids.extend(d["_id"] for d in batch)
        if len(batch) < PAGE_SIZE:
            return ids, page_ms
        page += 1


def bench_get_all(db, cfg: Config, res: ServerResult) -> float:
    col, docs = db["get_all"], make_tasks(cfg.get_all_docs, seed=3000)
    col.create_index([("company", 1), ("project", 1), ("last_update", -1)])
    col.insert_many(docs)
    hits = [d for d in docs if d["project"] in GET_ALL_PROJECTS and d["name"].startswith("exp-1")
            and "archived" not in d["system_tags"]]
    expected = [d["_id"] for d in sorted(hits, key=lambda d: d["last_update"], reverse=True)]
    page_ms = []
    for _ in range(cfg.reps):
        ids, times = fetch_all_pages(col)
        page_ms.extend(times)
        res.check("get_all_paging", ids == expected,
                  f"{len(ids)} ids ({len(set(ids))} unique) vs {len(expected)} expected, or out of order")
    return statistics.median(page_ms)


# ---- multi-process patterns (forked workers; each opens its own client) ------------------------------------
def queue_taker(db, queue_id: str, method: str):
    """A function returning the next task taken from the queue, or None when it is empty."""
    if method == "queue_pop":  # what Trackside ships
        queues = QueuesBLL(db)
        return lambda: (queues.pop_entry(COMPANY, queue_id) or {}).get("task")
    col = db["queues"]

    def fam_before():
        before = col.find_one_and_update({"_id": queue_id}, {"$pop": {"entries": -1}},
                                         return_document=ReturnDocument.BEFORE)
        entries = (before or {}).get("entries") or []
        return entries[0]["task"] if entries else None
    return fam_before


def pop_worker(uri: str, queue_id: str, method: str, start_evt, out) -> None:
    popped = []
    try:
        db = connect(uri)[DB_NAME]
        take = queue_taker(db, queue_id, method)
        db.command("ping")
        out.put("ready")
        start_evt.wait(60)
        t0 = time.monotonic()
        while (task := take()) is not None:
            popped.append(task)
        out.put({"popped": popped, "t0": t0, "t1": time.monotonic()})
    except Exception as exc:  # report, never hang the parent
        out.put({"popped": popped, "error": f"{type(exc).__name__}: {exc}"})


def mixed_worker(uri: str, ids: list[str], seconds: float, seed: int, start_evt, out) -> None:
    try:
        col, rng = connect(uri)[DB_NAME]["mixed"], random.Random(seed)
        col.database.command("ping")
        out.put("ready")
        start_evt.wait(60)
        ops, t0 = 0, time.monotonic()
        while time.monotonic() < t0 + seconds:
            _id = rng.choice(ids)
            if rng.random() < 0.7:
                col.find_one({"_id": _id}, FIND_PROJECTION)
            else:
                col.update_one({"_id": _id}, task_edit(ops % 50))
            ops += 1
        out.put({"ops": ops, "t0": t0, "t1": time.monotonic()})
    except Exception as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})


# What the workers' fork server imports once. By name: CPython 3.11's fork server never preloads "__main__"
# (the script's path does not reach it), so each worker still re-runs this script's definitions, cheaply.
WORKER_PRELOAD = ["pymongo", "trackside.api.bll.queues", "trackside.shared.embedded.servers"]


def run_workers(target, args_list: list[tuple], timeout: float) -> list[dict]:
    """One process per args tuple, released together once all are connected; stuck ones are killed.

    Forked from a fork server that imported pymongo and Trackside's queue code once (WORKER_PRELOAD), not
    spawned: a spawned worker imported them again, ~3 s per rep of 4 workers on the 2-core machine, for
    every rep of every multi-process pattern. The fork server holds no client or thread, so each worker
    still starts clean and opens its own client."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    start_evt, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start_evt, out), daemon=True) for args in args_list]
    for p in procs:
        p.start()
    deadline, n_ready, results = time.monotonic() + timeout, 0, []
    try:
        while len(results) < len(procs):
            msg = out.get(timeout=max(1.0, deadline - time.monotonic()))
            if msg == "ready":
                n_ready += 1
            else:
                results.append(msg)  # a result, or an error raised before "ready"
            if n_ready + len(results) == len(procs):
                start_evt.set()
        return results
    finally:  # all reported: they are exiting; otherwise (timeout, SIGTERM) kill them now
        for p in procs:
            p.join(5 if len(results) == len(procs) else 0)
            if p.is_alive():
                p.kill()
                p.join(5)


def span_rate(results: list[dict], count) -> float:
    return rate(sum(count(r) for r in results),
                max(r["t1"] for r in results) - min(r["t0"] for r in results))


def bench_queue_pop(target: Target, cfg: Config, res: ServerResult, method: str) -> float | None:
    """4 processes empty a queue with ``method``; returns pops/s, None when takers failed."""
    col, samples = target.db["queues"], []
    for rep in range(cfg.reps):
        queue_id = f"{PATTERNS.index(method):02d}{rep:02d}{'0' * 28}"
        tasks = [f"{rep:04d}{i:028x}" for i in range(cfg.queue_entries)]  # sort order == queue order
        now = dt.datetime.now(UTC)
        col.insert_one({"_id": queue_id, "name": queue_id, "company": COMPANY,
                        "entries": [{"task": t, "added": now} for t in tasks]})
        results = run_workers(pop_worker, [(target.uri, queue_id, method)] * WORKERS, cfg.pattern_timeout)
        errors = [r["error"] for r in results if "error" in r]
        if errors and method == "queue_pop" and not col.find_one({"_id": queue_id, "entries.0.task": tasks[0]}):
            errors.append("a filter on 'entries.0.task' matches nothing on this server")
        check_taken_once(results, tasks, col.find_one({"_id": queue_id}), res, method, errors)
        if errors:
            return None
        samples.append(span_rate(results, lambda r: len(r["popped"])))
    return statistics.median(samples)


def check_taken_once(results: list[dict], tasks: list[str], queue: dict | None, res: ServerResult,
                     method: str, errors: list[str]) -> None:
    popped = [t for r in results for t in r["popped"]]
    dupes, missing = len(popped) - len(set(popped)), len(set(tasks) - set(popped))
    left = len((queue or {}).get("entries") or [])
    in_order = all(r["popped"] == sorted(r["popped"]) for r in results)
    ok = not errors and dupes == missing == left == 0 and in_order
    detail = (f"{len(tasks)} entries: {dupes} taken twice, {missing} never taken, {left} left in queue, "
              f"each taker in queue order: {in_order}")
    if errors:
        detail = f"takers failed ({'; '.join(dict.fromkeys(errors))}); {detail}"
    res.check(f"{method}_exactly_once", ok, detail, gating=(method == "queue_pop"))


def bench_mixed(target: Target, cfg: Config, res: ServerResult) -> float:
    docs = make_tasks(cfg.mixed_docs, seed=4000)
    target.db["mixed"].insert_many(docs)
    ids, samples = [d["_id"] for d in docs], []
    for rep in range(cfg.reps):
        args = [(target.uri, ids, cfg.mixed_seconds, 100 * rep + w) for w in range(WORKERS)]
        results = run_workers(mixed_worker, args, cfg.mixed_seconds + 60)
        errors = [r["error"] for r in results if "error" in r]
        res.check("mixed_no_errors", not errors, "; ".join(errors))
        if errors:
            raise RuntimeError(f"mixed worker failed: {errors[0]}")
        samples.append(span_rate(results, lambda r: r["ops"]))
    return statistics.median(samples)


# ---- restart durability; unique indexes --------------------------------------------------------------------
def bench_restart(target: Target, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.restart_reps):
        col, docs = target.db[f"durable_{rep}"], make_tasks(cfg.restart_docs, seed=5000 + rep)
        col.insert_many(docs)
        col.update_one({"_id": docs[0]["_id"]}, task_edit(9))
        before = list(col.find().sort("_id", 1))
        stop_s = target.stop()
        start_s = target.start()
        print(f"    restart {rep}: stop {stop_s:.2f}s + ready {start_s:.2f}s", file=sys.stderr)
        samples.append(stop_s + start_s)
        after = list(target.db[f"durable_{rep}"].find().sort("_id", 1))
        res.check("durable_after_restart", after == before,
                  f"{len(after)}/{len(before)} docs back, equal={after == before}")
    return statistics.median(samples)


def check_unique_index(db, res: ServerResult) -> None:
    col = db["unique_keys"]
    col.create_index([("company", 1), ("name", 1)], unique=True)
    col.insert_one({"_id": "a" * 32, "company": COMPANY, "name": "dup"})
    res.check("duplicate_id_raises", raises_dup(lambda: col.insert_one({"_id": "a" * 32})))
    res.check("unique_index_raises",
              raises_dup(lambda: col.insert_one({"_id": "b" * 32, "company": COMPANY, "name": "dup"})))


def raises_dup(fn) -> bool:
    try:
        fn()
    except DuplicateKeyError:
        return True
    except PyMongoError as exc:
        print(f"  ! expected DuplicateKeyError, got {type(exc).__name__}: {exc}", file=sys.stderr)
    return False


# ---- driver ------------------------------------------------------------------------------------------------
def run_pattern(key: str, fn, target: Target, res: ServerResult, timeout: int) -> None:
    t0 = time.monotonic()
    try:
        with time_limit(timeout, key):
            value = fn()
        if value is not None:
            res.figures[key] = value
        shown = f"{value:.1f}" if value is not None else "no figure" if key in PATTERNS else "done"
        print(f"  {key:<21} {shown:>10}   ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    except Exception as exc:
        res.errors[key] = f"{type(exc).__name__}: {exc}"
        print(f"  ! {key} ERROR: {res.errors[key]}", file=sys.stderr)
        if not target.healthy():
            print(f"  ! {target.engine} is dead or unresponsive; restarting it. Log tail:\n"
                  f"{target.log_tail()}", file=sys.stderr)
            target.stop()
            target.start()


def bench_server(engine: str, cfg: Config, uri_options: str) -> ServerResult:
    res, workdir = ServerResult(engine), Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    target = Target(engine, workdir, uri_options)
    patterns = [
        ("insert", lambda: bench_insert(target.db, cfg, res)),
        ("find_one", lambda: bench_find_one(target.db, cfg, res)),
        ("update", lambda: bench_update(target.db, cfg, res)),
        ("get_all", lambda: bench_get_all(target.db, cfg, res)),
        ("queue_pop", lambda: bench_queue_pop(target, cfg, res, "queue_pop")),
        ("queue_pop_fam_before", lambda: bench_queue_pop(target, cfg, res, "queue_pop_fam_before")),
        ("mixed", lambda: bench_mixed(target, cfg, res)),
        ("unique", lambda: check_unique_index(target.db, res)),
        ("restart", lambda: bench_restart(target, cfg, res)),
    ]
    try:
        print(f"== {engine}: starting ({workdir})", file=sys.stderr)
        target.start()
        for key, fn in patterns:
            run_pattern(key, fn, target, res, cfg.pattern_timeout)
        target.stop()
        res.check("exits_on_sigterm", target.sigkills == 0,
                  f"{target.sigkills} of {target.sigterms} SIGTERMs needed a SIGKILL after {STOP_GRACE_S:.0f}s")
    except Exception as exc:
        res.errors["server"] = f"{type(exc).__name__}: {exc}"
        print(f"  ! {engine} ERROR: {res.errors['server']}", file=sys.stderr)
    finally:
        target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return res


# ---- report ------------------------------------------------------------------------------------------------
def cell(res: ServerResult, key: str) -> str:
    value = res.figures.get(key)
    if value is not None:
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return "ERR" if key in res.errors else "FAIL"


def print_table(results: list[ServerResult]) -> None:
    by_name = {r.name: r for r in results}
    with_ratio = {"secantusdb", "nx-27017"} <= set(by_name)
    header = f"{'pattern':<22} {'unit':<8}" + "".join(f" {r.name:>11}" for r in results)
    header += f" {'nx/secantus':>11}  better" if with_ratio else ""
    print(header)
    print("-" * len(header))
    for m in METRICS:
        label = m.key + ("*" if m.key == "queue_pop_fam_before" else "")
        line = f"{label:<22} {m.unit:<8}" + "".join(f" {cell(r, m.key):>11}" for r in results)
        if with_ratio:
            s, n = by_name["secantusdb"].figures.get(m.key), by_name["nx-27017"].figures.get(m.key)
            ratio = f"{n / s:.2f}" if s and n is not None else "n/a"
            line += f" {ratio:>11}  {'higher' if m.higher_is_better else 'lower'}"
        print(line)
    print(f"* {FAM_NOTE}")


def speed_summary(secantus: ServerResult, nx: ServerResult) -> str:
    """Patterns where one server is at least 2x better than the other."""
    ahead = {"nx-27017": [], "secantusdb": []}
    for m in METRICS:
        s, n = secantus.figures.get(m.key), nx.figures.get(m.key)
        if s and n:
            nx_advantage = n / s if m.higher_is_better else s / n
            if max(nx_advantage, 1 / nx_advantage) >= 2:
                ahead["nx-27017" if nx_advantage > 1 else "secantusdb"].append(m.key)
    return "; ".join(f"{name} >= 2x better on: {', '.join(keys) or 'none'}" for name, keys in ahead.items())


def findings(results: list[ServerResult]) -> list[str]:
    by_name = {r.name: r for r in results}
    lines = [speed_summary(by_name["secantusdb"], by_name["nx-27017"])] if len(by_name) == 2 else []
    for r in results:
        for name, (ok, detail, _) in r.checks.items():
            if ok:
                continue
            if name == "queue_pop_fam_before_exactly_once":
                lines.append(f"{r.name}: queue_pop_fam_before ({FAM_NOTE}) is not exactly-once: {detail}")
            elif name == "queue_pop_exactly_once":
                lines.append(f"{r.name}: Trackside's queue claim (QueuesBLL.pop_entry, compare-and-swap on "
                             f"'entries.0.task') fails: {detail}"
                             + ("" if r.name == MONGO_ENGINES[0] else f"; one reason {r.name} is not used"))
            else:
                lines.append(f"{r.name}: check {name} FAILED: {detail}")
        lines += [f"{r.name}: pattern {key} ERROR: {err[:300]}" for key, err in r.errors.items()]
        passed = sum(ok for ok, _, _ in r.checks.values())
        verdict = "" if r.ok else (" -- FAILED (exit code 1)" if r.name == MONGO_ENGINES[0] else " (a finding)")
        lines.append(f"{r.name}: {passed}/{len(r.checks)} checks pass{verdict}")
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced run (< 60 s per server)")
    p.add_argument("--servers", default=",".join(MONGO_ENGINES),
                   help="comma-separated subset of: " + ", ".join(MONGO_ENGINES))
    p.add_argument("--pattern-timeout", type=int, default=300,
                   help="seconds before one pattern is abandoned (default 300)")
    p.add_argument("--uri-options", default="", metavar="OPTS",
                   help="connection-string options over the defaults "
                        f"({'&'.join(f'{k}={v}' for k, v in BASE_URI_OPTIONS.items())}), e.g. retryWrites=true")
    p.add_argument("--json", metavar="PATH", help="also write figures and checks as JSON")
    args = p.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not args.servers or set(args.servers) - set(MONGO_ENGINES):
        p.error(f"--servers: expected a subset of {', '.join(MONGO_ENGINES)}")
    if any("=" not in kv for kv in args.uri_options.split("&") if kv):
        p.error("--uri-options: expected key=value[&key=value...]")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop the server and the worker processes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cfg = Config(pattern_timeout=args.pattern_timeout, **(QUICK if args.quick else {}))
    t0 = time.monotonic()
    results = [bench_server(name, cfg, args.uri_options) for name in args.servers]
    options = make_uri(0, args.uri_options).split("?", 1)[1]
    print(f"\nmedians, {'quick' if args.quick else 'full'} run, {cfg.reps} reps, {WORKERS} worker processes, "
          f"pymongo {pymongo.version}, URI options {options}, {time.monotonic() - t0:.0f}s total\n")
    print_table(results)
    print("\nfindings")
    for line in findings(results):
        print(f"  - {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"server": r.name, "figures": r.figures, "errors": r.errors,
              "checks": {k: {"ok": ok, "detail": d, "gating": g} for k, (ok, d, g) in r.checks.items()}}
             for r in results], indent=2))
    # Only the server Trackside runs on gates the exit code; the other is measured for comparison.
    return 0 if all(r.ok for r in results if r.name == MONGO_ENGINES[0]) else 1


if __name__ == "__main__":
    sys.exit(main())
