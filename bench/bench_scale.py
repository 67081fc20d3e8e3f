#!/usr/bin/env python3
"""Do the web app's queries stay fast as the tasks grow? The same queries at 1,000 / 10,000 / 100,000 tasks in
one run, with the ratio of the largest size to the smallest (issue 18, "queries that do not grow with the
collection").

The stack is the embedded default as the tests start it: the Mongo-wire server (secantusdb), Valkey and the API
(gunicorn, 2 workers x 8 threads). Tasks are seeded incrementally (first size, measure, add up to the next
size, measure, ...) by bench/webapp_seed.py's Seeder: one template task per project made through the API
(hyperparameters, scalars through events.add_batch), cloned with varied names, statuses, types, users, tags,
metric values, hyperparameter values and times over a year, written with insert_many. Here the tasks are
spread over PROJECTS projects of falling sizes (project i gets a share proportional to 1/(i+1): the biggest
holds about a fifth), with 10 users, 30 distinct tags and hyperparameters in three sections.

Each figure is the server time of one API call (wall time of the HTTP request to the API on localhost),
the median of up to REPS runs after one warm-up run (not counted), within a budget per figure (a slow call
is measured fewer times, at least once). The bodies are the web app's own (services/webapp/.../views/tasks.js
taskQuery, views/projects.js projectsBody, the tags/users/metric/hyperparameter pickers): the tasks table's
first page (30 rows by
last_update, the default columns' only_fields, not archived) in the biggest project and in the all-projects
view, sorted by name and by started, filtered by status / type / tag, searched; the projects page
(projects.get_all_ex with include_stats); the listings behind the table's filters and column picker (and the
project's tags listing timed with a tag edit there just before it, swapping common tags and dropping a tag no
other task has); one task by id; and deletes: tasks.delete of a task with DELETE_EVENTS events, projects.delete of a project of
DELETE_TASKS tasks (each delete is measured on its own freshly seeded victim).

Sizes come from the arguments or the environment:

    --steps 1000,10000,100000   TRACKSIDE_SCALE_STEPS     the task counts, measured in order
    TRACKSIDE_SCALE_PROJECTS (50) TRACKSIDE_SCALE_REPS (5) TRACKSIDE_SCALE_BUDGET_S (20: seconds per figure)
    TRACKSIDE_SCALE_DELETE_EVENTS (2000) TRACKSIDE_SCALE_DELETE_TASKS (100)

Run:
    make bench-scale                                   # 1k / 10k / 100k (seeding 100k takes a few minutes)
    .venv/bin/python bench/bench_scale.py --quick      # 200 / 1,000 tasks; runs inside make test
    .venv/bin/python bench/bench_scale.py --steps 1000,10000 --out /tmp/scale.txt
    .venv/bin/python bench/bench_scale.py --only tags,users,metrics,hyperparams   # the listings only

The aim: the largest size within 2x of the smallest, and the table's first page under 100 ms at 100,000.
Exit code 1 when a check fails (a call answered with an error or an unexpected answer); an aim missed is
reported, not failed. Expect 20-40% run-to-run variation on a shared 2-core machine.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import pymongo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters
sys.path.insert(0, str(ROOT / "bench"))

from bench_webapp import SEARCH_FIELDS, table_request, write_samples  # noqa: E402
from support.suite import start_api, start_mongo, start_redis, stop_together  # noqa: E402
from webapp_seed import TAGS, Api, Seeder  # noqa: E402

from trackside.api.bll.listing_summaries import ListingSummaries  # noqa: E402
from trackside.shared.ids import new_id  # noqa: E402

TARGET_RATIO = 2.0
PAGE_TARGET_S = 0.1  # the first table page at the largest size
MORE_USERS = ("frank", "grace", "heidi", "ivan", "judy")  # with webapp_seed's five: ten users
MORE_TAGS = ("cifar", "imagenet", "coco", "squad", "mnist", "distill", "prune", "quant", "sgd", "cosine-lr")
ALL_TAGS = TAGS + MORE_TAGS  # 30 distinct tags
# Two more hyper-parameter sections beside the template's "Args" (as the SDK reports them).
EXTRA_PARAMS = (("General", "seed", "int"), ("General", "precision", "str"), ("Data", "dataset", "str"),
                ("Data", "augment", "bool"), ("Data", "num_workers", "int"))
PARAM_VALUES = {"seed": ("1", "2", "3", "42"), "precision": ("fp32", "fp16", "bf16"),
                "dataset": ("cifar10", "imagenet", "coco", "squad"), "augment": ("true", "false"),
                "num_workers": ("2", "4", "8")}
INSERT_BATCH = 5_000


@dataclass(frozen=True)
class Sizes:
    steps: tuple[int, ...] = (1_000, 10_000, 100_000)
    projects: int = 50
    reps: int = 5
    budget_s: float = 20.0  # per figure and step: a slow call is measured fewer times
    warm_up: bool = True
    delete_events: int = 2_000
    delete_tasks: int = 100


QUICK = dict(steps=(200, 1_000), projects=5, reps=1, warm_up=False, delete_events=100, delete_tasks=10)
ENV = {"projects": "TRACKSIDE_SCALE_PROJECTS", "reps": "TRACKSIDE_SCALE_REPS", "budget_s": "TRACKSIDE_SCALE_BUDGET_S",
       "delete_events": "TRACKSIDE_SCALE_DELETE_EVENTS", "delete_tasks": "TRACKSIDE_SCALE_DELETE_TASKS"}


def parse_steps(text: str) -> tuple[int, ...]:
    steps = tuple(int(s.replace("_", "")) for s in text.split(",") if s.strip())
    if not steps or list(steps) != sorted(set(steps)) or steps[0] < 1:
        raise SystemExit(f"steps: increasing positive task counts, e.g. 1000,10000,100000 (got {text!r})")
    return steps


def sizes_from(quick: bool, steps: str | None) -> Sizes:
    sizes = Sizes(**QUICK) if quick else Sizes()
    overrides: dict = {name: type(getattr(sizes, name))(os.environ[var].replace("_", ""))
                       for name, var in ENV.items() if os.environ.get(var)}
    steps = steps or os.environ.get("TRACKSIDE_SCALE_STEPS")
    if steps:
        overrides["steps"] = parse_steps(steps)
    return replace(sizes, **overrides)


# ---- seeding -------------------------------------------------------------------------------------------------
class ScaleSeeder(Seeder):
    """webapp_seed's Seeder with ten users, thirty tags and hyperparameters in three sections."""

    def _users(self) -> list[str]:
        ids = super()._users()
        for name in MORE_USERS:
            user = f"bench-{name}-{new_id()[:8]}"
            self.api.call("users.create", id=user, company=self.company, name=name.capitalize())
            ids.append(user)
        return ids

    def template_task(self, project: str, name: str, scalars: bool = True) -> dict:
        task = super().template_task(project, name, scalars)
        self.api.call("tasks.edit_hyper_params", task=task["_id"], hyperparams=[
            {"section": section, "name": param, "value": PARAM_VALUES[param][0], "type": kind}
            for section, param, kind in EXTRA_PARAMS])
        return self.db.tasks.find_one({"_id": task["_id"]})

    def _clone(self, template: dict, i: int, prefix: str) -> dict:
        doc = super()._clone(template, i, prefix)
        doc["tags"] = self.rng.sample(ALL_TAGS, self.rng.randint(0, 3))
        for section, param, _ in EXTRA_PARAMS:
            item = doc["hyperparams"].get(section, {}).get(param)
            if item:
                item["value"] = self.rng.choice(PARAM_VALUES[param])
        return doc


