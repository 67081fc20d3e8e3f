"""Start a child server process, wait until it accepts connections, and stop it by its own PID."""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def death_signal_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send the child SIGTERM when the process that started it dies, however
    it dies (SIGKILL, the OOM killer): children in sessions of their own would otherwise keep running and
    holding their ports. The signal survives ``exec`` (the services exec gunicorn, whose master then stops its
    workers). It fires when the starting *thread* ends, so start such children from a thread that lives as long
    as the parent (the main thread). None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: nothing to import in the child
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between the fork and prctl: nobody will signal us
            os._exit(1)

    return preexec


class ServerProcess:
    """One child process with a readiness check; ``stop()`` ends it by PID (SIGTERM, then SIGKILL).
    With ``die_with_parent`` (Linux) it also ends when this process dies without stopping it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready: Callable[[], bool],
        port: int | None = None,
        log_path: Path | None = None,
        env: dict | None = None,
        cwd: Path | None = None,
        die_with_parent: bool = False,
    ):
        self.name = name
        self.die_with_parent = die_with_parent
        self.argv = list(argv)
        self.port = port
        self._ready = ready
        self.log_path = log_path
        self._env = env
        self._cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            # A new session keeps terminal signals (Ctrl-C) for the launcher, which stops children in order.
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self._env, cwd=self._cwd,
                start_new_session=True, preexec_fn=death_signal_preexec() if self.die_with_parent else None,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode} during start-up{self._log_hint()}")
            if self._ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready within {timeout:.0f} s{self._log_hint()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _log_hint(self) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        tail = Path(self.log_path).read_text(errors="replace")[-2000:]
        return f"; log {self.log_path}:\n{tail}"
