"""Put a task's code on disk: a literal script (``script.diff`` written to the entry point) or a repository
(clone through the vcs cache, checkout, uncommitted diff). CONTRACT for the runner; see the execute package.

Stub for now (literal scripts only); the repository half replaces the body, keeping the signatures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig

LogLine = Callable[[str], None]


class CodeError(Exception):
    """The code could not be prepared; ``status_reason`` goes on the failed task."""

    def __init__(self, message: str, status_reason: str = "failed preparing code"):
        super().__init__(message)
        self.status_reason = status_reason


@dataclass(frozen=True)
class CodeLocation:
    root: Path            # the repository root, or the folder holding a literal script
    cwd: Path             # where the task runs: root / working_dir
    entry_point: str      # the script, relative to cwd
    is_repository: bool


def prepare_code(script: dict, workdir: Path, config: AgentConfig, log: LogLine) -> CodeLocation:
    """The task's code under ``workdir`` (emptied first). Raises CodeError."""
    entry = (script or {}).get("entry_point") or ""
    if (script or {}).get("repository"):
        raise CodeError("repository tasks are not supported yet", "failed cloning repository")
    if not entry:
        raise CodeError("the task has no script.entry_point", "no entry point")
    root = workdir / "code"
    cwd = (root / (script.get("working_dir") or ".")).resolve()
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / entry).write_text(script.get("diff") or "")
    return CodeLocation(root=root, cwd=cwd, entry_point=entry, is_repository=False)
