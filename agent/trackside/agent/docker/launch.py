"""A task's run in a container, seen from the agent on the machine (``execute --docker``, which the daemon's
children run in docker mode).

This side owns what must survive the container: the task's console log (everything the container prints,
from the setup script and the agent install to the task's own output, one copy of each line through the
runner's redactor and log stream), the stop watch, and the container's end (stopped and removed on a stop
request or a signal). The agent inside runs the same ``execute`` (code, venv, the task's process,
pings) with ``--log-to-stdout``: it leaves the task's final status to this side, in a result file, so
that the status is set only once every line of the log is on the server.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from trackside.agent.api import write_token
from trackside.agent.config import AgentConfig
from trackside.agent.docker import agent_install
from trackside.agent.docker.agent_install import BOOTSTRAP_FAILED, AgentInstallError
from trackside.agent.docker.arguments import DockerArgumentError
from trackside.agent.docker.container import ContainerError, TaskContainer, engine
from trackside.agent.docker.spec import DOCKER_BUILDS, build_spec, inner_config
from trackside.agent.execute.log_stream import LineSplitter
from trackside.agent.execute.slots import Slot

# What makes a launch fail before the task runs; the task ends failed saying which.
LAUNCH_ERRORS = (ContainerError, DockerArgumentError, AgentInstallError, ValueError, OSError)
__all__ = ["BOOTSTRAP_FAILED", "LAUNCH_ERRORS", "ContainerLaunch"]


class ContainerLaunch:
    def __init__(self, config: AgentConfig, task: dict, worker: str, flag: list[str] | None,
                 inner_command: list[str], line: Callable[[str], None], say: Callable[[str], None],
                 share_agent_venv: bool = True, owner_token: str | None = None):
        self.config, self.task, self.worker, self.flag = config, task, worker, flag
        # --use-owner-token: the container gets this token and a configuration without the agent's credentials
        self.owner_token = owner_token
        self.inner_command, self.line, self.say = inner_command, line, say
        self.share_agent_venv = share_agent_venv   # False: the agent is installed into the container itself
        self.home = Path(config.get("agent.venvs_dir")).parent      # ~/.clearml: a host mount when containerized
        self.container: TaskContainer | None = None
        self.task_dir: Path | None = None
        self.build_slot: Slot | None = None
        self._output = None
        self._splitter = LineSplitter(None, bool(config.get("agent.suppress_carriage_return")))

    @property
    def exit_code(self) -> int | None:
        return self.container.exit_code if self.container else None

    def start(self, on_exit: Callable[[], None]) -> None:
        wheels = agent_install.agent_wheels(self.home / "trackside-agent-wheels")
        self.task_dir = self._task_folder()
        self.build_slot = self._build_slot()
        spec = build_spec(self.task, self.config, flag=self.flag, inner_command=self.inner_command,
                          worker=self.worker, task_dir=self.task_dir, wheels=wheels,
                          agent_venvs=self.home / "trackside-agent-venvs" if self.share_agent_venv else None,
                          environ=dict(os.environ), build_slot=self.build_slot and self.build_slot.name,
                          owner_token=bool(self.owner_token), warn=lambda text: self.say(text, "WARNING"))
        self.say(f"running task {self.task['id']} in container {spec.name} from image {spec.image}")
        self.container = TaskContainer(engine(), spec)
        self.container.start(bool(self.config.get("agent.docker_force_pull")), self.say)
        self._output = self.container.follow(self._feed, on_exit)

    def stop(self, grace_sec: float) -> None:
        if self.container is not None:
            self.container.stop(grace_sec)

    def result(self) -> dict | None:
        """``{status, reason, force}`` as the agent inside decided it; None when it never got that far."""
        try:
            return json.loads((self.task_dir / "result.json").read_text()) if self.task_dir else None
        except (OSError, ValueError):
            return None

    def finish(self, wait_output_sec: float = 10.0) -> dict | None:
        """The rest of the output; then the container and the task's folder are gone. The inner result."""
        if self._output is not None:
            self._output.join(wait_output_sec)
        for text in self._splitter.finish():
            self.line(text)
        if self.container is not None:
            self.container.remove()
        result = self.result()
        if self.task_dir is not None:
            shutil.rmtree(self.task_dir, ignore_errors=True)
        if self.build_slot is not None:
            # The container's venv and code; what cannot be removed here (another owner) the next task clears.
            shutil.rmtree(self.build_slot.folder, ignore_errors=True)
            self.build_slot.release()
        return result

    @property
    def restartable(self) -> bool:
        return bool(self.container and self.container.spec.options.get("restart_policy"))

    @property
    def exited(self) -> bool:
        return bool(self.container and self.container.exited.is_set())

    def _feed(self, chunk: bytes) -> None:
        for text in self._splitter.feed(chunk):
            self.line(text)

    def _build_slot(self) -> Slot | None:
        """A folder inside the venv cache for the container's venv and code: restoring a cached venv then
        hardlinks its files (a second or less) instead of copying them across mounts (seconds). A slot, held
        by this process for the run, so concurrent containers never share one and no folder is left behind
        per task. None when the venv cache is off, or for ``build`` (the venv must be in the image)."""
        cache = self.config.get("agent.venvs_cache.path")
        if not cache or not self.share_agent_venv:
            return None
        return Slot(Path(cache) / DOCKER_BUILDS)

    def _task_folder(self) -> Path:
        parent = self.home / "docker-tasks"
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = Path(tempfile.mkdtemp(prefix=f"{self.task['id']}-", dir=parent))   # 0700
        fd = os.open(folder / "clearml.conf", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:   # only this user reads the credentials
            out.write(inner_config(self.config, with_credentials=not self.owner_token))
        if self.owner_token:
            write_token(folder / agent_install.TOKEN_FILE_NAME, self.owner_token)
        return folder
