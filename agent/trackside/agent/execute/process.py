"""The task's process: started in a session of its own so that its whole tree can be ended, output merged
into one pipe read line by line."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterable

import psutil

GRACE_SEC = 10.0  # SIGTERM first, so the SDK inside can flush; then SIGKILL


class TaskProcess:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]):
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid

    def lines(self) -> Iterable[str]:
        """Output lines as they come; a carriage-return progress bar yields its latest state per line."""
        buffer = b""
        while True:
            chunk = self.proc.stdout.read1(65536) if hasattr(self.proc.stdout, "read1") else self.proc.stdout.read(4096)
            if not chunk:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                yield _last_frame(raw)
        if buffer:
            yield _last_frame(buffer)

    def wait(self) -> int:
        return self.proc.wait()

    def kill_tree(self, grace: float = GRACE_SEC, on_note: Callable[[str], None] | None = None) -> None:
        """End every process of the task: the group and any descendant that left it."""
        members = self._members()
        for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            self._signal_all(members, signum)
            gone, alive = psutil.wait_procs(members, timeout=wait)
            members = alive
            if not members:
                break
        if members and on_note:
            on_note(f"{len(members)} process(es) of the task survived SIGKILL")

    def _members(self) -> list[psutil.Process]:
        members = []
        try:
            root = psutil.Process(self.pid)
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
        seen = {p.pid for p in members}
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid not in seen and os.getpgid(proc.pid) == self.pid:
                    members.append(proc)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        return members

    def _signal_all(self, members: list[psutil.Process], signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        for proc in members:
            try:
                proc.send_signal(signum)
            except psutil.Error:
                pass


def _last_frame(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    return text.rsplit("\r", 1)[-1]


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(psutil.pid_exists(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False
