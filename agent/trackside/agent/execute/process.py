"""The task's process tree: started in a session of its own (so it can be ended whole, and a Ctrl-C at the
agent's terminal reaches the agent only), stdout and stderr merged into one pipe.

Ending it (``kill_tree``): SIGTERM to the session's process group and to every process of the tree, so the
SDK inside can flush; SIGKILL to whatever is left after ``grace`` seconds. The tree is: the task's process,
its descendants, every process still in its session (descendants whose parent already exited), and, with
``adopt_orphans``, the orphans this agent adopted as a child subreaper (a grandchild that started a session
of its own and whose parent exited is re-parented to us instead of to init, so it cannot escape).
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import psutil

GRACE_SEC = 10.0          # SIGTERM first, so the SDK inside can flush its reports; then SIGKILL
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Orphans of our descendants are re-parented to this process (Linux), so none escapes ``kill_tree``.
    Only for the ``execute`` process itself: a test runner calling this would adopt unrelated processes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class TaskProcess:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], adopt_orphans: bool = False,
                 on_exit: Callable[[], None] | None = None):
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        self.pid = self.proc.pid          # also its session and process group id
        self.adopt_orphans = adopt_orphans
        self.exited = threading.Event()
        self._on_exit = on_exit
        threading.Thread(target=self._watch_exit, name="task-exit", daemon=True).start()

    @property
    def output_fd(self) -> int:
        return self.proc.stdout.fileno()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def close_output(self) -> None:
        try:
            self.proc.stdout.close()
        except OSError:
            pass

    def _watch_exit(self) -> None:
        self.proc.wait()
        self.exited.set()
        if self._on_exit is not None:
            self._on_exit()

    # -- ending the tree -------------------------------------------------------------------------------------
    def kill_tree(self, grace: float = GRACE_SEC) -> list[int]:
        """End every process of the task; the pids that survived even SIGKILL (none, normally)."""
        members = self.members()
        self._signal_all(members, signal.SIGTERM)
        _, alive = psutil.wait_procs(members, timeout=grace)
        self._wait_root(max(0.0, grace if alive else 0.5))
        for _ in range(3):   # SIGKILL what is left, and anything forked meanwhile
            leftovers = [p for p in self.members() if _alive(p)]
            if not leftovers and self.proc.poll() is not None:
                return []
            self._signal_all(leftovers, signal.SIGKILL)
            psutil.wait_procs(leftovers, timeout=5.0)
            self._wait_root(5.0)
        return [p.pid for p in self.members() if _alive(p)]

    def members(self) -> list[psutil.Process]:
        """Every process of the task's tree except its root (the root is waited for through Popen, whose exit
        status psutil would otherwise reap and lose)."""
        found: dict[int, psutil.Process] = {}
        try:
            for child in psutil.Process(self.pid).children(recursive=True):
                found[child.pid] = child
        except psutil.Error:
            pass
        for proc in psutil.process_iter():
            try:
                if proc.pid != self.pid and proc.pid not in found and os.getsid(proc.pid) == self.pid:
                    found[proc.pid] = proc
            except (OSError, psutil.Error):
                continue
        if self.adopt_orphans:
            try:
                for child in psutil.Process().children(recursive=True):
                    if child.pid != self.pid:
                        found.setdefault(child.pid, child)
            except psutil.Error:
                pass
        return list(found.values())

    def _signal_all(self, members: list[psutil.Process], signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass
        for proc in members:
            try:
                proc.send_signal(signum)
            except psutil.Error:
                pass

    def _wait_root(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


def end_own_children(grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL, to every descendant of this process: the tools (git, pip) of a preparation
    interrupted by a stop request or a signal. Only for the ``execute`` process (see ``become_subreaper``).
    They are not reaped here: the code that started them waits for them and reads their exit status."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(c) for c in children):
        time.sleep(0.05)
    for child in children:
        if _alive(child):
            try:
                child.kill()
            except psutil.Error:
                pass


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
