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
    .venv/bin/python bench/bench_docker.py --quick     # sanity run (1 measured task each, requirement: six);
                                                       # make test runs it
                                                       # on its own engine: --docker-host URL --image NAME
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's server starters, agent harness and docker engine

from support.docker_engine import DockerEngine, DockerUnavailable  # noqa: E402
from support.our_agent import WHEELHOUSE, AgentHome  # noqa: E402
from task_start import QUICK_REQUIREMENTS, REQUIREMENTS, add_api_argument, bench_queues, measure, stack  # noqa: E402

FULL, QUICK = 5, 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sanity run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--docker-host", help="use this running engine (with --image) instead of starting one")
    parser.add_argument("--image", help="with --docker-host: the image the tasks run in")
    add_api_argument(parser)
    args = parser.parse_args(argv)
    if bool(args.docker_host) != bool(args.image):
        parser.error("--docker-host and --image go together")
    if not WHEELHOUSE.is_dir():
        print(f"{WHEELHOUSE} is missing: run `make setup`", file=sys.stderr)
        return 2
    runs = QUICK if args.quick else FULL
    requirements = QUICK_REQUIREMENTS if args.quick else REQUIREMENTS
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
        server, api = stack(args, work, servers)
        queues = bench_queues(api, "venv", "docker")
        home = AgentHome.create(work / "agent", server, {"extra_docker_arguments": ["--network", "host"]},
                                extra_env=docker_env)

        venv_daemon = home.start_daemon("--queue", queues["venv"][0], name="venv-daemon")
        daemons.append(venv_daemon)
        venv = measure("venv", api, marks, queues["venv"][1], runs, requirements=requirements)
        venv_daemon.stop()

        docker_daemon = home.start_daemon("--queue", queues["docker"][0], "--docker", image, name="docker-daemon")
        daemons.append(docker_daemon)
        # The mark folder is mounted at its own path, so the task writes where this process reads.
        in_docker = measure("docker", api, marks, queues["docker"][1], runs,
                            {"image": image, "arguments": f"-v {marks}:{marks}"}, requirements=requirements)
        docker_daemon.stop()
    finally:
        for daemon in daemons:
            daemon.stop()
        for process in reversed(servers):
            process.stop()

    ratio = in_docker.median / venv.median
    print(f"enqueue to task start, warm caches ({runs} task(s) each, seconds):")
    for figures in (venv, in_docker):
        print(figures.line("caches filled"))
    print(f"  docker / venv: {ratio:.2f}x   (a container adds {in_docker.median - venv.median:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"venv": venv.as_dict(), "docker": in_docker.as_dict(),
                                               "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
