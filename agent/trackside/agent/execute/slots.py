"""Venv build slots: ``agent.venvs_dir/<n>``, the first one no other execute holds (an flock held for the
whole run), so concurrent tasks (services mode, parallel executes) never build in the same folder."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

MAX_SLOTS = 256


class Slot:
    def __init__(self, venvs_dir: Path):
        venvs_dir.mkdir(parents=True, exist_ok=True)
        for n in range(MAX_SLOTS):
            fd = os.open(venvs_dir / f".{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.name, self._fd = str(n), fd
            self.folder = venvs_dir / self.name
            return
        raise RuntimeError(f"{venvs_dir}: all {MAX_SLOTS} venv slots are in use")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None