@dataclass
class ProjectSet:
    """The projects and how many tasks each holds; project 0 is the biggest."""
    ids: list[str]
    templates: list[dict]
    counts: list[int]
    weights: list[float]
    cloned: int = 0  # clones made so far (numbers their names)

    def targets(self, total: int) -> list[int]:
        """Tasks per project for ``total`` in all: shares by weight, the rounding remainder to the biggest."""
        share = [int(total * w) for w in self.weights]
        share[0] += total - sum(share)
        return [max(s, have) for s, have in zip(share, self.counts)]


def make_projects(seeder: ScaleSeeder, count: int, tag: str) -> ProjectSet:
    raw = [1 / (i + 1) for i in range(count)]
    weights = [w / sum(raw) for w in raw]
    ids, templates = [], []
    for i in range(count):
        project = seeder.project(f"scale {tag} project {i:02d}")
        ids.append(project)
        templates.append(seeder.template_task(project, f"p{i:02d}-template"))
    return ProjectSet(ids, templates, [1] * count, weights)


def insert_clones(seeder: ScaleSeeder, docs: list[dict]) -> None:
    """Written straight to the store, past the API: the listing summaries of their projects are invalidated
    as the API's own writes do (bll/listing_watch.py)."""
    seeder.db.tasks.insert_many(docs, ordered=False)
    ListingSummaries(seeder.db).invalidate("tasks", seeder.company, {d["project"] for d in docs})


