"""``trackside-agent``: the verbs and flags of clearml-agent, so switching is a change of command name.

Each verb lives in its own module and is imported only when used (``init`` needs no server, ``list`` no
Redis); this file only parses arguments and reports configuration errors in one line.
"""
from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import PackageNotFoundError, version

from trackside.agent.config import ConfigError, load_config


def agent_version() -> str:
    try:
        return version("trackside-agent")
    except PackageNotFoundError:
        return "0.0.0"


def _common(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``daemon`` and ``execute`` (clearml-agent's worker arguments)."""
    parser.add_argument("--git-user", help="git user name for repository access")
    parser.add_argument("--git-pass", help="git password or personal access token for repository access")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"])
    parser.add_argument("--gpus", help="GPUs to use: 0 / 0,1 / 0-3 / all (sets CUDA_VISIBLE_DEVICES)")
    parser.add_argument("--cpu-only", action="store_true", help="no GPU for the tasks")
    parser.add_argument("--docker", nargs="*", default=False, metavar="IMAGE_AND_ARGS",
                        help="run each task in a container: the task's image, else IMAGE, else agent.default_docker")
    parser.add_argument("-O", dest="optimization", action="count", default=0, help="python -O for the task")
    parser.add_argument("--use-owner-token", action="store_true",
                        help="run each task with a token of its owner (auth.get_token_for_user: the agent's "
                             "credentials must be an administrator's), falling back to the agent's own")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trackside-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", help="clearml.conf to use (default: CLEARML_CONFIG_FILE or ~/clearml.conf)")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"trackside-agent {agent_version()}")
    verbs = parser.add_subparsers(dest="verb", metavar="{init,daemon,execute,build,list,config}")
    verbs.required = True

    init = verbs.add_parser("init", help="write ~/clearml.conf with an agent section (interactive wizard)")
    init.add_argument("--api-host", help="API server URL (non-interactive)")
    init.add_argument("--web-host", help="web server URL")
    init.add_argument("--files-host", help="file server URL")
    init.add_argument("--access-key", help="API access key (non-interactive)")
    init.add_argument("--secret-key", help="API secret key (non-interactive)")
    init.add_argument("--git-user", help="git user name")
    init.add_argument("--git-pass", help="git password or token")
    init.add_argument("--extra-index-url", action="append", default=None, help="extra pip index URL (repeatable)")
    init.add_argument("--non-interactive", action="store_true", help="take every answer from the flags")

    daemon = verbs.add_parser("daemon", help="serve queues: run each task they are given")
    daemon.add_argument("--queue", dest="queues", nargs="+", default=[],
                        help="queue names or ids, highest priority first (default: the default queue)")
    daemon.add_argument("--order-fairness", action="store_true", help="round-robin over the queues")
    daemon.add_argument("--create-queue", action="store_true", help="create the queues that do not exist")
    daemon.add_argument("--foreground", action="store_true", help="the tasks' output on this terminal too")
    daemon.add_argument("--detached", "-d", action="store_true", help="run in the background (PID and log file)")
    daemon.add_argument("--stop", nargs="*", default=False, metavar="WORKER_ID",
                        help="stop the detached agent started with the same arguments (or these worker ids)")
    daemon.add_argument("--services-mode", nargs="?", const=-1, type=int, default=None, metavar="N",
                        help="launch tasks without waiting for them, at most N at once (no limit without N)")
    daemon.add_argument("--child-report-tags", nargs="+", default=None, help="tags the task workers report")
    daemon.add_argument("--dynamic-gpus", action="store_true",
                        help="share --gpus between tasks: --queue quad=4 dual=2 opportunistic=1-4 (GPUs per task)")
    daemon.add_argument("--uptime", nargs="*", default=None, help='working hours, "<hours> <days>", e.g. "9-18 MON-FRI" (the rest is off)')
    daemon.add_argument("--downtime", nargs="*", default=None, help='off hours, "<hours> <days>", e.g. "22-6 SUN-SAT" (the rest is on)')
    daemon.add_argument("--status", action="store_true", help="print the worker's schedule and queues")
    daemon.add_argument("--polling-interval", type=int, default=5,
                        help="accepted for compatibility: work arrives by subscription, not polling")
    daemon.add_argument("--force-current-version", action="store_true", help="docker: this agent's version inside")
    _common(daemon)

    execute = verbs.add_parser("execute", help="build a task's environment and run it here")
    execute.add_argument("--id", dest="task_id", required=True, help="the task to run")
    execute.add_argument("--clone", action="store_true", help="run a clone of the task instead")
    execute.add_argument("--log-file", help="also write the task's output to this file")
    execute.add_argument("--disable-monitoring", action="store_true", help="no log streaming or stop watching")
    execute.add_argument("--full-monitoring", action="store_true", help="set by the daemon for its children")
    execute.add_argument("--require-queue", action="store_true", help="fail unless the task is queued")
    execute.add_argument("--standalone-mode", action="store_true", help="install nothing: use the environment as is")
    execute.add_argument("--log-to-stdout", action="store_true", help=argparse.SUPPRESS)  # the agent in a container
    execute.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)   # `build`, in the image

    build = verbs.add_parser("build", help="build a docker image with a task's environment (and entry point)")
    build.add_argument("--id", dest="task_id", required=True, help="the task whose environment to build")
    build.add_argument("--docker", nargs="*", default=[], metavar="IMAGE_AND_ARGS",
                       help="base image (default: the task's container.image, else agent.default_docker)")
    build.add_argument("--target", required=True, help="the image to create, NAME[:TAG]")
    build.add_argument("--entry-point", choices=["reuse_task", "clone_task"], default=None,
                       help="make the image run the task (reuse_task) or a clone of it (clone_task) when started")
    build.add_argument("--log-level", default="INFO", type=str.upper,
                       choices=["DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL"])
    _common(execute)

    listing = verbs.add_parser("list", help="workers and what they are doing")
    listing.add_argument("--json", action="store_true", help="machine-readable output")

    printout = verbs.add_parser("config", help="print the effective configuration, secrets hidden")
    printout.add_argument("--json", action="store_true", help="the configuration tree as JSON")
    return parser


# Flags whose values are generated secrets: a value that begins with "-" still belongs to the flag.
_SECRET_FLAGS = ("--secret-key", "--git-pass", "--access-key")


def _join_secret_values(argv: list[str]) -> list[str]:
    """``--secret-key -abc`` as ``--secret-key=-abc``: argparse would read ``-abc`` as an unknown flag."""
    joined, i = [], 0
    while i < len(argv):
        if argv[i] in _SECRET_FLAGS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            joined.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        joined.append(argv[i])
        i += 1
    return joined


def main(argv: list[str] | None = None) -> int:
    argv = _join_secret_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    args.argv = argv  # daemon --detached re-launches itself with them
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.verb == "init":
            from trackside.agent.init_wizard import run_init
            return run_init(args)
        config = load_config(args.config_file)
        if args.verb == "daemon":
            from trackside.agent.daemon import run_daemon
            return run_daemon(args, config)
        if args.verb == "execute":
            from trackside.agent.execute import run_execute
            return run_execute(args, config)
        if args.verb == "build":
            from trackside.agent.docker.build import run_build
            return run_build(args, config)
        if args.verb == "list":
            from trackside.agent.list_workers import run_list
            return run_list(args, config)
        from trackside.agent.config.printout import print_config
        return print_config(config, json_output=args.json)
    except ConfigError as exc:
        print(f"trackside-agent: configuration error: {exc}", file=sys.stderr)
        return 2
