"""A conda environment for ``agent.package_manager.type: conda``: ``conda create -p`` with the task's Python
version, then the pip install steps inside it. (No conda on our test machines: only the missing-conda
error is covered by tests.)"""
from __future__ import annotations

import shutil
from pathlib import Path

from trackside.agent.config import AgentConfig


def find_conda() -> Path | None:
    found = shutil.which("conda")
    return Path(found) if found else None


def create_command(conda: Path, prefix: Path, python_version: str, config: AgentConfig) -> list[str]:
    channels = []
    for channel in config.get("agent.package_manager.conda_channels") or []:
        channels += ["-c", channel]
    return [str(conda), "create", "--yes", "--quiet", "-p", str(prefix), f"python={python_version}", "pip",
            *channels]
