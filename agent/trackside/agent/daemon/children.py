"""The daemon's children: one ``trackside-agent execute --id TASK --full-monitoring`` process per task.

The child owns the task's whole life (logs, pings, stop requests, the final status); the daemon only
starts it with the worker's identity and GPUs in its environment, and on shutdown asks it to end (SIGTERM)
before it gives up on it (SIGKILL of its process group). Each child gets a session of its own, so a Ctrl-C
at the daemon's terminal reaches the daemon alone, which then stops its children in order.

Exit codes (the contract with ``execute``): 0 completed, 1 failed, 2 stopped or aborted, 3 agent error.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

EXIT_MEANING = {0: "completed", 1: "failed", 2: "stopped", 3: "agent error"}


@dataclass
class ChildSpec:
    """What every child of one daemon shares."""
    worker: str
    config_file: Path | None
    env: dict[str, str]                   # added to the daemon's environment (GPUs, git credentials)
    args: list[str] = field(default_factory=list)  # extra execute flags (--log-level, -O)
    foreground: bool = False
    log_dir: Path | None = None           # per-task output files when not in the foreground

    def command(self, task_id: str) -> list[str]:
        config = ["--config-file", str(self.config_file)] if self.config_file else []
        return [sys.executable, "-m", "trackside.agent", *config, "execute", "--id", task_id, "--full-monitoring",
                *self.args]


@dataclass
class Child:
    task: str
    queue: str
    process: subprocess.Popen
    log_path: Path | None
    started: float
    _log: IO | None = field(default=None, repr=False)
    gpus: tuple[str, ...] = ()            # dynamic GPUs: the ones this task holds until it ends
    worker: str = ""                      # dynamic GPUs: the worker it reports as ("": the daemon's)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> int:
        code = self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """The child and every process under it (the task's own, even in sessions of their own)."""
        try:
            tree = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            tree = []
        for process in tree:
            try:
                process.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _signal(self, signum: int) -> None:
        if self.process.poll() is None:
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass


def spawn(spec: ChildSpec, task_id: str, queue_id: str, extra_env: dict[str, str] | None = None,
          worker: str = "") -> Child:
    """``extra_env`` overrides the shared environment and ``worker`` the worker id for this task alone (its
    dynamic GPUs and the worker named after them)."""
    env = {**os.environ, **spec.env, **(extra_env or {}), "CLEARML_WORKER_ID": worker or spec.worker,
           "TRACKSIDE_AGENT_QUEUE": queue_id,
           "TRACKSIDE_AGENT_PARENT_WORKER": spec.worker}   # docker's clearml-parent-worker-id label
    log_path, log = None, None
    if not spec.foreground and spec.log_dir is not None:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = spec.log_dir / f"task-{task_id}.log"
        log = open(log_path, "ab")
    try:
        process = subprocess.Popen(
            spec.command(task_id), env=env, stdin=subprocess.DEVNULL,
            stdout=log if log is not None else (None if spec.foreground else subprocess.DEVNULL),
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    except BaseException:
        if log is not None:
            log.close()
        raise
    return Child(task_id, queue_id, process, log_path, time.monotonic(), log, worker=worker)


def prune_logs(log_dir: Path | None, keep: int = 200) -> None:
    """Keep the newest ``keep`` task output files (the task log itself is on the server)."""
    if log_dir is None or not log_dir.is_dir():
        return
    files = sorted(log_dir.glob("task-*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)
