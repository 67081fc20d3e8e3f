"""Create a venv with the ``virtualenv`` library (seeded from its bundled wheels: no download, well under a
second), and the variables that make a process run inside it."""
from __future__ import annotations

import os
from pathlib import Path

from trackside.agent.execute.environment.interpreter import Interpreter
from trackside.agent.execute.environment.tree import remove_tree


class VenvFailed(Exception):
    pass


def create_venv(interpreter: Interpreter, dest: Path, system_site_packages: bool) -> Path:
    """A fresh venv at ``dest`` (anything there is removed first); returns its python."""
    import virtualenv  # imported here: it is only needed when a venv is built, not on a cache hit

    remove_tree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    args = ["--python", str(interpreter.path), "--no-periodic-update", "--quiet", str(dest)]
    if system_site_packages:
        args.insert(0, "--system-site-packages")
    try:
        virtualenv.cli_run(args, setup_logging=False)
    except (Exception, SystemExit) as exc:  # virtualenv reports bad interpreters with SystemExit
        raise VenvFailed(f"virtualenv could not create {dest} with {interpreter.path}: {exc}") from None
    return venv_python(dest)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def activation_env(venv: Path) -> dict[str, str]:
    """What a process needs to run inside ``venv`` (its own PATH first)."""
    return {"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
