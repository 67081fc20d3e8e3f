"""What ``build_environment`` returns or raises (re-exported by the package: the runner's contract)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    shell: Path | None = None                      # script.binary was a shell: run the entry point with it
    build_seconds: float = 0.0                     # how long building (or restoring) took
