"""This agent, inside a task container: its own wheels, and the shell script that installs them there.

The container always runs the very code of the agent that launched it (what clearml-agent's
``--force-current-version`` asks for, here the only behaviour): a host and a container agent of different
versions disagreeing about the task's life is a failure mode we do not ship. The wheels come from
``TRACKSIDE_AGENT_WHEELS`` (a folder, as the agent image provides), else they are built once per source
state from the installed source folders. The agent's dependencies install from the configured indexes or
``PIP_FIND_LINKS``. The agent's venv in the container lives on a cache mount, one per interpreter, so only
the first container of an image pays for the install.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTIONS = ("trackside-shared", "trackside-agent")
WHEELS_ENV = "TRACKSIDE_AGENT_WHEELS"
WHEELS_IN_CONTAINER = "/trackside/wheels"
VENVS_IN_CONTAINER = "/trackside/agent-venvs"
# The task's own folder: the agent's configuration (credentials) in, the task's result out.
TASK_DIR_IN_CONTAINER = "/trackside/task"
# The task's venvs folder inside the container, as the stock agent lays it out.
VENVS_DIR_IN_CONTAINER = "/root/.clearml/venvs-builds"
CONFIG_IN_CONTAINER = f"{TASK_DIR_IN_CONTAINER}/clearml.conf"
RESULT_IN_CONTAINER = f"{TASK_DIR_IN_CONTAINER}/result.json"
TOKEN_FILE_NAME = "owner.token"   # --use-owner-token: the owner's token, the only credential in the container
TOKEN_IN_CONTAINER = f"{TASK_DIR_IN_CONTAINER}/{TOKEN_FILE_NAME}"
RESULT_ENV = "TRACKSIDE_AGENT_RESULT_FILE"
# Set in a container with a restart policy: the agent inside owns the task's status and resumes it.
RESTARTABLE_ENV = "TRACKSIDE_AGENT_RESTARTABLE"
# Exit code of the bootstrap when it fails before the agent runs (no python, a failed install).
BOOTSTRAP_FAILED = 97


# Before the task's setup script, unless agent.docker_init_bash_script replaces it (as in clearml-agent):
# git where an apt-based image has none (python:3.x-slim), since the agent inside clones the task's code.
DEFAULT_INIT_SCRIPT = [
    "if ! command -v git >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then",
    "  echo 'trackside-agent: no git in this image: installing it'",
    "  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends"
    " git ca-certificates >/dev/null) || echo 'trackside-agent: installing git failed'",
    "fi",
]


class AgentInstallError(RuntimeError):
    """The agent's own wheels cannot be produced."""


def agent_wheels(cache_root: Path) -> Path:
    """A folder holding wheels of this agent and its shared library."""
    given = os.environ.get(WHEELS_ENV)
    if given:
        return _copy_of(Path(given), cache_root)
    sources = [_source_folder(name) for name in DISTRIBUTIONS]
    folder = cache_root / f"{_version()}-{_fingerprint(sources)}"
    if (folder / ".complete").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as build:
        for source in sources:
            # Built from a copy: setuptools leaves a build/ folder behind, whose stale files a later
            # build of the source folder itself would package.
            copy = Path(build) / source.name
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
            done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                                   "--disable-pip-version-check", "--wheel-dir", str(folder), str(copy)],
                                  cwd=build, capture_output=True, text=True, timeout=300)
            if done.returncode:
                raise AgentInstallError(f"building the wheel of {source} failed: {done.stderr.strip()[-2000:]}")
    (folder / ".complete").touch()
    return folder


def _copy_of(given: Path, cache_root: Path) -> Path:
    """The given wheels, copied under the cache folder: that folder is the one a containerized agent shares
    with the host (``CLEARML_AGENT_DOCKER_HOST_MOUNT``), so the task containers can mount it."""
    wheels = sorted(given.glob("trackside_*.whl"))
    if not any(w.name.startswith("trackside_agent-") for w in wheels):
        raise AgentInstallError(f"{WHEELS_ENV}={given}: no trackside_agent wheel there")
    digest = hashlib.sha256(b"".join(w.name.encode() + w.read_bytes() for w in wheels)).hexdigest()[:12]
    folder = cache_root / f"{_version()}-{digest}"
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for wheel in wheels:
            shutil.copy2(wheel, folder / wheel.name)
        (folder / ".complete").touch()
    return folder


