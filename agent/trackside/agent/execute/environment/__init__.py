"""Build the Python environment a task runs in: a venv with pip (reused from the venv cache), poetry or
conda. CONTRACT for the runner: ``build_environment`` and ``PythonEnvironment``.

Stub for now (the agent's own interpreter, nothing installed); the environment half replaces the body.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig
from trackside.agent.execute.code import CodeLocation

LogLine = Callable[[str], None]


class EnvironmentBuildError(Exception):
    """The environment could not be built; ``status_reason`` goes on the failed task."""

    def __init__(self, message: str, status_reason: str = "failed building the environment"):
        super().__init__(message)
        self.status_reason = status_reason


@dataclass
class PythonEnvironment:
    python: Path                                   # the interpreter that runs the task
    root: Path | None = None                       # the venv folder (None: an interpreter used as is)
    env: dict[str, str] = field(default_factory=dict)  # variables to add (PATH, VIRTUAL_ENV...)
    manager: str = "system"                        # pip | poetry | conda | system
    cache_hit: bool = False                        # restored from the venv cache
    requirements: dict | None = None               # for tasks.set_requirements: {org_pip, pip: [frozen]}


def build_environment(task: dict, code: CodeLocation, config: AgentConfig, log: LogLine, *,
                      slot: str) -> PythonEnvironment:
    """The environment for ``task`` (its ``script`` and ``container``), built in ``venvs_dir/<slot>``."""
    return PythonEnvironment(python=Path(sys.executable))
