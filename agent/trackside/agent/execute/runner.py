"""One task, start to end, as clearml-agent's ``execute`` does it (wire protocol 4.4-4.7):

    status in_progress -> code on disk -> environment -> requirements recorded -> the task's process runs,
    its output streamed as log events, pings sent, stop requests watched -> completed / failed / stopped

Bare ``execute`` dequeues the task and reports as its own short-lived worker (``<name>:<pid>``); with
``--full-monitoring`` (our daemon's children) the daemon already started the task through its lease and
reports the worker, so the child does neither. Everything that leaves the machine passes the Redactor.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from trackside.agent.api import AgentApi, ApiError
from trackside.agent.config import AgentConfig
from trackside.agent.execute.code import CodeError, prepare_code
from trackside.agent.execute.environment import EnvironmentBuildError, PythonEnvironment, build_environment
from trackside.agent.execute.log_stream import LogStream
from trackside.agent.execute.process import TaskProcess
from trackside.agent.execute.slots import Slot
from trackside.agent.execute.stop_watch import StopWatch
from trackside.agent.redact import Redactor, is_secret_name, url_credentials

# The child's exit codes: the contract with the daemon.
EXIT_COMPLETED, EXIT_FAILED, EXIT_STOPPED, EXIT_AGENT_ERROR = 0, 1, 2, 3
QUEUE_ENV = "TRACKSIDE_AGENT_QUEUE"
# Variables of the agent's own that the task's process must not inherit.
AGENT_ONLY_ENV = ("CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE", "CLEARML_AGENT_GIT_USER", "CLEARML_AGENT_GIT_PASS",
                  "TRAINS_AGENT_GIT_USER", "TRAINS_AGENT_GIT_PASS", QUEUE_ENV)


class TaskRunner:
    def __init__(self, config: AgentConfig, api: AgentApi, task_id: str, *, full_monitoring: bool = False,
                 clone: bool = False, require_queue: bool = False, standalone: bool = False,
                 monitoring: bool = True, log_file: str | None = None, log_level: str = "INFO",
                 optimization: int = 0, out: TextIO = sys.stdout):
        self.config, self.api, self.task_id = config, api, task_id
        self.full_monitoring, self.clone, self.require_queue = full_monitoring, clone, require_queue
        self.standalone, self.monitoring, self.log_level, self.optimization = standalone, monitoring, log_level, optimization
        self.out = out
        self.log_file = open(log_file, "a", encoding="utf-8") if log_file else None
        self.worker = self._worker_id()
        self.redact = Redactor([config.secret_key, config.get("agent.git_pass")])
        self.redact.add_environment(dict(os.environ))
        self.redact.add_environment(config.get("agent.environment") or {})
        self.logs: LogStream | None = None
        self.process: TaskProcess | None = None
        self.terminated = threading.Event()  # SIGTERM/SIGINT to this execute (the daemon is stopping)

    # -- the whole run -------------------------------------------------------------------------------------
    def run(self) -> int:
        try:
            task = self._load_task()
        except ApiError as exc:
            self.say(f"cannot run task {self.task_id}: {exc.message or exc}")
            return EXIT_AGENT_ERROR
        if task is None:
            return EXIT_AGENT_ERROR
        self.redact.add(*url_credentials((task.get("script") or {}).get("repository") or ""))
        self.redact.add_environment(self._task_environment(task))
        self.logs = LogStream(self.api.call_batch, self.task_id, self.worker, self.redact,
                              flush_sec=float(self.config.get("agent.log_flush_interval_sec")), enabled=self.monitoring)
        slot = Slot(Path(self.config.get("agent.venvs_dir")))
        self._install_signal_handlers()
        try:
            return self._run(task, slot)
        except Exception as exc:  # noqa: BLE001 - an agent bug must still end the task, with the reason
            self.log(f"agent error: {type(exc).__name__}: {exc}", "error")
            self._set_status("failed", f"agent error: {type(exc).__name__}")
            return EXIT_AGENT_ERROR
        finally:
            self.logs.close()
            slot.release()
            if not self.full_monitoring:
                self._report_worker(None)
                self._quietly("workers.unregister", {"worker": self.worker, "queues": []})
            if self.log_file:
                self.log_file.close()

    def _run(self, task: dict, slot: Slot) -> int:
        queue = os.environ.get(QUEUE_ENV)
        if self.full_monitoring and queue:
            self.log(f"task {self.task_id} pulled from {queue} by worker {self.worker}")
        self._mark_started()
        script = task.get("script") or {}
        workdir = Path(self.config.get("agent.venvs_dir")) / f"code-{slot.name}"
        try:
            code = prepare_code(script, workdir, self.config, self.log)
            if self.terminated.is_set():
                return self._stopped_by_agent()
            env = build_environment(task, code, self.config, self.log, slot=slot.name, standalone=self.standalone)
        except (CodeError, EnvironmentBuildError) as exc:
            self.log(str(exc), "error")
            self._set_status("failed", exc.status_reason)
            return EXIT_FAILED
        if self.terminated.is_set():
            return self._stopped_by_agent()
        if env.requirements:
            self._quietly("tasks.set_requirements", {"task": self.task_id, "requirements": env.requirements})
        self._call_started("worker starting task execution")
        return self._run_process(task, code, env)

    def _run_process(self, task: dict, code, env: PythonEnvironment) -> int:
        argv = [env.shell, code.entry_point] if env.shell else \
            [str(env.python), "-u", *(["-" + "O" * self.optimization] if self.optimization else []), code.entry_point]
        self.log(f"running: {' '.join(argv)} (in {code.cwd})")
        self.process = TaskProcess(argv, code.cwd, self._process_env(task, env))
        watch = None
        if self.monitoring:
            watch = StopWatch(self.api.call, self.task_id, float(self.config.get("agent.stop_poll_interval_sec")),
                              self._on_stop_request).start()
        pinger = _Pinger(self.api, self.task_id, float(self.config.get("agent.task_ping_interval_sec")))
        if self.monitoring:
            pinger.start()
        try:
            for line in self.process.lines():
                self._echo(line)
                if self.logs:
                    self.logs.write(line)
            code_ = self.process.wait()
        finally:
            pinger.close()
            if watch:
                watch.close()
        if watch and watch.reason:
            if watch.ended_as is None:
                self.log("User aborted: stopping task", "error")
                self._set_status("stopped", "task was stopped by tasks.stop")
            return EXIT_STOPPED
        if self.terminated.is_set():
            return self._stopped_by_agent()
        if code_ == 0:
            self._set_status("completed", "worker execution done")
            return EXIT_COMPLETED
        self._set_status("failed", f"worker execution exit code {code_}")
        return EXIT_FAILED

    # -- steps -----------------------------------------------------------------------------------------------
    def _load_task(self) -> dict | None:
        task = self.api.call("tasks.get_by_id", {"task": self.task_id})["task"]
        if self.clone:
            clone = self.api.call("tasks.clone", {"task": self.task_id})["id"]
            self.say(f"cloned task {self.task_id} as {clone}: running the clone")
            self.task_id = clone
            task = self.api.call("tasks.get_by_id", {"task": clone})["task"]
        if self.require_queue and task.get("status") != "queued":
            self.say(f"task {self.task_id} is {task.get('status')}, not queued (--require-queue)")
            return None
        return task

    def _mark_started(self) -> None:
        if not self.full_monitoring:
            try:
                dequeued = self.api.call("tasks.dequeue", {"task": self.task_id, "new_status": "in_progress"})
                if dequeued.get("updated"):
                    self._call_started("starting execution soon")
            except ApiError:
                pass  # not queued: a bare execute of a created or stopped task
        self._call_started("worker started execution")
        if not self.full_monitoring:
            self._report_worker(self.task_id)

    def _call_started(self, reason: str) -> None:
        self.api.call("tasks.started", {"task": self.task_id, "force": True, "status_reason": reason,
                                         "status_message": f"Changed by trackside-agent {self.worker}"})

    def _set_status(self, status: str, reason: str) -> None:
        """completed / failed / stopped, unless someone else already ended the task."""
        data = {"task": self.task_id, "force": status == "failed", "status_reason": self.redact(reason),
                "status_message": f"Changed by trackside-agent {self.worker}"}
        try:
            self.api.call(f"tasks.{status}", data)
        except ApiError as exc:
            self.say(f"could not mark the task {status}: {exc.message}")

    def _stopped_by_agent(self) -> int:
        self.log("the agent running this task was stopped: stopping the task", "warning")
        self._set_status("stopped", "the agent running the task was stopped")
        return EXIT_STOPPED

    def _on_stop_request(self, reason: str) -> None:
        if self.process is not None:
            self.process.kill_tree(on_note=lambda note: self.log(note, "warning"))

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            self.terminated.set()
            if self.process is not None:
                threading.Thread(target=self.process.kill_tree, daemon=True).start()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- the task's process environment ---------------------------------------------------------------------
    def _process_env(self, task: dict, env: PythonEnvironment) -> dict[str, str]:
        result = {k: v for k, v in os.environ.items() if k not in AGENT_ONLY_ENV}
        result.update(env.env)
        if self.config.get("agent.apply_environment"):
            result.update({str(k): str(v) for k, v in (self.config.get("agent.environment") or {}).items()})
        result.update(self._task_environment(task))
        result.update({
            "CLEARML_TASK_ID": self.task_id, "TRAINS_TASK_ID": self.task_id,
            "CLEARML_LOG_LEVEL": self.log_level, "CLEARML_LOG_TASK_TO_BACKEND": "0",  # the agent sends stdout
            "CLEARML_WORKER_ID": self.worker,
            "CLEARML_API_HOST": self.config.api_server, "CLEARML_WEB_HOST": self.config.web_server or "",
            "CLEARML_FILES_HOST": self.config.files_server or "",
            "CLEARML_API_ACCESS_KEY": self.config.access_key, "CLEARML_API_SECRET_KEY": self.config.secret_key,
            "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8",
        })
        return result

    def _task_environment(self, task: dict) -> dict[str, str]:
        """``agent.enable_task_env``: the task's ``Environment`` hyperparameters become variables."""
        if not self.config.get("agent.enable_task_env"):
            return {}
        section = (task.get("hyperparams") or {}).get("Environment") or {}
        return {str(p.get("name", k)): str(p.get("value", "")) for k, p in section.items() if isinstance(p, dict)}

    # -- output ----------------------------------------------------------------------------------------------
    def log(self, text: str, level: str = "info") -> None:
        """An agent line: on this terminal and in the task's console log."""
        for line in str(text).splitlines() or [""]:
            self._echo(line)
            if self.logs:
                self.logs.write(line, level)

    def say(self, text: str) -> None:
        self._echo(f"trackside-agent: {text}")

    def _echo(self, line: str) -> None:
        safe = self.redact(line)
        print(safe, file=self.out, flush=True)
        if self.log_file:
            self.log_file.write(safe + "\n")
            self.log_file.flush()

    # -- the worker a bare execute reports as ----------------------------------------------------------------
    def _worker_id(self) -> str:
        configured = os.environ.get("CLEARML_WORKER_ID") or self.config.get("agent.worker_id")
        if configured:
            return configured
        name = self.config.get("agent.worker_name") or socket.gethostname()
        return f"{name}:{os.getpid()}"

    def _report_worker(self, task: str | None) -> None:
        data = {"worker": self.worker, "timestamp": int(time.time() * 1000), "is_daemon": False}
        if task:
            data["task"] = task
        self._quietly("workers.status_report", data)

    def _quietly(self, endpoint: str, data: dict) -> None:
        try:
            self.api.call(endpoint, data)
        except (ApiError, OSError) as exc:
            self.say(f"{endpoint}: {getattr(exc, 'message', exc)}")


class _Pinger:
    """``tasks.ping`` soon after launch, then every ``interval``: the watchdog's sign of life."""

    FIRST_SEC = 5.0

    def __init__(self, api: AgentApi, task: str, interval: float):
        self.api, self.task, self.interval = api, task, max(1.0, interval)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pinger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()

    def _run(self) -> None:
        wait = self.FIRST_SEC
        while not self._done.wait(wait):
            try:
                self.api.call("tasks.ping", {"task": self.task})
            except Exception:  # noqa: BLE001 - next time
                pass
            wait = self.interval
