"""pip inside a task venv: the pip version the configuration asks for, the install steps of an InstallPlan
(options from ``agent.package_manager``), and the freeze reported back to the task."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig
from trackside.agent.execute.environment.commands import CommandFailed, run_logged
from trackside.agent.execute.environment.requirements import InstallPlan

# Does the venv's pip satisfy every applicable spec (markers evaluated by pip's own packaging)?
PIP_SATISFIES = """
import sys
from pip import __version__
from pip._vendor.packaging.requirements import Requirement
ok = True
for spec in sys.argv[1:]:
    spec = spec.strip()
    req = Requirement(spec if spec.lower().startswith("pip") else "pip" + spec)
    if req.marker is None or req.marker.evaluate():
        ok = ok and req.specifier.contains(__version__, prereleases=True)
print("yes" if ok else "no")
"""


class PipFailed(Exception):
    pass


class Pip:
    def __init__(self, python: Path, config: AgentConfig, log: Callable[[str], None], env: dict):
        self.python = python
        self.log = log
        self.env = env
        manager = "agent.package_manager."
        self.options = ["--progress-bar", "off"]
        for url in config.get(manager + "extra_index_url") or []:
            self.options += ["--extra-index-url", url]
        self.options += list(config.get(manager + "extra_pip_install_flags") or [])

    def ensure_version(self, specs: list[str]) -> None:
        specs = [s for s in specs if s.strip()]
        if not specs:
            return
        check = subprocess.run([str(self.python), "-c", PIP_SATISFIES, *specs], capture_output=True, text=True,
                               env=self.env, stdin=subprocess.DEVNULL)
        if check.returncode == 0 and check.stdout.strip() == "yes":
            return
        requirements = [s if s.strip().lower().startswith("pip") else "pip" + s.strip() for s in specs]
        self.log(f"installing {', '.join(requirements)} (agent.package_manager.pip_version)")
        self._pip("install", *requirements, *self.options)

    def install_plan(self, plan: InstallPlan) -> None:
        self.install(plan.first, "priority packages")
        self.install_each_optional(plan.first_optional)
        self.install(plan.main, "requirements")
        self.install(plan.last, "post packages")
        self.install_each_optional(plan.last_optional)

    def install(self, lines: list[str], what: str) -> None:
        if not lines:
            return
        # A requirements file keeps option lines (--extra-index-url, -f ...) working as pip defines them.
        with tempfile.NamedTemporaryFile("w", prefix="requirements-", suffix=".txt") as file:
            file.write("\n".join(lines) + "\n")
            file.flush()
            self.log(f"pip: installing {what} ({len(lines)} line{'s' if len(lines) != 1 else ''})")
            self._pip("install", "-r", file.name, *self.options)

    def install_each_optional(self, lines: list[str]) -> None:
        for line in lines:
            try:
                self._pip("install", line, *self.options)
            except PipFailed as exc:
                self.log(f"WARNING: optional package {line!r} not installed: {exc}")

    def freeze(self) -> list[str]:
        result = subprocess.run([str(self.python), "-m", "pip", "freeze"], capture_output=True, text=True,
                                env=self.env, stdin=subprocess.DEVNULL)
        return [line for line in result.stdout.splitlines() if line.strip()] if result.returncode == 0 else []

    def _pip(self, *args: str) -> None:
        try:
            run_logged([self.python, "-m", "pip", *args], self.log, env=self.env)
        except CommandFailed as exc:
            raise PipFailed(str(exc)) from None