def grow(seeder: ScaleSeeder, projects: ProjectSet, total: int) -> None:
    """Clone tasks into the projects until they hold ``total`` tasks, in insert_many batches."""
    docs: list[dict] = []
    for p, (target, have) in enumerate(zip(projects.targets(total), projects.counts)):
        for _ in range(target - have):
            projects.cloned += 1
            docs.append(seeder._clone(projects.templates[p], projects.cloned, f"p{p:02d}"))
            if len(docs) == INSERT_BATCH:
                insert_clones(seeder, docs)
                docs = []
        projects.counts[p] = target
    if docs:
        insert_clones(seeder, docs)


def delete_victims(seeder: ScaleSeeder, sizes: Sizes, count: int, tag: str) -> tuple[list[str], list[str]]:
    """``count`` tasks with ``delete_events`` scalar events each, and ``count`` projects of ``delete_tasks``
    tasks each: what the delete figures delete, one per run."""
    home = seeder.project(f"scale {tag} deletes")
    tasks = []
    for n in range(count):
        task = seeder.template_task(home, f"delete-me-{n}", scalars=False)["_id"]
        seeder.scalars(task, sizes.delete_events, series=4)
        tasks.append(task)
    projects = []
    for n in range(count):
        project = seeder.project(f"scale {tag} doomed {n}")
        template = seeder.template_task(project, f"doomed-{n}-template")
        insert_clones(seeder, [seeder._clone(template, i, f"doomed-{n}") for i in range(1, sizes.delete_tasks)])
        projects.append(project)
    return tasks, projects


# ---- measuring ---------------------------------------------------------------------------------------------
@dataclass
class Figure:
    name: str
    samples: dict[int, list[float]] = field(default_factory=dict)  # step (task count) -> seconds
    failed: str | None = None

    def median(self, step: int) -> float | None:
        values = self.samples.get(step)
        return statistics.median(values) if values else None

    def ratio(self, steps: tuple[int, ...]) -> float | None:
        first, last = self.median(steps[0]), self.median(steps[-1])
        return last / first if first and last is not None and len(steps) > 1 else None


class Bench:
    def __init__(self, sizes: Sizes, only: tuple[str, ...] = (), progress: Callable[["Bench"], None] | None = None):
        self.sizes = sizes
        self.only = only  # name prefixes of the figures to measure (all when empty)
        self.progress = progress or (lambda bench: None)  # after each figure: a long run's partial table
        self.figures: dict[str, Figure] = {}
        self.seeding: dict[str, float] = {}

    def wanted(self, name: str) -> bool:
        return not self.only or name.startswith(self.only)

    def timed(self, name: str, step: int, run: Callable[[], float]) -> None:
        """Samples of ``run`` (which returns its own seconds): one warm-up unless --quick, never counted (the
        first listing read after a bulk load rebuilds its summaries), then up to ``reps`` runs while the
        figure's budget lasts (at least one)."""
        fig = self.figures.setdefault(name, Figure(name))
        try:
            spent = run() if self.sizes.warm_up else 0.0
            samples: list[float] = []
            while len(samples) < self.sizes.reps and (not samples or spent < self.sizes.budget_s):
                samples.append(run())
                spent += samples[-1]
            fig.samples[step] = samples
        except Exception as exc:  # reported as failed; the other figures still run
            fig.failed = f"at {step:,}: {exc}"[:300]
            print(f"  ! {name} at {step:,}: {exc}", file=sys.stderr)
        self.progress(self)

    def once_each(self, name: str, step: int, runs: list[Callable[[], float]]) -> None:
        """One sample from each of ``runs`` (deletes: each deletes something of its own)."""
        fig = self.figures.setdefault(name, Figure(name))
        try:
            fig.samples[step] = [run() for run in runs]
        except Exception as exc:
            fig.failed = f"at {step:,}: {exc}"[:300]
            print(f"  ! {name} at {step:,}: {exc}", file=sys.stderr)
        self.progress(self)

    def seeded(self, what: str, started: float) -> None:
        self.seeding[what] = time.perf_counter() - started
        print(f"seeded {what} in {self.seeding[what]:.1f} s", file=sys.stderr)


