"""``trackside-agent execute``: build a task's environment and run it here (``runner.TaskRunner``).

Modules: ``code`` (+ ``vcs``) puts the code on disk, ``environment`` builds the venv, ``runner`` drives the
task's statuses, ``launch`` makes the task's command line and environment, ``process`` runs and ends the
task's process tree, ``log_stream`` turns its output into log events, ``stop_watch`` notices stop requests,
``heartbeat`` pings, ``slots`` hands out venv build folders.

Exit codes (the daemon's contract): 0 completed, 1 failed, 2 stopped (also on SIGTERM/SIGINT), 3 agent error;
flags this verb cannot serve also exit with 2, as everywhere in the CLI (the daemon never passes them).
"""
from __future__ import annotations

import os
import sys

from trackside.agent.config import AgentConfig
from trackside.agent.gpus import GpuSpecError, select_gpus


def run_execute(args, config: AgentConfig) -> int:
    from trackside.agent.api import AgentApi
    from trackside.agent.execute.runner import TaskRunner

    if args.git_user:
        config.set("agent.git_user", args.git_user)
    if args.git_pass:
        config.set("agent.git_pass", args.git_pass)
    if args.gpus or args.cpu_only:   # the task's process inherits them (the daemon sets them for its children)
        try:
            os.environ.update(select_gpus(args.gpus, args.cpu_only).env())
        except GpuSpecError as exc:
            print(f"trackside-agent: {exc}", file=sys.stderr)
            return 2
    api = AgentApi.from_config(config)
    try:
        return TaskRunner(config, api, args.task_id, full_monitoring=args.full_monitoring, clone=args.clone,
                          require_queue=args.require_queue, standalone=args.standalone_mode,
                          monitoring=not args.disable_monitoring, log_file=args.log_file, log_level=args.log_level,
                          optimization=args.optimization, docker=None if args.docker is False else list(args.docker),
                          stream_logs=not args.log_to_stdout, prepare_only=args.prepare_only,
                          use_owner_token=args.use_owner_token).run()
    finally:
        api.close()
