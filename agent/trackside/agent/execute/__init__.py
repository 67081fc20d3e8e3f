"""``trackside-agent execute``: build a task's environment and run it here (``runner.TaskRunner``).

Modules: ``code`` (+ ``vcs``) puts the code on disk, ``environment`` builds the venv, ``runner`` drives the
task's statuses, ``process`` runs and ends the task's process tree, ``log_stream`` sends its output,
``stop_watch`` notices stop requests, ``slots`` hands out venv build folders.
"""
from __future__ import annotations

from trackside.agent.config import AgentConfig


def run_execute(args, config: AgentConfig) -> int:
    from trackside.agent.api import AgentApi
    from trackside.agent.execute.runner import TaskRunner

    if args.git_user:
        config.set("agent.git_user", args.git_user)
    if args.git_pass:
        config.set("agent.git_pass", args.git_pass)
    if args.docker is not False:
        print("trackside-agent: --docker arrives with docker mode (agent part 2)")
        return 2
    api = AgentApi.from_config(config)
    try:
        return TaskRunner(config, api, args.task_id, full_monitoring=args.full_monitoring, clone=args.clone,
                          require_queue=args.require_queue, standalone=args.standalone_mode,
                          monitoring=not args.disable_monitoring, log_file=args.log_file, log_level=args.log_level,
                          optimization=args.optimization).run()
    finally:
        api.close()