def api_call(api: Api, endpoint: str, body: dict, check: Callable[[dict], bool]) -> Callable[[], float]:
    def run() -> float:
        t0 = time.perf_counter()
        answer = api.call(endpoint, **body)
        took = time.perf_counter() - t0
        if not check(answer):
            raise AssertionError(f"{endpoint}: unexpected answer {json.dumps(answer)[:300]}")
        return took
    return run


# ---- the queries -------------------------------------------------------------------------------------------
# The projects page's body (views/projects.js projectsBody, top level, no search).
PROJECTS_PAGE = {
    "stats_for_state": "active", "include_stats": True,
    "include_stats_filter": {"system_tags": ["-pipeline", "-dataset", "-Annotation", "-report"]},
    "shallow_search": True, "search_hidden": False, "size": 50, "scroll_id": None, "order_by": ["featured", "name"],
    "only_fields": ["id", "name", "basename", "description", "company", "user", "created", "last_update",
                    "system_tags", "default_output_destination"],
}


def all_projects_table(**extra) -> dict:
    """The all-projects view (/projects/*/tasks): the table's body without a project."""
    body = table_request("", **extra)
    del body["project"]
    return body


def query_figures(bench: Bench, api: Api, step: int, projects: ProjectSet) -> None:
    big = projects.ids[0]
    page = lambda a: len(a["tasks"]) == 30  # noqa: E731
    some = lambda key: (lambda a: len(a[key]) > 0)  # noqa: E731
    search = projects.templates[0]["name"]  # "p00-000000": a pattern only the template matches
    search_hit = lambda a: [t["name"] for t in a["tasks"]] == [search]  # noqa: E731
    queries: list[tuple[str, str, dict, Callable[[dict], bool]]] = [
        ("table: first page, biggest project", "tasks.get_all_ex", table_request(big), page),
        ("table: first page, all projects", "tasks.get_all_ex", all_projects_table(), page),
        ("table: sorted by name", "tasks.get_all_ex", table_request(big, order_by=["name"]), page),
        ("table: sorted by started", "tasks.get_all_ex", table_request(big, order_by=["-started"]), page),
        ("table: status filter (failed)", "tasks.get_all_ex", table_request(big, status=["failed"]),
         lambda a: a["tasks"] and all(t["status"] == "failed" for t in a["tasks"])),
        ("table: type filter (testing)", "tasks.get_all_ex", table_request(big, type=["testing"]),
         lambda a: a["tasks"] and all(t["type"] == "testing" for t in a["tasks"])),
        ("table: tag filter (any of bert)", "tasks.get_all_ex",
         table_request(big, filters={"tags": {"any": {"include": ["bert"], "exclude": []}}}),
         lambda a: a["tasks"] and all("bert" in t["tags"] for t in a["tasks"])),
        ("table: search (a task's name)", "tasks.get_all_ex",
         table_request(big, _any_={"pattern": search, "fields": SEARCH_FIELDS}), search_hit),
        ("projects page (get_all_ex, include_stats)", "projects.get_all_ex", PROJECTS_PAGE, some("projects")),
        ("tags: projects.get_task_tags, project", "projects.get_task_tags", {"projects": [big]}, some("tags")),
        ("tags: projects.get_task_tags, all", "projects.get_task_tags", {}, some("tags")),
        ("tags: organization.get_tags", "organization.get_tags", {}, some("tags")),
        ("users: projects.get_user_names, project", "projects.get_user_names", {"projects": [big]}, some("users")),
        ("users: projects.get_user_names, all", "projects.get_user_names", {}, some("users")),
        ("metrics: get_unique_metric_variants, project", "projects.get_unique_metric_variants", {"project": big},
         some("metrics")),
        ("metrics: get_unique_metric_variants, all", "projects.get_unique_metric_variants", {}, some("metrics")),
        ("hyperparams: get_hyper_parameters, project", "projects.get_hyper_parameters",
         {"project": big, "page_size": 500}, some("parameters")),
        ("hyperparams: get_hyper_parameters, all", "projects.get_hyper_parameters",
         {"project": "", "page_size": 500}, some("parameters")),
        ("hyperparams: get_hyperparam_values, project", "projects.get_hyperparam_values",
         {"section": "Args", "name": "lr", "page_size": 200, "projects": [big]}, some("values")),
        ("hyperparams: get_hyperparam_values, all", "projects.get_hyperparam_values",
         {"section": "Args", "name": "lr", "page_size": 200}, some("values")),
        ("tasks.get_by_id", "tasks.get_by_id", {"task": projects.templates[-1]["_id"]},
         lambda a: a["task"]["id"] == projects.templates[-1]["_id"]),
    ]
    for name, endpoint, body, check in queries:
        if bench.wanted(name):
            print(f"  {name}", file=sys.stderr)
            bench.timed(name, step, api_call(api, endpoint, body, check))

    # A tag edit drops the old tags from the project's summary once no other task there carries them: the
    # check stops at the first other holder of a common tag, and reads the project for a tag nobody else has.
    edited, edits = projects.templates[0]["_id"], iter(range(10**6))

    def tags_after_edit(tags: Callable[[int], list[str]]) -> Callable[[], float]:
        def run() -> float:  # the edit and the listing after it: either may pay for the change
            t0 = time.perf_counter()
            api.call("tasks.update", task=edited, tags=tags(next(edits)))
            return time.perf_counter() - t0 + api_call(api, "projects.get_task_tags", {"projects": [big]},
                                                       some("tags"))()
        return run

    for name, tags in (("tag edit + get_task_tags (common tags)", lambda n: [ALL_TAGS[n % 2]]),
                       ("tag edit + get_task_tags (a unique tag)", lambda n: [f"edited-{n}"])):
        if bench.wanted(name):
            bench.timed(name, step, tags_after_edit(tags))