def bootstrap_script(setup_script: list[str], inner_command: list[str], wheels: Path,
                     venvs_builds: str | None = None, init_script: list[str] | None = None) -> str:
    """The container's entry: the init lines (``DEFAULT_INIT_SCRIPT`` unless given), the task's and the agent's
    setup lines, this agent's venv, then the agent.
    The agent's venv is kept per wheels folder (version and source state) and interpreter: a changed agent of
    the same version never finds the old one's venv. ``venvs_builds``: a folder in the container that the
    task's venvs folder (``VENVS_DIR_IN_CONTAINER``) is made a link to, emptied first."""
    version = _version()
    lines = ["set -e", "echo 'trackside-agent: container started'"]
    if venvs_builds:
        builds, link = shlex.quote(venvs_builds), shlex.quote(VENVS_DIR_IN_CONTAINER)
        lines += [f"rm -rf {builds} {link}", f"mkdir -p {builds} $(dirname {link})", f"ln -s {builds} {link}"]
    lines += DEFAULT_INIT_SCRIPT if init_script is None else init_script
    if setup_script:
        lines += ["echo 'trackside-agent: running the setup script'", *setup_script]
    lines += [
        "PY=$(command -v python3 || command -v python || true)",
        f'[ -n "$PY" ] || {{ echo "trackside-agent: no python3 in this image"; exit {BOOTSTRAP_FAILED}; }}',
        'KEY=$("$PY" -c "import sys,platform; print(platform.python_version()+\'-\'+sys.executable.replace(\'/\',\'_\'))")',
        f'VENV={VENVS_IN_CONTAINER}/{shlex.quote(wheels.name)}-$KEY',
        f'mkdir -p {VENVS_IN_CONTAINER}',
        f'exec 9>{VENVS_IN_CONTAINER}/.lock-$KEY; flock 9 2>/dev/null || true',
        'if [ ! -e "$VENV/.complete" ]; then',
        '  echo "trackside-agent: installing the agent in $VENV"',
        '  rm -rf "$VENV"',
        f'  "$PY" -m venv "$VENV" || {{ echo "trackside-agent: python3 -m venv failed (install python3-venv)"; exit {BOOTSTRAP_FAILED}; }}',
        f'  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --find-links {WHEELS_IN_CONTAINER}'
        f' trackside-agent=={version} || {{ echo "trackside-agent: installing the agent failed"; exit {BOOTSTRAP_FAILED}; }}',
        '  touch "$VENV/.complete"',
        'fi',
        'exec 9>&-',
        f'exec "$VENV/bin/python" -m trackside.agent --config-file {CONFIG_IN_CONTAINER} {shlex.join(inner_command)}',
    ]
    return "\n".join(lines) + "\n"


def _version() -> str:
    try:
        return distribution("trackside-agent").version
    except PackageNotFoundError as exc:
        raise AgentInstallError("trackside-agent is not installed as a distribution") from exc


def _source_folder(name: str) -> Path:
    """Where an editable or folder install of ``name`` came from (PEP 610 direct_url.json)."""
    try:
        raw = distribution(name).read_text("direct_url.json")
    except PackageNotFoundError as exc:
        raise AgentInstallError(f"{name} is not installed") from exc
    info = json.loads(raw) if raw else {}
    url = info.get("url", "")
    if "dir_info" not in info or not url.startswith("file://"):
        raise AgentInstallError(f"{name} was not installed from a source folder: set {WHEELS_ENV} to a folder "
                                "with this agent's wheels to run tasks in containers")
    return Path(unquote(urlparse(url).path))


def _fingerprint(sources: list[Path]) -> str:
    """The source files' content: a changed checkout builds new wheels, an unchanged one reuses them."""
    digest = hashlib.sha256()
    for source in sources:
        for path in sorted(source.rglob("*")):
            if path.suffix in (".py", ".toml", ".cfg") and "__pycache__" not in path.parts and path.is_file() \
                    and ".egg-info" not in str(path) and "/build/" not in str(path):
                digest.update(str(path.relative_to(source)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
