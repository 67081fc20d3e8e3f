#!/usr/bin/env python3
"""How fast the web app's pages are with 100,000 tasks, a million scalar points and a million console lines,
against small baselines seeded and measured in the same run (issue 15, "Speed").

The stack is the embedded default, started as the tests start it: the Mongo-wire server (secantusdb), Valkey,
the API (gunicorn, 2 workers x 8 threads), the file server and the web app. Seeded (bench/webapp_seed.py:
the API's own shapes and ingestion code, in this process, because over HTTP it would take hours):

  tasks     a project of TASKS tasks (statuses, types, users, tags, last_metrics, hyperparameters, varied
            times); baseline: a project of 10. Task documents are clones of one the API made.
  events    through the API's own ingestion code (EventsBLL.add, what events.add_batch calls) in this
            process, in batches of 10,000: stored, numbered, bucketed and summarised as the API does
  scalars   a task of POINTS scalar points across 10 series; baseline: 1,000 points
  console   a task of LOG_LINES console lines; baseline: 1,000
  compare   COMPARE tasks x 10 metrics x COMPARE_POINTS iterations; baseline: 2 tasks

SERVER time is the API call a page makes, sent through the web app's /api proxy as a signed-in browser
sends it (session cookie, CSRF header): the tasks table's first page (tasks.get_all_ex, 30 rows by
last_update, the table's only_fields), a sort change, a status filter, a search; the scalar chart
(events.scalar_metrics_iter_downsampled at chart width) and a zoom re-query; the console's first screen
(events.get_task_log_lines) and a search hit (events.search_task_log); compare's scalars (100 tasks).
BROWSER time (bench/webapp_browser.py, Playwright with /usr/bin/chromium) is from navigation or action
until the page shows it: the table's first rows, the chart's plotly traces, the zoomed chart, the console's
first lines and the search hit, compare's charts of 100 tasks.

Figures are medians of REPS runs after one warm-up run (a figure whose first run takes over SLOW_S seconds
is measured fewer times, said in the table; --quick skips the warm-up), and big/baseline ratios. Sizes come
from the environment:

    TRACKSIDE_BENCH_TASKS (100000) TRACKSIDE_BENCH_POINTS (1000000) TRACKSIDE_BENCH_LOG_LINES (1000000)
    TRACKSIDE_BENCH_COMPARE (100) TRACKSIDE_BENCH_COMPARE_POINTS (200) TRACKSIDE_BENCH_REPS (5)
    TRACKSIDE_BENCH_BROWSER (1; 0 skips the browser figures)

Run:
    make bench-webapp                                    # the full sizes: seeding takes 10-20 minutes
    .venv/bin/python bench/bench_webapp.py --quick       # small sizes; runs inside make test
    TRACKSIDE_BENCH_TASKS=20000 TRACKSIDE_BENCH_POINTS=200000 .venv/bin/python bench/bench_webapp.py

Exit code 1 when a check fails (a call answered with an error, a page did not show what it must); a
target missed is reported, not failed. Expect 20-40% run-to-run variation on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import pymongo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters
sys.path.insert(0, str(ROOT / "bench"))

from support.suite import start_mongo, start_redis  # noqa: E402
from support.webapp import WebAppStack, signed_in_session, start_webapp_stack  # noqa: E402
from webapp_seed import LOG_NEEDLE, Api, Seeder  # noqa: E402

SLOW_S = 20.0  # a figure whose first run takes longer is measured fewer times (MAX_SECONDS per figure)
MAX_SECONDS = 90.0
CHART_POINTS = 1000  # what a chart about 1,000 px wide asks for
CONSOLE_LINES = 200


@dataclass(frozen=True)
class Sizes:
    tasks: int = 100_000
    points: int = 1_000_000
    log_lines: int = 1_000_000
    compare: int = 100
    compare_points: int = 200
    reps: int = 5
    warm_up: bool = True  # --quick (a sanity run in make test) measures without a warm-up run
    browser: int = 1
    # the baselines
    base_tasks: int = 10
    base_points: int = 1_000
    base_log_lines: int = 1_000
    base_compare: int = 2
    series: int = 10
    compare_metrics: int = 10


QUICK = dict(tasks=500, points=2_000, log_lines=2_000, compare=3, compare_points=10, reps=1, warm_up=False,
             base_points=200, base_log_lines=200)
ENV = {"tasks": "TRACKSIDE_BENCH_TASKS", "points": "TRACKSIDE_BENCH_POINTS",
       "log_lines": "TRACKSIDE_BENCH_LOG_LINES", "compare": "TRACKSIDE_BENCH_COMPARE",
       "compare_points": "TRACKSIDE_BENCH_COMPARE_POINTS", "reps": "TRACKSIDE_BENCH_REPS",
       "browser": "TRACKSIDE_BENCH_BROWSER"}


def sizes_from_env(quick: bool) -> Sizes:
    sizes = Sizes(**QUICK) if quick else Sizes()
    overrides = {name: int(os.environ[var].replace("_", "")) for name, var in ENV.items() if os.environ.get(var)}
    return replace(sizes, **overrides)


# ---- the stack -----------------------------------------------------------------------------------------------
@dataclass
class Stack:
    mongo_port: int
    web: WebAppStack
    stop: Callable[[], None]


def start_stack(work: Path) -> Stack:
    """The Mongo-wire server and Valkey, then the tests' web app stack (API with fixed users, file server,
    web app); ``stop`` stops them all."""
    started: list[Callable[[], None]] = []

    def stop() -> None:
        for stopper in reversed(started):
            try:
                stopper()
            except Exception as exc:  # keep stopping the others
                print(f"stopping: {exc}", file=sys.stderr)

    try:
        mongo = start_mongo(work)
        started.append(mongo.stop)
        redis = start_redis(work / "redis")
        started.append(redis.stop)
        web = start_webapp_stack(mongo.port, redis.port, work / "stack")
        started.append(web.stop)
    except BaseException:
        stop()
        raise
    return Stack(mongo.port, web, stop)


# ---- signed-in calls through the web app ---------------------------------------------------------------------
class WebSession:
    """What a signed-in browser sends to the web app's /api proxy (session cookie, CSRF header): signed in
    through the real /login form as the stack's fixed admin."""

    def __init__(self, web: WebAppStack):
        self.url = web.url
        self.session = signed_in_session(web.url, web.admin_user, web.admin_password)

    def call(self, endpoint: str, body: dict) -> dict:
        reply = self.session.post(f"{self.url}/api/{endpoint}", json=body, timeout=600)
        envelope = reply.json()
        if reply.status_code != 200:
            meta = envelope.get("meta", {})
            raise RuntimeError(f"{endpoint}: HTTP {reply.status_code} {meta.get('result_msg', envelope)}")
        return envelope["data"]


