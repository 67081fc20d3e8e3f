#!/usr/bin/env python3
"""What a container costs: enqueue-to-task-start latency of `trackside-agent daemon --docker` against the
same daemon in venv mode, in one run, with warm caches.

Both modes run one after the other (never at once: two cores) on the same embedded stack (secantusdb,
Valkey with ACL users, the API) and a private dockerd (no bridge, no iptables; the local bookworm test
image, host networking):

  venv     `trackside-agent daemon --queue bench-venv`: the baseline
  docker   `trackside-agent daemon --queue bench-docker --docker <test image>`: each task in a container,
           this agent's wheels installed inside (kept on a cache mount), the venv from the mounted venv cache

The task is the same for both: a literal script whose requirements (clearml==2.1.12 and its dependencies,
offline from the wheelhouse that `make setup` fills) make a real venv. It writes time.time() to a file in a
folder the container mounts at the same path, so both are read on one clock. A warm-up run per mode fills
its caches (venv mode: the venv cache; docker mode: the agent's venv in the image and the venv cache for the
container's interpreter) and is reported as "cold"; each measured run then enqueues a fresh task.

Run:
    make bench-docker                                  # full run (5 measured tasks per mode, ~2 minutes)
    .venv/bin/python bench/bench_docker.py --quick     # sanity run (1 measured task each); make test runs it
                                                       # on its own engine: --docker-host URL --image NAME
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters, agent harness and docker engine

from support.client import ApiClient  # noqa: E402
from support.docker_engine import DockerEngine, DockerUnavailable  # noqa: E402
from support.our_agent import WHEELHOUSE, AgentHome  # noqa: E402
from support.suite import start_api, start_mongo, start_redis  # noqa: E402

REQUIREMENTS = "clearml==2.1.12\n"
JOB = """import pathlib, time
pathlib.Path({mark!r}).write_text(repr(time.time()))
"""
FULL, QUICK = 5, 1


@dataclass
class Figures:
    mode: str
    cold_sec: float = 0.0                       # the warm-up: caches filled
    warm_sec: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.warm_sec)

    def as_dict(self) -> dict:
        return {"median": self.median, "runs": self.warm_sec, "cold": self.cold_sec}


def create_task(api: ApiClient, name: str, marks: Path, image: str | None) -> tuple[str, Path]:
    mark = marks / f"{name}.mark"
    script = {"diff": JOB.format(mark=str(mark)), "entry_point": "bench_job.py", "working_dir": ".",
              "binary": "python3", "requirements": {"pip": REQUIREMENTS}}
    container = {"image": image, "arguments": f"-v {marks}:{marks}"} if image else {}
    return api.ok("tasks.create", name=name, type="training", script=script, container=container)["id"], mark


def run_once(api: ApiClient, queue: str, marks: Path, name: str, image: str | None, timeout: float = 900) -> float:
    task, mark = create_task(api, name, marks, image)
    sent = time.time()
    api.ok("tasks.enqueue", task=task, queue=queue)
    deadline = time.monotonic() + timeout
    while not mark.exists() or not mark.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the task did not start within {timeout:.0f} s")
        time.sleep(0.01)
    started = float(mark.read_text())
    while (status := api.ok("tasks.get_by_id", task=task)["task"]["status"]) not in ("completed", "failed", "stopped"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: the task did not end")
        time.sleep(0.2)
    if status != "completed":
        raise RuntimeError(f"{name}: ended {status}")
    return started - sent


def measure(mode: str, api: ApiClient, marks: Path, queue: str, runs: int, image: str | None) -> Figures:
    figures = Figures(mode)
    figures.cold_sec = run_once(api, queue, marks, f"{mode}-warmup", image)
    for i in range(runs):
        figures.warm_sec.append(run_once(api, queue, marks, f"{mode}-{i}", image))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sanity run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--docker-host", help="use this running engine (with --image) instead of starting one")
    parser.add_argument("--image", help="with --docker-host: the image the tasks run in")
    args = parser.parse_args(argv)
    if bool(args.docker_host) != bool(args.image):
        parser.error("--docker-host and --image go together")
    if not WHEELHOUSE.is_dir():
        print(f"{WHEELHOUSE} is missing: run `make setup`", file=sys.stderr)
        return 2
    runs = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="bench-docker-"))
    marks = work / "marks"
    for folder in (marks, work / "docker"):
        folder.mkdir()
    servers, daemons = [], []
    try:
        if args.docker_host:
            docker_env, image = {"DOCKER_HOST": args.docker_host}, args.image
        else:
            try:
                engine = DockerEngine(work / "docker").start()
            except DockerUnavailable as exc:
                print(f"no Docker Engine: {exc}", file=sys.stderr)
                return 2
            servers.append(engine)
            docker_env, image = engine.env(), engine.ensure_test_image()
        mongo = start_mongo(work / "mongo")
        servers.append(mongo)
        redis_server = start_redis(work / "redis")
        servers.append(redis_server)
        server = start_api(mongo.port, work / "api", redis_port=redis_server.port)
        servers.append(server.process)
        api = ApiClient(server.url, server.key, server.secret).login()
        queues = {name: api.ok("queues.create", name=name)["id"] for name in ("bench-venv", "bench-docker")}
        home = AgentHome.create(work / "agent", server, {"extra_docker_arguments": ["--network", "host"]},
                                extra_env=docker_env)

        venv_daemon = home.start_daemon("--queue", "bench-venv", name="venv-daemon")
        daemons.append(venv_daemon)
        venv = measure("venv", api, marks, queues["bench-venv"], runs, None)
        venv_daemon.stop()

        docker_daemon = home.start_daemon("--queue", "bench-docker", "--docker", image, name="docker-daemon")
        daemons.append(docker_daemon)
        in_docker = measure("docker", api, marks, queues["bench-docker"], runs, image)
        docker_daemon.stop()
    finally:
        for daemon in daemons:
            daemon.stop()
        for process in reversed(servers):
            process.stop()

    ratio = in_docker.median / venv.median
    print(f"enqueue to task start, warm caches ({runs} task(s) each, seconds):")
    for figures in (venv, in_docker):
        runs_text = ", ".join(f"{s:.2f}" for s in figures.warm_sec)
        print(f"  {figures.mode:<8} median {figures.median:6.2f}   runs [{runs_text}]   "
              f"cold (caches filled) {figures.cold_sec:6.2f}")
    print(f"  docker / venv: {ratio:.2f}x   (a container adds {in_docker.median - venv.median:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"venv": venv.as_dict(), "docker": in_docker.as_dict(),
                                               "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