def delete_figures(bench: Bench, seeder: ScaleSeeder, api: Api, step: int) -> None:
    if not (bench.wanted("tasks.delete") or bench.wanted("projects.delete")):
        return
    count = max(1, bench.sizes.reps)
    t0 = time.perf_counter()
    tasks, projects = delete_victims(seeder, bench.sizes, count, f"{step}-{secrets.token_hex(2)}")
    bench.seeded(f"at {step:,}: {count} delete victims", t0)
    deleted = lambda a: a.get("deleted") in (1, True)  # noqa: E731
    bench.once_each(f"tasks.delete, {bench.sizes.delete_events:,} events", step, [
        api_call(api, "tasks.delete", {"task": task, "force": True}, deleted) for task in tasks])
    bench.once_each(f"projects.delete, {bench.sizes.delete_tasks:,} tasks", step, [
        api_call(api, "projects.delete", {"project": project, "force": True, "delete_contents": True},
                 lambda a: a.get("deleted") == 1) for project in projects])


# ---- report ------------------------------------------------------------------------------------------------
def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


def report(bench: Bench) -> str:
    s = bench.sizes
    steps = s.steps
    last = steps[-1]
    lines = [
        f"scale: {' / '.join(f'{n:,}' for n in steps)} tasks over {s.projects} projects (biggest: about "
        f"{1 / sum(1 / (i + 1) for i in range(s.projects)):.0%}); server time, medians of up to {s.reps} runs"
        f"{' after a warm-up' if s.warm_up else ' (no warm-up)'}, {s.budget_s:.0f} s budget a figure",
        "",
        f"{'query':<46} " + " ".join(f"{f'{n:,}':>10}" for n in steps) + f" {f'{last:,}/{steps[0]:,}':>13}  aim",
    ]
    for fig in bench.figures.values():
        ratio = fig.ratio(steps)
        aim = "FAILED" if fig.failed else "-" if ratio is None else "met" if ratio < TARGET_RATIO else "NO"
        lines.append(f"{fig.name:<46} " + " ".join(f"{ms(fig.median(n)):>10}" for n in steps)
                     + f" {f'{ratio:.1f}x' if ratio is not None else '-':>13}  {aim}")
    page = bench.figures.get("table: first page, biggest project")
    if page and page.median(last) is not None:
        met = "met" if page.median(last) < PAGE_TARGET_S else "missed"
        lines += ["", f"first table page at {last:,} tasks: {ms(page.median(last))} (aim < "
                      f"{PAGE_TARGET_S * 1000:.0f} ms: {met})"]
    lines += ["", f"aim: {last:,}/{steps[0]:,} under {TARGET_RATIO:.0f}x",
              "seeding (s): " + ", ".join(f"{what} {secs:.0f}" for what, secs in bench.seeding.items())]
    failures = [f"{fig.name}: {fig.failed}" for fig in bench.figures.values() if fig.failed]
    lines.append("checks: " + ("all passed" if not failures else "FAILED\n  " + "\n  ".join(failures)))
    return "\n".join(lines)


