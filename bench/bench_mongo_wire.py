#!/usr/bin/env python3
"""Benchmark MongoDB-wire-protocol servers on Trackside's own access patterns.

Compares pure-Python MongoDB-compatible servers (secantusdb, nx-27017) using
documents shaped like ClearML tasks (~2 KB) and the queries the Trackside API
server issues.  Every pattern is repeated and the median is reported:

  1. insert        insert_one of task docs, single client            (ops/s)
  2. find_one      find_one by _id with a projection incl. a dotted path (ops/s)
  3. update        update_one $set of nested fields + $currentDate     (ops/s)
  4. get_all       {company, project $in, name $regex, system_tags $nin}
                   sorted by -last_update, skip/limit pages of 500     (ms/page)
  5. queue_pop     find_one_and_update $pop {entries: -1}, ReturnDocument.BEFORE,
                   from 4 processes; every entry must pop exactly once (pops/s)
  6. mixed         4 processes, 70% find_one / 30% update_one, fixed time (ops/s)
  7. restart       write docs, SIGTERM, restart on the same data dir, verify
                   the docs survived                                   (s)

Correctness checks (any failure => non-zero exit): insert count, dotted-path
projection shape, nested $set/$currentDate applied, get_all paging returns
exactly the expected ids in order, queue entries popped exactly once, mixed
load without errors, docs survive restart, DuplicateKeyError on a duplicate
_id and on a unique secondary index.

Each server is started by this script on a free 127.0.0.1 port with a fresh
temporary data dir and stopped with SIGTERM at the end.  Every step has a
timeout, so a hung server makes a pattern fail instead of hanging the run.

Run (stdlib + pymongo only; server executables are looked up next to the
Python interpreter, then on PATH):

    python bench/bench_mongo_wire.py                 # full run, both servers
    python bench/bench_mongo_wire.py --quick         # < 60 s for both servers
    python bench/bench_mongo_wire.py --servers nx-27017 --json out.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

UTC = dt.timezone.utc
DB_NAME = "trackside_bench"
COMPANY = "d1bd92a3b039400cbafc60a7a5b1e52b"
PROJECTS = [f"{i:032x}" for i in range(0xA0, 0xAA)]  # 10 projects
GET_ALL_PROJECTS = PROJECTS[:7]
PAGE_SIZE = 500
WORKERS = 4
SERVER_NAMES = ("secantusdb", "nx-27017")


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------
@dataclass
class Config:
    reps: int
    insert_docs: int
    find_ops: int
    update_tasks: int
    edits_per_task: int
    get_all_docs: int
    queue_entries: int
    mixed_seconds: float
    mixed_docs: int
    restart_docs: int
    restart_reps: int
    pattern_timeout: int

    @classmethod
    def make(cls, quick: bool, pattern_timeout: int) -> "Config":
        if quick:
            return cls(reps=3, insert_docs=300, find_ops=500, update_tasks=15,
                       edits_per_task=20, get_all_docs=2000, queue_entries=150,
                       mixed_seconds=1.0, mixed_docs=300, restart_docs=200,
                       restart_reps=1, pattern_timeout=pattern_timeout)
        return cls(reps=5, insert_docs=2000, find_ops=3000, update_tasks=100,
                   edits_per_task=20, get_all_docs=5000, queue_entries=500,
                   mixed_seconds=5.0, mixed_docs=2000, restart_docs=2000,
                   restart_reps=3, pattern_timeout=pattern_timeout)


# --------------------------------------------------------------------------
# server process helper
# --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_executable(name: str) -> str:
    local = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found next to {sys.executable} or on PATH")
    return found


class Server:
    """Starts/stops one wire-protocol server on 127.0.0.1 with its own data dir."""

    def __init__(self, name: str, workdir: str):
        self.name = name
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.log_path = os.path.join(workdir, "server.log")
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def _command(self) -> list[str]:
        port = str(self.port)
        if self.name == "secantusdb":
            return [find_executable("secantusd-py"), "--host", "127.0.0.1",
                    "--port", port, "--storage-path", self.data_dir]
        if self.name == "nx-27017":
            return [find_executable("nx-27017"), "--data-dir", self.data_dir,
                    "--host", "127.0.0.1", "-p", port,
                    "--log-file", os.path.join(self.workdir, "nx.log"),
                    "--pid-file", os.path.join(self.workdir, "nx.pid")]
        raise ValueError(f"unknown server {self.name!r}")

    def start(self, timeout: float = 60.0) -> float:
        """Launch the server and return seconds until it answers ping."""
        self.port = free_port()
        t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self._command(), stdout=log,
                                         stderr=subprocess.STDOUT,
                                         start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"log tail:\n{self.log_tail()}")
            if self._ping():
                return time.monotonic() - t0
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {timeout}s")

    def _ping(self) -> bool:
        try:
            with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=300,
                                     connectTimeoutMS=300) as c:
                c.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM the server, wait for exit (SIGKILL after timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"  ! {self.name} ignored SIGTERM for {timeout}s; sending SIGKILL",
                  file=sys.stderr)
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        return time.monotonic() - t0

    def healthy(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self._ping()

    def client(self) -> pymongo.MongoClient:
        return connect(self.uri)

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


def connect(uri: str) -> pymongo.MongoClient:
    # socketTimeoutMS bounds every single operation, so a hung server
    # surfaces as an exception instead of a hang.
    return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10000,
                               connectTimeoutMS=5000, socketTimeoutMS=30000)


# --------------------------------------------------------------------------
# ClearML-shaped documents
# --------------------------------------------------------------------------
def hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def hyperparam(section: str, name: str, value: str, typ: str) -> dict:
    return {"section": section, "name": name, "value": value, "type": typ}


def make_task(i: int, rng: random.Random, last_update: dt.datetime) -> dict:
    """A ~2 KB document shaped like a ClearML task."""
    args = {"lr": ("0.001", "float"), "batch_size": ("64", "int"),
            "epochs": ("30", "int"), "optimizer": ("adam", "str"),
            "weight_decay": ("0.0001", "float"), "dataset": ("imagenet-mini", "str")}
    return {
        "_id": hex_id(rng),
        "name": f"exp-{i % 2}-run-{i:05d}",
        "company": COMPANY,
        "project": rng.choice(PROJECTS),
        "user": "8a1c7b8ee0434e6b9ba5cc7f9d4e1b21",
        "type": "training",
        "status": "created",
        "comment": "Auto-generated task by Trackside benchmark",
        "tags": ["resnet", f"batch-{i % 7}"],
        "system_tags": ["archived"] if rng.random() < 0.1 else ["development"],
        "script": {
            "repository": "https://github.com/example/vision-models.git",
            "branch": "main",
            "version_num": f"{rng.getrandbits(160):040x}",
            "entry_point": "train.py",
            "working_dir": ".",
            "requirements": {"pip": "torch==2.3.1\ntorchvision==0.18.1\nnumpy==1.26.4\n"
                                    "clearml==1.16.2\ntqdm==4.66.4\npillow==10.3.0\n"},
            "diff": "",
        },
        "execution": {
            "parameters": {f"Args/{k}": v for k, (v, _) in args.items()},
            "queue": None,
            "artifacts": {},
        },
        "hyperparams": {
            "Args": {k: hyperparam("Args", k, v, t) for k, (v, t) in args.items()},
            "General": {"seed": hyperparam("General", "seed", str(i), "int"),
                        "device": hyperparam("General", "device", "cuda:0", "str")},
        },
        "runtime": {"version": "1.16.2", "gpu_count": 1, "progress": 0,
                    "hostname": f"worker-{i % 16:02d}", "cpu_cores": 16},
        "models": {"input": [], "output": []},
        "container": {"image": "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04",
                      "arguments": "--ipc=host", "setup_shell_script": ""},
        "output": {"destination": "s3://trackside-artifacts/models", "result": None},
        "created": last_update,
        "last_update": last_update,
        "started": None,
    }


def make_tasks(n: int, seed: int) -> list[dict]:
    """n tasks with distinct, strictly decreasing whole-second last_update."""
    rng = random.Random(seed)
    base = dt.datetime(2024, 6, 1, tzinfo=UTC)
    return [make_task(i, rng, base - dt.timedelta(seconds=i)) for i in range(n)]


# --------------------------------------------------------------------------
# result bookkeeping
# --------------------------------------------------------------------------
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
    Metric("mixed", "ops/s", True),
    Metric("restart", "s", False),
]


@dataclass
class ServerResult:
    name: str
    figures: dict[str, float] = field(default_factory=dict)
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        # keep the first failure of a check that runs in several reps
        if name in self.checks and not self.checks[name][0]:
            return
        self.checks[name] = (bool(ok), detail)
        if not ok:
            print(f"  ! check {name} FAILED: {detail}", file=sys.stderr)

    @property
    def ok(self) -> bool:
        return not self.errors and all(ok for ok, _ in self.checks.values())


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


# --------------------------------------------------------------------------
# patterns 1-4: single client
# --------------------------------------------------------------------------
def bench_insert(db, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.reps):
        docs = make_tasks(cfg.insert_docs, seed=1000 + rep)
        col = db[f"insert_{rep}"]
        t0 = time.perf_counter()
        for d in docs:
            col.insert_one(d)
        samples.append(rate(len(docs), time.perf_counter() - t0))
        count = col.count_documents({})
        res.check("insert_count", count == len(docs), f"{count} != {len(docs)}")
    return statistics.median(samples)


FIND_PROJECTION = {"name": 1, "status": 1, "project": 1, "runtime.version": 1}


def check_projection(doc: dict | None, src: dict, res: ServerResult) -> None:
    expected = {"_id": src["_id"], "name": src["name"], "status": src["status"],
                "project": src["project"], "runtime": {"version": src["runtime"]["version"]}}
    res.check("projection_dotted_path", doc == expected,
              f"got keys {sorted(doc) if doc else doc}, runtime={doc and doc.get('runtime')}")


def bench_find_one(db, cfg: Config, res: ServerResult) -> float:
    col = db["insert_0"]  # filled by bench_insert
    docs = make_tasks(cfg.insert_docs, seed=1000)
    ids = [d["_id"] for d in docs]
    check_projection(col.find_one({"_id": ids[3]}, FIND_PROJECTION), docs[3], res)
    rng = random.Random(7)
    samples = []
    for _ in range(cfg.reps):
        picks = [rng.choice(ids) for _ in range(cfg.find_ops)]
        t0 = time.perf_counter()
        for _id in picks:
            col.find_one({"_id": _id}, FIND_PROJECTION)
        samples.append(rate(len(picks), time.perf_counter() - t0))
    return statistics.median(samples)


def task_edit(k: int) -> dict:
    """One SDK-style task edit: nested $set plus a server-side last_update."""
    return {"$set": {"status": "in_progress",
                     "runtime.progress": k,
                     "execution.parameters.Args/lr": f"0.00{k}",
                     "hyperparams.Args.lr.value": f"0.00{k}"},
            "$currentDate": {"last_update": True}}


def bench_update(db, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.reps):
        col = db[f"update_{rep}"]
        docs = make_tasks(cfg.update_tasks, seed=2000 + rep)
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
    ok = (doc is not None and doc["runtime"]["progress"] == k
          and doc["execution"]["parameters"]["Args/lr"] == f"0.00{k}"
          and doc["hyperparams"]["Args"]["lr"]["value"] == f"0.00{k}"
          and doc["runtime"]["version"] == "1.16.2"
          and isinstance(doc["last_update"], dt.datetime) and doc["last_update"] >= started)
    detail = "" if ok else f"runtime={doc and doc.get('runtime')} last_update={doc and doc.get('last_update')}"
    res.check("nested_set_currentdate", ok, detail)


GET_ALL_QUERY = {"company": COMPANY,
                 "project": {"$in": GET_ALL_PROJECTS},
                 "name": {"$regex": "^exp-1"},
                 "system_tags": {"$nin": ["archived"]}}
GET_ALL_FIELDS = {"name": 1, "status": 1, "project": 1, "type": 1, "user": 1,
                  "tags": 1, "system_tags": 1, "last_update": 1}


def expected_get_all_ids(docs: list[dict]) -> list[str]:
    hits = [d for d in docs if d["project"] in GET_ALL_PROJECTS
            and d["name"].startswith("exp-1") and "archived" not in d["system_tags"]]
    hits.sort(key=lambda d: d["last_update"], reverse=True)
    return [d["_id"] for d in hits]


def fetch_all_pages(col) -> tuple[list[str], list[float]]:
    ids, page_ms, page = [], [], 0
    while True:
        t0 = time.perf_counter()
        batch = list(col.find(GET_ALL_QUERY, GET_ALL_FIELDS)
                     .sort("last_update", pymongo.DESCENDING)
                     .skip(page * PAGE_SIZE).limit(PAGE_SIZE))
        page_ms.append((time.perf_counter() - t0) * 1000)
        ids.extend(d["_id"] for d in batch)
        if len(batch) < PAGE_SIZE:
            return ids, page_ms
        page += 1


def bench_get_all(db, cfg: Config, res: ServerResult) -> float:
    col = db["get_all"]
    col.create_index([("company", 1), ("project", 1), ("last_update", -1)])
    docs = make_tasks(cfg.get_all_docs, seed=3000)
    col.insert_many(docs)
    expected = expected_get_all_ids(docs)
    page_ms = []
    for _ in range(cfg.reps):
        ids, times = fetch_all_pages(col)
        page_ms.extend(times)
        res.check("get_all_paging", ids == expected,
                  f"{len(ids)} ids (unique {len(set(ids))}) vs {len(expected)} expected; "
                  f"order ok={ids == expected}")
    return statistics.median(page_ms)


# --------------------------------------------------------------------------
# patterns 5-6: multiprocess workers (spawned; each opens its own client)
# --------------------------------------------------------------------------
def pop_worker(uri: str, queue_id: str, start_evt, out) -> None:
    try:
        col = connect(uri)[DB_NAME]["queues"]
        col.database.command("ping")
        start_evt.wait(60)
        popped, t0 = [], time.monotonic()
        while True:
            before = col.find_one_and_update({"_id": queue_id}, {"$pop": {"entries": -1}},
                                             return_document=ReturnDocument.BEFORE)
            entries = (before or {}).get("entries") or []
            if not entries:
                break
            popped.append(entries[0]["task"])
        out.put({"popped": popped, "t0": t0, "t1": time.monotonic()})
    except Exception as exc:  # report, never hang the parent
        out.put({"error": f"{type(exc).__name__}: {exc}"})


def mixed_worker(uri: str, ids: list[str], seconds: float, seed: int, start_evt, out) -> None:
    try:
        col = connect(uri)[DB_NAME]["mixed"]
        col.database.command("ping")
        rng = random.Random(seed)
        start_evt.wait(60)
        ops, t0 = 0, time.monotonic()
        deadline = t0 + seconds
        while time.monotonic() < deadline:
            _id = rng.choice(ids)
            if rng.random() < 0.7:
                col.find_one({"_id": _id}, FIND_PROJECTION)
            else:
                col.update_one({"_id": _id}, task_edit(ops % 50))
            ops += 1
        out.put({"ops": ops, "t0": t0, "t1": time.monotonic()})
    except Exception as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})


def run_workers(target, args_list: list[tuple], timeout: float) -> list[dict]:
    """Start one spawned process per args tuple, release them together, collect results."""
    ctx = mp.get_context("spawn")
    start_evt, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, start_evt, out), daemon=True)
             for args in args_list]
    for p in procs:
        p.start()
    try:
        time.sleep(0.5)  # let workers import, connect and ping before the start signal
        start_evt.set()
        deadline = time.monotonic() + timeout
        return [out.get(timeout=max(1.0, deadline - time.monotonic())) for _ in procs]
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)


def span_rate(results: list[dict], count_key) -> float:
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("worker failed: " + "; ".join(errors))
    total = sum(count_key(r) for r in results)
    return rate(total, max(r["t1"] for r in results) - min(r["t0"] for r in results))


def bench_queue_pop(server: Server, db, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.reps):
        queue_id = f"queue-{rep}"
        now = dt.datetime.now(UTC)
        tasks = [f"{rep:04d}{i:028x}" for i in range(cfg.queue_entries)]
        db["queues"].insert_one({"_id": queue_id, "name": queue_id, "company": COMPANY,
                                 "entries": [{"task": t, "added": now} for t in tasks]})
        results = run_workers(pop_worker, [(server.uri, queue_id)] * WORKERS,
                              cfg.pattern_timeout)
        samples.append(span_rate(results, lambda r: len(r["popped"])))
        check_popped_once(results, tasks, db["queues"].find_one({"_id": queue_id}), res)
    return statistics.median(samples)


def check_popped_once(results: list[dict], tasks: list[str], queue: dict | None,
                      res: ServerResult) -> None:
    popped = [t for r in results for t in r["popped"]]
    dupes = len(popped) - len(set(popped))
    missing = len(set(tasks) - set(popped))
    left = len((queue or {}).get("entries") or [])
    res.check("queue_pop_exactly_once", dupes == 0 and missing == 0 and left == 0,
              f"popped={len(popped)} dupes={dupes} missing={missing} left_in_queue={left}")


def bench_mixed(server: Server, db, cfg: Config, res: ServerResult) -> float:
    docs = make_tasks(cfg.mixed_docs, seed=4000)
    db["mixed"].insert_many(docs)
    ids = [d["_id"] for d in docs]
    samples = []
    for rep in range(cfg.reps):
        args = [(server.uri, ids, cfg.mixed_seconds, 100 * rep + w) for w in range(WORKERS)]
        try:
            results = run_workers(mixed_worker, args, cfg.mixed_seconds + 60)
            samples.append(span_rate(results, lambda r: r["ops"]))
            res.check("mixed_no_errors", True)
        except RuntimeError as exc:
            res.check("mixed_no_errors", False, str(exc))
            raise
    return statistics.median(samples)


# --------------------------------------------------------------------------
# pattern 7: restart durability; unique index check
# --------------------------------------------------------------------------
def bench_restart(server: Server, cfg: Config, res: ServerResult) -> float:
    samples = []
    for rep in range(cfg.restart_reps):
        with server.client() as client:
            col = client[DB_NAME][f"durable_{rep}"]
            docs = make_tasks(cfg.restart_docs, seed=5000 + rep)
            col.insert_many(docs)
            col.update_one({"_id": docs[0]["_id"]}, task_edit(9))
            before = list(col.find().sort("_id", 1))
        stop_s = server.stop()
        start_s = server.start()
        print(f"    restart {rep}: stop {stop_s:.2f}s + ready {start_s:.2f}s", file=sys.stderr)
        samples.append(stop_s + start_s)
        with server.client() as client:
            after = list(client[DB_NAME][f"durable_{rep}"].find().sort("_id", 1))
        res.check("durable_after_restart", after == before,
                  f"{len(after)}/{len(before)} docs back, equal={after == before}")
    return statistics.median(samples)


def check_unique_index(db, res: ServerResult) -> None:
    col = db["unique_keys"]
    col.create_index([("company", 1), ("name", 1)], unique=True)
    col.insert_one({"_id": "a" * 32, "company": COMPANY, "name": "dup"})
    res.check("duplicate_id_raises", raises_dup(lambda: col.insert_one({"_id": "a" * 32})))
    res.check("unique_index_raises", raises_dup(
        lambda: col.insert_one({"_id": "b" * 32, "company": COMPANY, "name": "dup"})))


def raises_dup(fn) -> bool:
    try:
        fn()
    except DuplicateKeyError:
        return True
    except pymongo.errors.PyMongoError as exc:
        print(f"  ! expected DuplicateKeyError, got {type(exc).__name__}: {exc}", file=sys.stderr)
    return False


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------
def run_pattern(key: str, fn, server: Server, res: ServerResult, timeout: int) -> None:
    t0 = time.monotonic()
    try:
        with time_limit(timeout, key):
            value = fn()
        if value is not None:
            res.figures[key] = value
        shown = "done" if value is None else f"{value:.1f}"
        print(f"  {key:<10} {shown:>10}   ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    except Exception as exc:
        res.errors[key] = f"{type(exc).__name__}: {exc}"
        print(f"  ! {key} ERROR: {res.errors[key]}", file=sys.stderr)
        if not server.healthy():
            print(f"  ! {server.name} is dead or unresponsive; restarting it. Log tail:\n"
                  f"{server.log_tail()}", file=sys.stderr)
            server.stop()
            server.start()


def bench_server(name: str, cfg: Config) -> ServerResult:
    res = ServerResult(name)
    workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
    server = Server(name, workdir)
    try:
        print(f"== {name}: starting ({workdir})", file=sys.stderr)
        server.start()
        client = server.client()
        db = client[DB_NAME]
        timeout = cfg.pattern_timeout
        run_pattern("insert", lambda: bench_insert(db, cfg, res), server, res, timeout)
        run_pattern("find_one", lambda: bench_find_one(db, cfg, res), server, res, timeout)
        run_pattern("update", lambda: bench_update(db, cfg, res), server, res, timeout)
        run_pattern("get_all", lambda: bench_get_all(db, cfg, res), server, res, timeout)
        run_pattern("queue_pop", lambda: bench_queue_pop(server, db, cfg, res),
                    server, res, timeout)
        run_pattern("mixed", lambda: bench_mixed(server, db, cfg, res), server, res, timeout)
        run_pattern("unique", lambda: check_unique_index(db, res), server, res, timeout)
        client.close()
        run_pattern("restart", lambda: bench_restart(server, cfg, res), server, res, timeout)
    except Exception as exc:
        res.errors["server"] = f"{type(exc).__name__}: {exc}"
        print(f"  ! {name} ERROR: {res.errors['server']}", file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def fmt(value: float | None) -> str:
    if value is None:
        return "ERR"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def print_table(results: list[ServerResult]) -> None:
    names = [r.name for r in results]
    header = f"{'pattern':<10} {'unit':<8} " + " ".join(f"{n:>12}" for n in names)
    ratio = "secantusdb" in names and "nx-27017" in names
    if ratio:
        header += f" {'nx/secantus':>12}  better"
    print(header)
    print("-" * len(header))
    by_name = {r.name: r for r in results}
    for m in METRICS:
        vals = [r.figures.get(m.key) for r in results]
        line = f"{m.key:<10} {m.unit:<8} " + " ".join(f"{fmt(v):>12}" for v in vals)
        if ratio:
            s, n = by_name["secantusdb"].figures.get(m.key), by_name["nx-27017"].figures.get(m.key)
            r = f"{n / s:.2f}" if s and n is not None else "n/a"
            line += f" {r:>12}  {'higher' if m.higher_is_better else 'lower'}"
        print(line)


def print_checks(results: list[ServerResult]) -> None:
    print("\ncorrectness")
    for r in results:
        for name, (ok, detail) in r.checks.items():
            print(f"  {r.name:<11} {'PASS' if ok else 'FAIL'}  {name}"
                  + ("" if ok else f"  -- {detail}"))
        for key, err in r.errors.items():
            print(f"  {r.name:<11} ERROR {key}  -- {err}")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced run (< 60 s for both servers)")
    p.add_argument("--servers", default=",".join(SERVER_NAMES),
                   help="comma-separated subset of: " + ", ".join(SERVER_NAMES))
    p.add_argument("--pattern-timeout", type=int, default=300,
                   help="seconds before one pattern is abandoned (default 300)")
    p.add_argument("--json", metavar="PATH", help="also write figures and checks as JSON")
    args = p.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - set(SERVER_NAMES)
    if unknown:
        p.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.make(args.quick, args.pattern_timeout)
    t0 = time.monotonic()
    results = [bench_server(name, cfg) for name in args.servers]
    mode = "quick" if args.quick else "full"
    print(f"\nmedians, {mode} run, {cfg.reps} reps, {WORKERS} worker processes, "
          f"pymongo {pymongo.version}, {time.monotonic() - t0:.0f}s total\n")
    print_table(results)
    print_checks(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"server": r.name, "figures": r.figures, "errors": r.errors,
                        "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in r.checks.items()}}
                       for r in results], f, indent=2)
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"\nFAILED correctness/errors on: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