class DirectSession:
    """The same calls sent to the API itself (--api-direct): what the proxy adds is the difference."""

    def __init__(self, api: Api):
        self.api = api

    def call(self, endpoint: str, body: dict) -> dict:
        return self.api.call(endpoint, **body)


# ---- measuring ---------------------------------------------------------------------------------------------
@dataclass
class Figure:
    name: str  # "server: table first page"
    target_s: float | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)  # "base"/"big" -> seconds
    notes: list[str] = field(default_factory=list)
    failed: str | None = None

    def median(self, which: str) -> float | None:
        values = self.samples.get(which)
        return statistics.median(values) if values else None

    @property
    def ratio(self) -> float | None:
        big, base = self.median("big"), self.median("base")
        return big / base if big is not None and base else None


def measure(run: Callable[[], float], reps: int, warm_up: bool = True) -> list[float]:
    """Seconds per run (``run`` returns its own): one warm-up (kept when slow), then up to ``reps`` runs
    within MAX_SECONDS; without ``warm_up``, ``reps`` runs."""
    if not warm_up:
        return [run() for _ in range(reps)]
    first = run()
    if first > SLOW_S:
        samples, reps = [first], max(1, min(reps, int(MAX_SECONDS // first)))
    else:
        samples = []
    while len(samples) < reps:
        samples.append(run())
    return samples


def wall(run: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        t0 = time.perf_counter()
        run()
        return time.perf_counter() - t0
    return timed


class Bench:
    def __init__(self, sizes: Sizes):
        self.sizes = sizes
        self.figures: dict[str, Figure] = {}
        self.seeding: dict[str, float] = {}

    def figure(self, name: str, target_s: float | None = None) -> Figure:
        return self.figures.setdefault(name, Figure(name, target_s))

    def record(self, name: str, which: str, run: Callable[[], object], target_s: float | None = None) -> None:
        """``run``'s wall time."""
        self.record_timed(name, which, wall(run), target_s)

    def record_timed(self, name: str, which: str, run: Callable[[], float], target_s: float | None = None) -> None:
        """``run`` returns the seconds that count (it may prepare the page first)."""
        fig = self.figure(name, target_s)
        try:
            fig.samples[which] = measure(run, self.sizes.reps, self.sizes.warm_up)
        except Exception as exc:  # the figure is reported as failed; the others still run
            fig.failed = f"{which}: {exc}"[:300]
            print(f"  ! {name} ({which}): {exc}", file=sys.stderr)

    def seeded(self, what: str, started: float) -> None:
        self.seeding[what] = time.perf_counter() - started
        print(f"seeded {what} in {self.seeding[what]:.1f} s", file=sys.stderr)


# ---- the data ------------------------------------------------------------------------------------------------
@dataclass
class DataSet:
    """One side (the big one or the baseline) of everything the bench measures."""
    project: str
    task_names: list[str]
    scalar_task: str
    series_project: str
    log_task: str
    log_needle: int
    compare_project: str
    compare_ids: list[str]


def seed(seeder: Seeder, bench: Bench, which: str, tasks: int, points: int, log_lines: int, compare: int) -> DataSet:
    s, tag = bench.sizes, f"{which}-{secrets.token_hex(3)}"
    t0 = time.perf_counter()
    project = seeder.project(f"bench {which} tasks {tag}")
    names = seeder.tasks(project, tasks, f"{which}")
    bench.seeded(f"{which}: {tasks:,} tasks", t0)

    t0 = time.perf_counter()
    series_project = seeder.project(f"bench {which} series {tag}")
    scalar_task = seeder.template_task(series_project, f"{which}-scalars", scalars=False)["_id"]
    seeder.scalars(scalar_task, points, s.series)
    bench.seeded(f"{which}: {points:,} scalar points", t0)

    t0 = time.perf_counter()
    log_task = seeder.template_task(series_project, f"{which}-console", scalars=False)["_id"]
    needle = seeder.log(log_task, log_lines)
    bench.seeded(f"{which}: {log_lines:,} console lines", t0)

    t0 = time.perf_counter()
    compare_project = seeder.project(f"bench {which} compare {tag}")
    ids = seeder.compare_tasks(compare_project, compare, s.compare_metrics, s.compare_points, f"{which}-cmp")
    bench.seeded(f"{which}: {compare} compare tasks x {s.compare_metrics} metrics x {s.compare_points} points", t0)
    return DataSet(project, names, scalar_task, series_project, log_task, needle, compare_project, ids)


# ---- the store alone ----------------------------------------------------------------------------------------
def store_figures(bench: Bench, db, which: str, data: DataSet) -> None:
    """The table's first page read straight from the store in the shape its index serves best (equality on
    the index's leading fields, sort on its last): the floor under the API's figure."""
    company = db.projects.find_one({"_id": data.project}, {"company": 1})["company"]

    def page() -> None:
        docs = list(db.tasks.find({"company": company, "project": data.project}, {"name": 1, "status": 1},
                                  sort=[("last_update", -1)], limit=30))
        if len(docs) != min(30, len(data.task_names)):
            raise AssertionError(f"store page: {len(docs)} rows")

    bench.record("store alone: tasks page (index fields, sort, limit 30)", which, page)


# ---- server time -----------------------------------------------------------------------------------------------
# What the tasks table asks for with its default columns (services/webapp/.../views/tasks.js taskQuery).
TABLE_ONLY_FIELDS = [
    "id", "project.name", "name", "status", "type", "system_tags", "tags", "company", "execution.queue",
    "user.name", "started", "last_update", "last_iteration",
]
# What compare reads of the tasks (views/compare.js COMPARE_FIELDS).
COMPARE_FIELDS = [
    "id", "name", "status", "type", "project", "user", "created", "started", "completed", "last_update",
    "last_iteration", "tags", "comment", "hyperparams", "configuration", "script.repository", "script.branch",
    "script.version_num", "script.entry_point", "script.working_dir", "execution.queue", "container", "models",
    "last_metrics", "output.destination", "parent", "active_duration",
]
SEARCH_FIELDS = ["id", "name", "comment", "system_tags", "models.output.model", "models.input.model"]


def table_request(project: str, **extra) -> dict:
    return {"only_fields": TABLE_ONLY_FIELDS, "order_by": ["-last_update"],
            "system_tags": ["__$not", "archived", "__$not", "pipeline", "__$not", "dataset", "__$not", "reports"],
            "type": ["__$not", "annotation_manual", "__$not", "annotation", "__$not", "dataset_import"],
            "project": [project], "scroll_id": None, "size": 30, "refresh_scroll": False, **extra}


def search_pattern(data: DataSet) -> str:
    return data.task_names[len(data.task_names) // 2].rsplit("-", 1)[-1]  # a task's 6-digit number


def server_figures(bench: Bench, web: WebSession, which: str, data: DataSet) -> None:
    def call(endpoint: str, body: dict, check: Callable[[dict], bool], what: str) -> Callable[[], dict]:
        def run() -> dict:
            answer = web.call(endpoint, body)
            if not check(answer):
                raise AssertionError(f"{what}: unexpected answer {json.dumps(answer)[:300]}")
            return answer
        return run

    rows = lambda a: len(a["tasks"]) == min(30, len(data.task_names))  # noqa: E731
    bench.record("server: table first page (30 rows by last update)", which,
                 call("tasks.get_all_ex", table_request(data.project), rows, "first page"), 1.0)
    bench.record("server: table sorted by name", which,
                 call("tasks.get_all_ex", table_request(data.project, order_by=["name"]), rows, "sort"), 1.0)
    bench.record("server: table filtered by status (failed)", which,
                 call("tasks.get_all_ex", table_request(data.project, status=["failed"]),
                      lambda a: all(t["status"] == "failed" for t in a["tasks"]), "filter"), 1.0)
    pattern = search_pattern(data)
    bench.record("server: table search", which,
                 call("tasks.get_all_ex", table_request(data.project, _any_={"pattern": pattern,
                                                                              "fields": SEARCH_FIELDS}),
                      lambda a: any(pattern in t["name"] for t in a["tasks"]), "search"), 1.0)

    def series_ok(answer: dict) -> bool:
        series = [v for variants in answer["metrics"].values() for v in variants.values()]
        return len(series) == bench.sizes.series and all(len(v["x"]) <= CHART_POINTS for v in series)

    def metric_list(ids: list[str], metrics: int) -> Callable[[], dict]:
        """How the scalars tab lists its series (scalars_panel.js loadMetrics): the tasks' last_metrics."""
        def listed(answer: dict) -> bool:
            found = {entry["metric"] for t in answer["tasks"] for variants in t.get("last_metrics", {}).values()
                     for entry in variants.values()}
            return len(answer["tasks"]) == len(ids) and len(found) == metrics
        return call("tasks.get_all_ex", {"id": ids, "only_fields": ["id", "name", "last_metrics"]}, listed,
                    "metric list")

    bench.record("server: scalars tab's series list (last_metrics)", which, metric_list([data.scalar_task], 2), 1.0)
    chart = {"task": data.scalar_task, "points": CHART_POINTS}
    bench.record("server: scalar chart (10 series, downsampled)", which,
                 call("events.scalar_metrics_iter_downsampled", chart, series_ok, "chart"), 1.0)
    per_series = (bench.sizes.points if which == "big" else bench.sizes.base_points) // bench.sizes.series
    zoom = {**chart, "x_min": per_series * 4 // 10, "x_max": per_series * 5 // 10}
    bench.record("server: chart zoom re-query (a tenth of x)", which,
                 call("events.scalar_metrics_iter_downsampled", zoom, series_ok, "zoom"), 0.5)

    bench.record("server: console first screen (last 200 lines)", which,
                 call("events.get_task_log_lines", {"task": data.log_task, "from_end": True, "limit": CONSOLE_LINES},
                      lambda a: len(a["lines"]) == CONSOLE_LINES, "console"), 1.0)
    def search_hit() -> dict:
        """As the console searches (console_view.js searchAll): the server answers within a time budget and
        says where it got to (done: false); the page asks again from there until it finds the line."""
        body = {"task": data.log_task, "text": LOG_NEEDLE, "regex": False, "case_sensitive": False,
                "direction": "next", "count": True, "from_offset": 0}
        answer = web.call("events.search_task_log", body)
        while not answer["found"] and answer.get("done") is False:
            answer = web.call("events.search_task_log", {**body, "count": False,
                                                         "from_offset": answer["searched_to"] + 1})
        if not (answer["found"] and answer["offset"] == data.log_needle):
            raise AssertionError(f"console search: {json.dumps(answer)[:300]}")
        return answer

    bench.record("server: console search hit (middle of the log)", which, search_hit, 1.0)

    def compare_ok(answer: dict) -> bool:
        return len(answer["metrics"]) == bench.sizes.compare_metrics and all(
            len(by_task) == len(data.compare_ids) for v in answer["metrics"].values() for by_task in v.values())

    bench.record("server: compare's tasks (tasks.get_all_ex by id)", which,
                 call("tasks.get_all_ex", {"id": data.compare_ids, "only_fields": COMPARE_FIELDS, "size": 100},
                      lambda a: len(a["tasks"]) == len(data.compare_ids), "compare tasks"), 2.0)
    bench.record("server: compare's series list (last_metrics)", which,
                 metric_list(data.compare_ids, bench.sizes.compare_metrics), 2.0)
    bench.record("server: compare scalars (10 metrics)", which,
                 call("events.scalar_metrics_iter_downsampled",
                      {"tasks": data.compare_ids, "points": CHART_POINTS}, compare_ok, "compare"), 2.0)


# ---- report ------------------------------------------------------------------------------------------------
def report(bench: Bench) -> str:
    s = bench.sizes

    def sec(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"

    lines = [
        f"web app speed: big = {s.tasks:,} tasks | {s.points:,} points in {s.series} series | {s.log_lines:,} "
        f"console lines | {s.compare} tasks x {s.compare_metrics} metrics x {s.compare_points} points; baseline = "
        f"{s.base_tasks} tasks | {s.base_points:,} points | {s.base_log_lines:,} lines | {s.base_compare} tasks; "
        f"medians of up to {s.reps} runs{' after a warm-up' if s.warm_up else ', no warm-up (--quick)'}",
        "",
        f"{'measure':<56} {'baseline':>10} {'baseline*':>10} {'big':>10} {'big/base':>9} {'target':>8}  "
        f"{'runs':>4}  met",
    ]
    for fig in bench.figures.values():
        ratio = f"{fig.ratio:.1f}" if fig.ratio is not None else "-"
        target = sec(fig.target_s) if fig.target_s else "-"
        big = fig.median("big")
        met = "FAILED" if fig.failed else "-" if big is None or not fig.target_s else (
            "yes" if big <= fig.target_s else "NO")
        runs = len(fig.samples.get("big", []))
        lines.append(f"{fig.name:<56} {sec(fig.median('base')):>10} {sec(fig.median('base*')):>10} "
                     f"{sec(big):>10} {ratio:>9} {target:>8}  {runs:>4}  {met}")
    lines += ["", "baseline*: the baseline measured again once the big data was seeded beside it (same collections)"]
    notes = [f"  {fig.name}: {note}" for fig in bench.figures.values() for note in fig.notes]
    notes += store_limits(bench)
    if notes:
        lines += ["", "notes:", *notes]
    lines += ["", "seeding (s): " + ", ".join(f"{what} {secs:.0f}" for what, secs in bench.seeding.items())]
    failures = [f"{fig.name}: {fig.failed}" for fig in bench.figures.values() if fig.failed]
    lines.append("checks: " + ("all passed" if not failures else "FAILED\n  " + "\n  ".join(failures)))
    return "\n".join(lines)


def store_limits(bench: Bench) -> list[str]:
    """Where the store, not our code, sets the figure: said in the output with what it would take."""
    store = bench.figures.get("store alone: tasks page (index fields, sort, limit 30)")
    table = bench.figures.get("server: table first page (30 rows by last update)")
    notes = []
    if store and store.median("big") is not None and store.median("big") > 0.25:
        notes.append(
            f"  store limit: secantusdb reads every document under the index prefix (company, project) and sorts "
            f"them in memory before applying the limit: {store.median('big'):.2f} s for one page of a "
            f"{bench.sizes.tasks:,}-task project before the API does anything. A store that walks the "
            f"(company, project, last_update) index in order and stops at 30 (MongoDB) takes milliseconds; "
            f"on secantusdb only a range on last_update bounds the read (a windowed query in the API).")
    if table and table.median("base*") and table.median("base") and table.median("base*") > 3 * table.median("base"):
        notes.append(
            f"  store limit: queries secantusdb cannot serve from an index ($and/$or wrappers, $in on company, "
            f"any predicate outside the index) read the whole collection: the {bench.sizes.base_tasks}-task "
            f"project's first page went from {table.median('base'):.2f} s to {table.median('base*'):.2f} s once "
            f"the big project was stored beside it. The API would need plain equality filters on the index's "
            f"fields (and the rest applied after the read) to avoid it.")
    seeded = bench.seeding.get(f"big: {bench.sizes.points:,} scalar points")
    if seeded and bench.sizes.points / seeded < 2000:
        notes.append(
            f"  ingestion: the API's own ingestion stored {bench.sizes.points / seeded:,.0f} scalar points/s here "
            f"(events, log numbering, last_metrics and the scalar bucket pyramid that makes charts independent "
            f"of the series' length); a million points take {1e6 / (bench.sizes.points / seeded) / 60:,.0f} min. "
            f"The pyramid's upserts of many $min/$max fields cost secantusdb most of it.")
    return notes


# ---- running -----------------------------------------------------------------------------------------------
def measure_side(bench: Bench, web, stack: Stack, mongo, which: str, data: DataSet, browser: bool) -> None:
    print(f"server time: {which}", file=sys.stderr)
    store_figures(bench, mongo["backend"], which, data)
    server_figures(bench, web, which, data)
    if browser:
        from webapp_browser import browser_figures

        print(f"browser time: {which}", file=sys.stderr)
        browser_figures(bench, stack.web, which, data)


def run(sizes: Sizes, work: Path, api_direct: bool = False) -> Bench:
    bench = Bench(sizes)
    stack = start_stack(work)
    try:
        api = Api.login(stack.web.api_url, stack.web.api_key, stack.web.api_secret)
        mongo = pymongo.MongoClient("127.0.0.1", stack.mongo_port, directConnection=True, tz_aware=True,
                                    retryWrites=False)  # as the suite connects (servers.mongo_env)
        seeder = Seeder(api, mongo["backend"])
        web = DirectSession(api) if api_direct else WebSession(stack.web)
        browser = sizes.browser and not api_direct
        # The baseline is measured alone first, then again once the big data sits beside it in the same
        # collections ("base*"): what the data's mere presence costs a small project.
        base = seed(seeder, bench, "base", sizes.base_tasks, sizes.base_points, sizes.base_log_lines,
                    sizes.base_compare)
        measure_side(bench, web, stack, mongo, "base", base, browser)
        big = seed(seeder, bench, "big", sizes.tasks, sizes.points, sizes.log_lines, sizes.compare)
        measure_side(bench, web, stack, mongo, "big", big, browser)
        measure_side(bench, web, stack, mongo, "base*", base, False)
        mongo.close()
    finally:
        stack.stop()
    return bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for make test)")
    parser.add_argument("--api-direct", action="store_true",
                        help="server time of the API itself, without the web app (no browser figures)")
    parser.add_argument("--json", type=Path, help="also write the samples here")
    args = parser.parse_args(argv)
    sizes = sizes_from_env(args.quick)
    # SIGTERM (a test's timeout) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="bench-webapp-") as work:
        bench = run(sizes, Path(work), args.api_direct)
    print(report(bench))
    if args.json:
        write_samples(args.json, sizes, bench)
    return 0 if not any(f.failed for f in bench.figures.values()) else 1


def write_samples(path: Path, sizes, bench) -> None:
    """A run's sizes, seeding times and every figure's samples as JSON (bench_webapp and bench_scale)."""
    path.write_text(json.dumps({"sizes": asdict(sizes), "seeding_s": bench.seeding,
                                "figures": [asdict(f) for f in bench.figures.values()]}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
