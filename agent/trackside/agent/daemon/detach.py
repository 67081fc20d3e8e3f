"""``daemon --detached``: the agent re-launched in the background, and ``daemon --stop`` to end it.

Files live under ``~/.clearml/trackside-agent/``: ``run/<key>.<slot>.pid`` and ``logs/daemon-<key>.<slot>.log``.
The key is derived from what tells agents apart on the command line (queues, GPUs, a configured worker id),
so ``--stop`` with the same arguments finds the agent that ``--detached`` started; the slot lets several
agents run with the same arguments (as clearml-agent's numbered workers). A PID file is a JSON record
``{pid, create_time, worker, queues, log}``: the process creation time guards against a recycled PID, and
``--stop`` also checks the command line before it signals anything, so only our own agent is ever stopped.

The parent reserves the slot (exclusive create, naming itself and the log file), starts the child in a new
session with its output in the log file, and waits until the child has registered (it replaces the record
with its own: PID and worker id) or exits.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

# Set for the re-launched child: the PID file it owns (and the sign that it is the detached one).
PID_FILE_ENV = "TRACKSIDE_AGENT_PID_FILE"
READY_TIMEOUT_SEC = 60.0
STOP_TIMEOUT_SEC = 45.0  # the daemon gives its children 30 s, then unregisters


def runtime_dir() -> Path:
    return Path.home() / ".clearml" / "trackside-agent"


def run_dir() -> Path:
    return runtime_dir() / "run"


def log_dir() -> Path:
    return runtime_dir() / "logs"


def instance_key(queues: list[str], gpus: str | None, cpu_only: bool, worker_id: str) -> str:
    """Readable and stable: the first queue's name plus a digest of every distinguishing argument."""
    raw = json.dumps({"queues": queues, "gpus": gpus, "cpu_only": cpu_only, "worker": worker_id}, sort_keys=True)
    digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", queues[0] if queues else "default")[:40].strip("._") or "queue"
    return f"{label}-{digest}"


@dataclass
class PidRecord:
    path: Path
    pid: int
    create_time: float | None = None
    worker: str | None = None
    queues: list | None = None
    log: str | None = None

    @classmethod
    def read(cls, path: Path) -> "PidRecord | None":
        try:
            data = json.loads(path.read_text())
            return cls(path, int(data["pid"]), data.get("create_time"), data.get("worker"), data.get("queues"),
                       data.get("log"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def process(self) -> psutil.Process | None:
        """The live agent process this record names; None if it is gone or the PID now belongs to another."""
        try:
            process = psutil.Process(self.pid)
            if self.create_time is not None and abs(process.create_time() - self.create_time) > 1.0:
                return None
            return process if is_agent_daemon(process.cmdline()) else None
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None


def is_agent_daemon(cmdline: list[str]) -> bool:
    text = " ".join(cmdline)
    return ("trackside.agent" in text or "trackside-agent" in text) and "daemon" in cmdline


def write_record(path: Path, pid: int, **fields) -> None:
    """Atomically (write and rename), owner-only."""
    data = {"pid": pid, "create_time": psutil.Process(pid).create_time(), **fields}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file)
    os.replace(temporary, path)


def records(key: str | None = None) -> list[PidRecord]:
    folder = run_dir()
    pattern = f"{key}.*.pid" if key else "*.pid"
    found = [PidRecord.read(path) for path in sorted(folder.glob(pattern))] if folder.is_dir() else []
    return [record for record in found if record is not None]


def reserve_slot(key: str) -> tuple[Path, int]:
    """The lowest free slot's PID file, created exclusively (a stale one, whose process is gone, is reused).
    It names the launcher until the child replaces it with its own record."""
    folder = run_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for slot in range(10_000):
        path = folder / f"{key}.{slot}.pid"
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                record = PidRecord.read(path)
                if record is not None and record.process() is not None:
                    break  # taken by a live agent
                if record is None and time.time() - _mtime(path) < 5:
                    break  # being written right now by another launcher
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as file:
                json.dump({"pid": os.getpid(), "create_time": psutil.Process().create_time(),
                           "log": str(log_dir() / f"daemon-{key}.{slot}.log")}, file)
            return path, slot
    raise RuntimeError(f"no free slot for {key} in {folder}")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def launch_detached(argv: list[str], key: str) -> int:
    """Start ``trackside-agent <argv>`` in the background; print its PID and log; 0 once it has registered."""
    pid_file, _ = reserve_slot(key)
    log_path = Path(PidRecord.read(pid_file).log)
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**os.environ, PID_FILE_ENV: str(pid_file), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        child = subprocess.Popen([sys.executable, "-m", "trackside.agent", *argv], env=env, stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + READY_TIMEOUT_SEC
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            pid_file.unlink(missing_ok=True)
            print(f"trackside-agent: the detached agent exited with code {code}; its log, {log_path}, ends with:",
                  file=sys.stderr)
            print(_tail(log_path), file=sys.stderr)
            return code or 1
        record = PidRecord.read(pid_file)
        if record is not None and record.pid == child.pid and record.worker:
            print(f"trackside-agent daemon running in the background: worker {record.worker}, PID {child.pid}")
            print(f"log: {log_path}")
            return 0
        time.sleep(0.1)
    record = PidRecord.read(pid_file)
    if record is None or record.pid == os.getpid():  # still starting: --stop must find the child, not us
        write_record(pid_file, child.pid, log=str(log_path))
    print(f"trackside-agent daemon started in the background (PID {child.pid}), not registered yet; log: {log_path}")
    return 0


def stop(found: list[PidRecord], what: str) -> int:
    """SIGTERM each live agent, wait for it to end, remove its PID file; 1 when nothing was running."""
    if not found:
        print(f"trackside-agent: no detached agent is running for {what}", file=sys.stderr)
        return 1
    stopping = []
    for record in found:
        process = record.process()
        if process is None:
            print(f"PID file {record.path} was stale (process {record.pid} is gone); removed")
            record.path.unlink(missing_ok=True)
            continue
        process.send_signal(signal.SIGTERM)
        stopping.append((record, process))
    _, alive = psutil.wait_procs([process for _, process in stopping], timeout=STOP_TIMEOUT_SEC)
    code = 0
    for record, process in stopping:
        if process in alive:
            print(f"trackside-agent: worker {record.worker} (PID {record.pid}) did not stop within "
                  f"{STOP_TIMEOUT_SEC:.0f} s", file=sys.stderr)
            code = 1
            continue
        record.path.unlink(missing_ok=True)
        print(f"stopped worker {record.worker or '?'} (PID {record.pid})")
    return code


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
