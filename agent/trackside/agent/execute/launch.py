"""What the task's process is started with: its command line and its environment, as clearml-agent builds
them (``Worker.execute``: ``python -u <entry point>`` in the working dir; the SDK told through variables
that it runs remotely, for which task, and that the agent sends its console output)."""
from __future__ import annotations

import os
import shlex

from trackside.agent.config import AgentConfig
from trackside.agent.execute.code import CodeLocation
from trackside.agent.execute.environment import PythonEnvironment

QUEUE_ENV = "TRACKSIDE_AGENT_QUEUE"
# The agent's own variables the task's process does not inherit: its git credentials are for cloning, not for
# the task's code (clearml-agent passed them on), and the daemon's queue is the agent's business.
AGENT_ONLY_ENV = ("CLEARML_AGENT_GIT_USER", "CLEARML_AGENT_GIT_PASS", "TRAINS_AGENT_GIT_USER",
                  "TRAINS_AGENT_GIT_PASS", QUEUE_ENV,
                  # the daemon's worker, and a task container's token file and restart mode (docker/)
                  "TRACKSIDE_AGENT_PARENT_WORKER", "TRACKSIDE_AGENT_AUTH_TOKEN_FILE", "TRACKSIDE_AGENT_RESTARTABLE")


def task_command(code: CodeLocation, env: PythonEnvironment, optimization: int = 0) -> list[str]:
    """``python -u [-O] <entry>``; ``-m module args`` and ``script.py args`` entry points are split as
    clearml-agent does; a shell binary runs the entry point (or its ``-c`` command) with that shell."""
    entry = code.entry_point.strip()
    parts = _split(entry)
    if env.shell is not None:
        if parts[:1] == ["-c"]:
            return [str(env.shell), "-c", entry[2:].strip()]
        return [str(env.shell), *([entry] if (code.cwd / entry).exists() else parts)]
    python = [str(env.python), "-u", *(["-" + "O" * optimization] if optimization else [])]
    if parts[:1] == ["-m"] or not (code.cwd / entry).exists():
        return [*python, *parts]
    return [*python, entry]


def task_environment(*, config: AgentConfig, env: PythonEnvironment, code: CodeLocation, task_id: str,
                     worker: str, log_level: str, task_env: dict[str, str],
                     base: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment, later entries winning: this agent's environment (less ``AGENT_ONLY_ENV``),
    the configuration's ``environment`` sections (``agent.apply_environment``), the venv's variables, what the
    SDK needs to run remotely, the task's own ``Environment`` section (``agent.enable_task_env``), and the
    code's folders on PYTHONPATH."""
    result = {k: v for k, v in (os.environ if base is None else base).items() if k not in AGENT_ONLY_ENV}
    if config.get("agent.apply_environment"):
        result.update(configured_environment(config))
    result.update(env.env)
    result.update(sdk_environment(config, task_id, worker, log_level))
    result.update(task_env)
    script = _split(code.entry_point.strip())[0]
    script_dir = str((code.cwd / script).parent) if script and not script.startswith("-") else ""
    result["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(filter(None, [
        str(code.cwd), script_dir, result.get("PYTHONPATH", "")])))
    return result


def sdk_environment(config: AgentConfig, task_id: str, worker: str, log_level: str) -> dict[str, str]:
    """clearml-agent's job variables (task id, log level, no console logging by the SDK, the configuration
    file) plus the server and credentials, so the SDK needs no clearml.conf of its own."""
    values = {
        "CLEARML_TASK_ID": task_id, "TRAINS_TASK_ID": task_id,
        "CLEARML_LOG_LEVEL": log_level, "TRAINS_LOG_LEVEL": log_level,
        # The agent sends the console output; the SDK must not send it a second time.
        "CLEARML_LOG_TASK_TO_BACKEND": "0", "TRAINS_LOG_TASK_TO_BACKEND": "0",
        "CLEARML_WORKER_ID": worker,
        "CLEARML_API_HOST": config.api_server, "CLEARML_WEB_HOST": config.web_server,
        "CLEARML_FILES_HOST": config.files_server,
        "CLEARML_API_ACCESS_KEY": config.access_key, "CLEARML_API_SECRET_KEY": config.secret_key,
        "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8",
    }
    if config.path is not None:   # the SDK's own settings (sdk.*: storage credentials, output URI) live there
        values["CLEARML_CONFIG_FILE"] = values["TRAINS_CONFIG_FILE"] = str(config.path)
    return {k: v for k, v in values.items() if v}


def configured_environment(config: AgentConfig) -> dict[str, str]:
    """clearml.conf's top-level ``environment { KEY: value }`` section (clearml-agent's), then
    ``agent.environment``."""
    merged: dict[str, str] = {}
    for section in (config.get("environment"), config.get("agent.environment")):
        if isinstance(section, (list, tuple)):
            section = dict(section)
        if isinstance(section, dict):
            merged.update({str(k): "" if v is None else str(v) for k, v in section.items() if k})
    return merged


def task_own_environment(task: dict) -> dict[str, str]:
    """The task's ``Environment`` hyperparameter section as variables (used with ``agent.enable_task_env``)."""
    section = (task.get("hyperparams") or {}).get("Environment") or {}
    result = {}
    for key, param in section.items():
        if isinstance(param, dict):
            name = str(param.get("name") or key)
            result[name] = "" if param.get("value") is None else str(param.get("value"))
    return result


def _split(entry: str) -> list[str]:
    try:
        return shlex.split(entry) or [entry]
    except ValueError:
        return [entry]
