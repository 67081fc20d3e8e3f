"""Build the Python environment a task runs in: a venv with pip (reused from the venv cache), poetry or
conda. CONTRACT for the runner: ``build_environment``, ``PythonEnvironment``, ``EnvironmentBuildError``.

    env = build_environment(task, code, config, log, slot="1")
    env.python, env.env          # run the entry point with env.python (or env.shell), adding env.env
    env.requirements             # {"org_pip": ..., "pip": [frozen lines]} for tasks.set_requirements

The interpreter is ``script.binary`` (``python3.11``...; ``bash`` runs the entry point with bash inside the
venv: ``env.shell``), else ``agent.python_binary``, else the agent's own. ``standalone=True`` (the
``--standalone-mode`` flag) or ``CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL`` uses that interpreter as is.
The venv is built in ``agent.venvs_dir/<slot>``; modules: interpreter, requirements, pip, venv,
venv_cache (+ tree), poetry, conda, builders.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig
from trackside.agent.config import env as env_names
from trackside.agent.config.schema import TRUE_WORDS
from trackside.agent.execute.code import CodeLocation
from trackside.agent.execute.environment import builders, interpreter as interpreters, poetry
from trackside.agent.execute.environment.model import EnvironmentBuildError, PythonEnvironment

LogLine = Callable[[str], None]

__all__ = ["EnvironmentBuildError", "PythonEnvironment", "build_environment"]


def build_environment(task: dict, code: CodeLocation, config: AgentConfig, log: LogLine, *,
                      slot: str, standalone: bool = False) -> PythonEnvironment:
    """The environment for ``task`` (its ``script``), built in ``venvs_dir/<slot>``."""
    binary = ((task.get("script") or {}).get("binary") or "").strip()
    try:
        shell = interpreters.shell_of(binary)
        interpreter = interpreters.choose("" if shell else binary, config.get("agent.python_binary") or "",
                                          bool(config.get("agent.ignore_requested_python_version")), log)
    except interpreters.InterpreterNotFound as exc:
        raise EnvironmentBuildError(str(exc), "python binary not found") from None
    if standalone or _flag(env_names.SKIP_PYTHON_ENV_INSTALL):
        log(f"using {interpreter.path} as is, no venv (standalone mode / {env_names.SKIP_PYTHON_ENV_INSTALL})")
        return PythonEnvironment(python=interpreter.path, manager="system", shell=shell)
    venv = Path(config.get("agent.venvs_dir")) / slot
    kind = config.get("agent.package_manager.type")
    if kind == "conda":
        result = builders.build_conda(task, code, config, log, interpreter, venv)
    elif kind == "poetry" or _flag(env_names.FORCE_POETRY) or _has_poetry_lock(code):
        project = poetry.poetry_project(code, config)
        if project is not None:
            result = builders.build_poetry(task, code, project, config, log, interpreter, venv)
        else:
            log("poetry: no pyproject.toml or poetry.lock in the repository, installing with pip")
            result = builders.build_pip(task, code, config, log, interpreter, venv)
    else:
        if kind == "uv":
            log("package_manager.type uv is not supported yet: installing with pip")
        result = builders.build_pip(task, code, config, log, interpreter, venv)
    result.shell = shell
    return result


def _has_poetry_lock(code: CodeLocation) -> bool:
    """A repository that pins its environment with poetry is installed with poetry, whatever the type says."""
    return code.is_repository and any((folder / "poetry.lock").is_file() for folder in {code.root, code.cwd})


def _flag(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in TRUE_WORDS
