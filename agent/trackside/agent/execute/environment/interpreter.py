"""Which Python runs the task: ``script.binary`` (``python3.11``, ``/usr/bin/python3``...), else
``agent.python_binary``, else the agent's own interpreter. A binary is checked by running it (a pyenv shim
for a version that is not installed exists on PATH but fails). A requested version that is missing falls
back, with a warning, to the default interpreter when the major version matches (clearml-agent does the
same); otherwise it is an error naming the binary."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROBE = ("import json, platform, sys; print(json.dumps({'version': list(sys.version_info[:3]), "
         "'implementation': sys.implementation.name, 'machine': platform.machine(), "
         "'prefix': sys.base_prefix}))")
VERSIONED = re.compile(r"^python(?:(?P<major>\d)(?:\.(?P<minor>\d+))?)?$")
SHELLS = {"bash", "sh", "zsh"}


class InterpreterNotFound(Exception):
    pass


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: tuple[int, int, int]
    implementation: str
    machine: str
    prefix: str        # the base installation: two paths to one Python share it

    @property
    def short_version(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def identity(self) -> dict:
        """What makes venvs of this interpreter interchangeable (part of the venv cache key)."""
        return {"implementation": self.implementation, "version": list(self.version), "machine": self.machine,
                "prefix": self.prefix}


def shell_of(binary: str) -> Path | None:
    """The shell a ``bash``-like ``script.binary`` names (the entry point then runs with it)."""
    name = Path(binary.strip()).name if binary else ""
    if name not in SHELLS:
        return None
    found = shutil.which(binary.strip())
    if not found:
        raise InterpreterNotFound(f"{binary} requested by the task is not installed")
    return Path(found)


def probe(binary: str | Path) -> Interpreter:
    path = Path(binary) if os.sep in str(binary) else Path(shutil.which(str(binary)) or binary)
    try:
        result = subprocess.run([str(path), "-c", PROBE], capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterNotFound(f"{binary}: {exc}") from None
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[:1]
        raise InterpreterNotFound(f"{binary} does not run{': ' + last[0] if last else ''}")
    info = json.loads(result.stdout.strip().splitlines()[-1])
    return Interpreter(path=path, version=tuple(info["version"]), implementation=info["implementation"],
                       machine=info["machine"], prefix=info["prefix"])


def choose(requested: str, configured: str, ignore_requested: bool, log) -> Interpreter:
    """The interpreter for the task; InterpreterNotFound names the binary when it cannot be had."""
    try:
        default = probe(configured) if configured else probe(sys.executable)
    except InterpreterNotFound as exc:
        raise InterpreterNotFound(f"agent.python_binary: {exc}") from None
    requested = "" if ignore_requested else (requested or "").strip()
    if not requested:
        return default
    wanted = VERSIONED.match(Path(requested).name)
    same_major = bool(wanted) and (wanted["major"] is None or int(wanted["major"]) == default.version[0])
    if same_major and os.sep not in requested:
        # The default interpreter wins when it is the version asked for ("python3" on a 3.x agent, say).
        if wanted["minor"] is None or default.version[1] == int(wanted["minor"]):
            return default
    try:
        chosen = probe(requested)
    except InterpreterNotFound as exc:
        # The SDK records the creating machine's version (python3.12 on a laptop): like clearml-agent, run on
        # the default interpreter of the same major version, saying so; another major version cannot work.
        if same_major:
            log(f"WARNING: {requested} requested by the task is not available here ({exc}); using {default.path} "
                f"(Python {'.'.join(map(str, default.version))}) instead")
            return default
        raise InterpreterNotFound(f"{requested} requested by the task is not available on this machine ({exc}); "
                                  f"set agent.ignore_requested_python_version to run it with "
                                  f"{default.path} (Python {default.short_version})") from None
    log(f"Python {'.'.join(map(str, chosen.version))} from {chosen.path} (requested: {requested})")
    return chosen
