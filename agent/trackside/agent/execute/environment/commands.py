"""Run a build command (pip, poetry, conda) with its output streamed line by line to the task log."""
from __future__ import annotations

import os
import subprocess
from collections import deque
from pathlib import Path
from typing import Callable, Sequence

TAIL_LINES = 8


class CommandFailed(Exception):
    def __init__(self, command: Sequence[str], returncode: int, tail: list[str]):
        self.returncode = returncode
        self.tail = tail
        super().__init__(f"{' '.join(map(str, command[:4]))}{' ...' if len(command) > 4 else ''} failed "
                         f"(exit {returncode})" + (": " + " | ".join(tail[-3:]) if tail else ""))


def run_logged(command: Sequence[str | Path], log: Callable[[str], None], env: dict | None = None,
               cwd: Path | None = None) -> None:
    """Raises CommandFailed with the last lines of output when the command exits non-zero."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen([str(part) for part in command], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                   text=True, errors="replace", bufsize=1)
    except OSError as exc:
        raise CommandFailed(list(map(str, command)), 127, [str(exc)]) from None
    with process:
        for line in process.stdout:
            line = line.rstrip()
            if line:
                tail.append(line)
                log(line)
    if process.returncode != 0:
        raise CommandFailed(list(map(str, command)), process.returncode, list(tail))


def build_env(extra: dict | None = None) -> dict:
    """The agent's environment for build tools: no prompts, unbuffered output, no foreign venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "CONDA_PREFIX")}
    env.update({"PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    env.update(extra or {})
    return env
