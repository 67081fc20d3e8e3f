"""What a task container mounts from the machine: the agent's caches (so a container starts as warm as a
venv-mode run), its SSH keys or agent socket, and, when this agent itself runs in a container, the paths
translated to the host's (``CLEARML_AGENT_DOCKER_HOST_MOUNT``).

Inside the container everything sits under ``/root`` as the stock agent lays it out, so task code and
``clearml.conf`` paths behave the same in both agents' containers.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from trackside.agent.config import AgentConfig

HOST_MOUNT_ENV = ("CLEARML_AGENT_DOCKER_HOST_MOUNT", "CLEARML_AGENT_K8S_HOST_MOUNT", "TRAINS_AGENT_DOCKER_HOST_MOUNT")
SDK_CACHE = "sdk.storage.cache.default_base_dir"
# Each cache's clearml.conf key: its name under agent.docker_internal_mounts and where it sits in the container
# by default. The SDK's cache (downloaded artifacts, models, datasets) is where clearml-agent puts it.
CACHES = {
    "agent.docker_pip_cache": ("pip_cache", "/root/.cache/pip"),
    "agent.docker_apt_cache": ("apt_cache", "/var/cache/apt/archives"),
    "agent.vcs_cache.path": ("vcs_cache", "/root/.clearml/vcs-cache"),
    "agent.venvs_cache.path": ("venvs_cache", "/root/.clearml/venvs-cache"),
    "agent.pip_download_cache.path": ("pip_download", "/root/.clearml/pip-download-cache"),
    SDK_CACHE: ("sdk_cache", "/clearml_agent_cache"),
}
SDK_CACHE_DEFAULT = "~/.clearml/cache"   # the SDK's own default, when clearml.conf names none
SSH_KEYS_IN_CONTAINER = "/root/.ssh"


@dataclass(frozen=True)
class Mount:
    source: str        # a path as the Docker Engine sees it (the host's)
    target: str
    read_only: bool = False

    def volume(self) -> str:
        return f"{self.source}:{self.target}:{'ro' if self.read_only else 'rw'}"


def in_container(config: AgentConfig) -> dict[str, str]:
    """Cache key -> its folder in the container (``agent.docker_internal_mounts`` moves any of them)."""
    moved = config.get("agent.docker_internal_mounts") or {}
    return {key: str(moved.get(name) or target) for key, (name, target) in CACHES.items()}


def cache_folder(config: AgentConfig, key: str, environ: Mapping[str, str]) -> str | None:
    """The machine's folder for a cache; None when it is off."""
    if key == "agent.vcs_cache.path" and not config.get("agent.vcs_cache.enabled", True):
        return None
    path = config.get(key) or (SDK_CACHE_DEFAULT if key == SDK_CACHE else None)
    if not path:
        return None
    home = environ.get("HOME") or str(Path.home())
    return os.path.expandvars(home + path[1:] if path == "~" or path.startswith("~/") else path)


def cache_mounts(config: AgentConfig, environ: Mapping[str, str] | None = None) -> list[Mount]:
    """The caches that are configured (each created if missing), then SSH credentials."""
    environ = os.environ if environ is None else environ
    mounts = []
    for key, target in in_container(config).items():
        path = cache_folder(config, key, environ)
        if path:
            Path(path).mkdir(parents=True, exist_ok=True)
            mounts.append(Mount(host_path(path, environ), target))
    if not config.get("agent.disable_ssh_mount"):
        keys = (config.get("agent.docker_internal_mounts") or {}).get("ssh_ro_folder") or SSH_KEYS_IN_CONTAINER
        mounts += ssh_mounts(environ, str(keys))
    return mounts


def ssh_mounts(environ: Mapping[str, str], keys_target: str = SSH_KEYS_IN_CONTAINER) -> list[Mount]:
    """The agent socket when one runs (keys never leave the machine), else ``~/.ssh`` read-only."""
    sock = environ.get("SSH_AUTH_SOCK")
    if sock and Path(sock).exists():
        return [Mount(host_path(sock, environ), "/run/ssh-agent.sock")]
    keys = Path(environ.get("HOME") or Path.home()) / ".ssh"
    return [Mount(host_path(str(keys), environ), keys_target, read_only=True)] if keys.is_dir() else []


def ssh_environment(mounts: list[Mount]) -> dict[str, str]:
    return {"SSH_AUTH_SOCK": "/run/ssh-agent.sock"} if any(m.target == "/run/ssh-agent.sock" for m in mounts) else {}


def host_path(path: str, environ: Mapping[str, str] | None = None) -> str:
    """``path`` as the Docker Engine must name it. ``CLEARML_AGENT_DOCKER_HOST_MOUNT=HOST:MINE`` says this
    agent sees the host's ``HOST`` folder at ``MINE``: paths under ``MINE`` are rewritten under ``HOST``."""
    environ = os.environ if environ is None else environ
    raw = next((environ[name] for name in HOST_MOUNT_ENV if environ.get(name)), "")
    if not raw:
        return path
    host, sep, mine = raw.partition(":")
    if not sep or not host or not mine:
        raise ValueError(f"{HOST_MOUNT_ENV[0]}={raw!r}: expected <host folder>:<this agent's folder>")
    mine = mine.rstrip("/") or "/"
    absolute = os.path.abspath(path)
    if absolute == mine or absolute.startswith(mine.rstrip("/") + "/"):
        return host.rstrip("/") + absolute[len(mine.rstrip("/")):]
    return path
