"""``poetry install`` into the task's venv, for repositories that carry a poetry project
(``agent.package_manager.type: poetry`` or ``CLEARML_AGENT_FORCE_POETRY``, as clearml-agent)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from trackside.agent.config import AgentConfig
from trackside.agent.execute.code import CodeLocation


def poetry_project(code: CodeLocation, config: AgentConfig) -> Path | None:
    """The folder with the poetry project: the repository root, or the working dir when
    ``poetry_files_from_repo_working_dir``; None when there is none (pip is used then)."""
    if not code.is_repository:
        return None
    folder = code.cwd if config.get("agent.package_manager.poetry_files_from_repo_working_dir") else code.root
    if (folder / "poetry.lock").is_file() or (folder / "pyproject.toml").is_file():
        return folder
    return None


def find_poetry() -> Path | None:
    """poetry on PATH, else next to the agent's interpreter (installed in the agent's venv)."""
    found = shutil.which("poetry")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / "poetry"
    return beside if beside.is_file() else None


def install_command(poetry: Path, config: AgentConfig) -> list[str]:
    return [str(poetry), "install", "--no-interaction",
            *(config.get("agent.package_manager.poetry_install_extra_args") or [])]
