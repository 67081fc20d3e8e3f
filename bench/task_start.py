"""Enqueue-to-task-start latency, the measure `bench_agent.py` and `bench_docker.py` share: a literal-script
task whose requirements (clearml==2.1.12 and its dependencies, offline from the wheelhouse that `make setup`
fills) make a real venv, and whose first line writes time.time() to a mark file, read on the same clock as
the moment just before tasks.enqueue. A warm-up run fills the caches ("cold"); the measured runs follow.
Imported by those scripts, which put the suite's ``tests/`` folder on the path first."""
from __future__ import annotations

import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from support.client import ApiClient
from support.suite import start_api, start_mongo, start_redis

REQUIREMENTS = "clearml==2.1.12\n"
# --quick (the sanity runs inside make test): one small wheel instead of clearml's twenty-odd, so the cold
# builds take seconds, not half a minute; the same paths run (venv built, cached, restored).
QUICK_REQUIREMENTS = "six==1.17.0\n"
JOB = """import pathlib, time
pathlib.Path({mark!r}).write_text(repr(time.time()))
"""
ENDED = ("completed", "failed", "stopped")


API_KEY_ENV, API_SECRET_ENV = "TRACKSIDE_BENCH_API_KEY", "TRACKSIDE_BENCH_API_SECRET"


def add_api_argument(parser) -> None:
    parser.add_argument("--api-url", help=f"use this running API (credentials from ${API_KEY_ENV} and "
                                          f"${API_SECRET_ENV}) instead of starting secantusdb, Valkey and an API")


def stack(args, work: Path, servers: list):
    """The API of ``--api-url`` (the quick runs in make test use the suite's, not a stack of their own: its
    start and stop were seconds of each run), or a stack of its own (``start_stack``)."""
    if not args.api_url:
        return start_stack(work, servers)
    server = SimpleNamespace(url=args.api_url, key=os.environ[API_KEY_ENV], secret=os.environ[API_SECRET_ENV])
    return server, ApiClient(server.url, server.key, server.secret).login()


def bench_queues(api, *sides: str) -> dict[str, tuple[str, str]]:
    """A new queue per side of the bench, ``{side: (name, id)}``: unique names, as the API may be shared."""
    suffix = uuid.uuid4().hex[:8]
    names = {side: f"bench-{side}-{suffix}" for side in sides}
    return {side: (name, api.ok("queues.create", name=name)["id"]) for side, name in names.items()}


def start_stack(work: Path, servers: list):
    """secantusdb, Valkey with ACL users and the API under ``work``, each added to ``servers`` as it starts
    (the caller stops them, newest first). The API server and a logged-in client."""
    mongo = start_mongo(work / "mongo")
    servers.append(mongo)
    redis_server = start_redis(work / "redis")
    servers.append(redis_server)
    server = start_api(mongo.port, work / "api", redis_port=redis_server.port)
    servers.append(server.process)
    return server, ApiClient(server.url, server.key, server.secret).login()


@dataclass
class Figures:
    name: str
    cold_sec: float = 0.0                       # the warm-up: enqueue to task start, caches filled
    warm_sec: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.warm_sec)

    def as_dict(self) -> dict:
        return {"median": self.median, "runs": self.warm_sec, "cold": self.cold_sec}

    def line(self, cold_label: str) -> str:
        runs_text = ", ".join(f"{s:.2f}" for s in self.warm_sec)
        return (f"  {self.name:<10} median {self.median:6.2f}   runs [{runs_text}]   "
                f"cold ({cold_label}) {self.cold_sec:6.2f}")


def run_once(api, queue: str, marks: Path, name: str, container: dict | None = None,
             timeout: float = 900, requirements: str = REQUIREMENTS) -> float:
    """Seconds from enqueue to the task's first line; the task must end completed."""
    mark = marks / f"{name}.mark"
    script = {"diff": JOB.format(mark=str(mark)), "entry_point": "bench_job.py", "working_dir": ".",
              "binary": "python3", "requirements": {"pip": requirements}}
    task = api.ok("tasks.create", name=name, type="training", script=script, container=container or {})["id"]
    sent = time.time()
    api.ok("tasks.enqueue", task=task, queue=queue)
    deadline = time.monotonic() + timeout
    while not mark.exists() or not mark.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the task did not start within {timeout:.0f} s")
        time.sleep(0.01)
    started = float(mark.read_text())
    while (status := api.ok("tasks.get_by_id", task=task)["task"]["status"]) not in ENDED:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the task did not end")
        time.sleep(0.2)
    if status != "completed":
        raise RuntimeError(f"{name}: ended {status}")
    return started - sent


def measure(name: str, api, marks: Path, queue: str, runs: int, container: dict | None = None,
            requirements: str = REQUIREMENTS) -> Figures:
    figures = Figures(name)
    figures.cold_sec = run_once(api, queue, marks, f"{name}-warmup", container, requirements=requirements)
    for i in range(runs):
        figures.warm_sec.append(run_once(api, queue, marks, f"{name}-{i}", container, requirements=requirements))
    return figures