# ---- running -----------------------------------------------------------------------------------------------
def run(sizes: Sizes, work: Path, progress: Callable[[Bench], None], only: tuple[str, ...] = ()) -> Bench:
    bench = Bench(sizes, only, progress)
    mongo = start_mongo(work)
    servers = [mongo]
    try:
        servers.append(start_redis(work / "redis"))
        api_server = start_api(mongo.port, work / "api", redis_port=servers[-1].port)
        servers.append(api_server.process)
        api = Api.login(api_server.url, api_server.key, api_server.secret)
        client = pymongo.MongoClient("127.0.0.1", mongo.port, directConnection=True, tz_aware=True,
                                     retryWrites=False)  # as the suite connects (servers.mongo_env)
        seeder = ScaleSeeder(api, client["backend"])
        seeder.rng.seed(18)
        t0 = time.perf_counter()
        projects = make_projects(seeder, sizes.projects, secrets.token_hex(3))
        bench.seeded(f"{sizes.projects} projects with a template task each", t0)
        for step in sizes.steps:
            t0 = time.perf_counter()
            grow(seeder, projects, step)
            bench.seeded(f"to {step:,} tasks", t0)
            print(f"measuring at {step:,} tasks", file=sys.stderr)
            query_figures(bench, api, step, projects)
            delete_figures(bench, seeder, api, step)
        client.close()
    finally:
        stop_together(list(reversed(servers)))
    return bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for make test)")
    parser.add_argument("--steps", help="task counts to measure at, e.g. 1000,10000,100000")
    parser.add_argument("--json", type=Path, help="also write the samples here")
    parser.add_argument("--out", type=Path, help="also write the table here, rewritten after each figure")
    parser.add_argument("--only", help="measure only the figures whose names start with these (comma-separated), "
                                       "e.g. 'tags,users,metrics,hyperparams'")
    args = parser.parse_args(argv)
    sizes = sizes_from(args.quick, args.steps)
    # SIGTERM (a test's timeout) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def progress(bench: Bench) -> None:
        if args.out:
            args.out.write_text(report(bench) + "\n")

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        only = tuple(s.strip() for s in (args.only or "").split(",") if s.strip())
        bench = run(sizes, Path(work), progress, only)
    print(report(bench))
    if args.json:
        write_samples(args.json, sizes, bench)
    return 0 if not any(f.failed for f in bench.figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
