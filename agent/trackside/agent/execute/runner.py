"""One task, start to end, as clearml-agent's ``execute`` runs it (wire protocol 4.4-4.7):

    in_progress -> code on disk -> environment -> requirements recorded -> the task's process runs, its
    output streamed as log events, pings sent, stop requests watched -> completed / failed / stopped

A bare ``execute`` dequeues the task and reports as a short-lived worker of its own (``<name>:<pid>``); with
``--full-monitoring`` (our daemon's children) the daemon already started the task through its claim and
reports the worker, so the child does neither. Everything that leaves the machine passes the Redactor, and
nothing we write back to the task carries a credential.

Exit codes (the contract with the daemon): 0 the task completed, 1 it failed, 2 it was stopped (tasks.stop,
another status given to it, or this process got SIGTERM/SIGINT), 3 the agent could not run it.

SIGTERM/SIGINT (the daemon stopping, Ctrl-C): the task's whole process tree is ended and the task marked
*stopped* ("the agent running the task was stopped") -- not failed: nothing is wrong with the task, it was
interrupted from outside like a user abort (clearml-agent also marks a task it is interrupted in stopped),
and a stopped task is re-enqueued as it is. A second signal SIGKILLs the tree at once.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import TextIO

from trackside.agent.api import AgentApi, ApiError
from trackside.agent.config import AgentConfig
from trackside.agent.docker.agent_install import RESTARTABLE_ENV, RESULT_ENV
from trackside.agent.execute import launch, owner_token
from trackside.agent.execute.code import CodeError, CodeLocation, prepare_code
from trackside.agent.execute.environment import EnvironmentBuildError, PythonEnvironment, build_environment
from trackside.agent.execute.heartbeat import Heartbeat, worker_report
from trackside.agent.execute.log_stream import Console, LineSplitter, LogStream, OutputPump
from trackside.agent.execute.process import GRACE_SEC, TaskProcess, become_subreaper, end_own_children
from trackside.agent.execute.slots import Slot
from trackside.agent.execute.stop_watch import StopReason, StopWatch
from trackside.agent.redact import Redactor, is_secret_name, looks_like_secret_value, strip_text_url_credentials, \
    url_credentials

EXIT_COMPLETED, EXIT_FAILED, EXIT_STOPPED, EXIT_AGENT_ERROR = 0, 1, 2, 3
AGENT_STOPPED_REASON = "the agent running the task was stopped"   # the daemon uses the same words
# What a restarted service's task may be in to run again: started (its first run) or failed (a run that died).
RESUMABLE_STATUSES = ("in_progress", "failed")
LEFTOVER_GRACE_SEC = 5.0
FINAL_EXIT = {"completed": EXIT_COMPLETED, "failed": EXIT_FAILED, "stopped": EXIT_STOPPED}      # processes the task left behind when it exited (clearml-agent kills them too)


class Interrupted(BaseException):
    """SIGTERM/SIGINT while the code or the environment is being prepared (not an ``Exception``: the
    preparation's own error handling must not swallow it)."""


class TaskRunner:
    def __init__(self, config: AgentConfig, api: AgentApi, task_id: str, *, full_monitoring: bool = False,
                 clone: bool = False, require_queue: bool = False, standalone: bool = False,
                 monitoring: bool = True, log_file: str | None = None, log_level: str = "INFO",
                 optimization: int = 0, out: TextIO = sys.stdout, docker: list[str] | None = None,
                 stream_logs: bool = True, prepare_only: bool = False, use_owner_token: bool = False):
        self.config, self.api, self.task_id = config, api, task_id
        self.full_monitoring, self.clone, self.require_queue = full_monitoring, clone, require_queue
        self.standalone, self.monitoring, self.log_level = standalone, monitoring, log_level
        self.optimization, self.out, self.log_file_path = optimization, out, log_file
        # docker: run the task in a container (``--docker [IMAGE ARGS]``); stream_logs=False: the agent in a
        # container, whose output the agent outside sends as the task's log.
        self.docker, self.stream_logs = docker, stream_logs
        self.prepare_only = prepare_only   # `build`: code and environment only; the task is not touched
        self.use_owner_token = use_owner_token   # the task's process acts as the task's owner (owner_token.py)
        self.worker = self._worker_id()
        self.redact = self._seeded_redactor()
        self.console = Console(self.redact, out)
        self.stream: LogStream | None = None
        self.process: TaskProcess | None = None
        self.watch: StopWatch | None = None
        self.stop_reason: StopReason | None = None
        self.signal: int | None = None
        self._preparing = False
        self._restartable = False   # docker restart policy: the task may fail and run again in its container
        self._wake = threading.Event()

    # -- the whole run -------------------------------------------------------------------------------------
    def run(self) -> int:
        """In a container that docker restarts on failure (a resumable service), a task that ended stopped (a
        stop request, ``docker stop``) exits 0 so that docker leaves it ended; failed ones exit non-zero and
        run again."""
        code = self._run_all()
        return EXIT_COMPLETED if code == EXIT_STOPPED and self._resumable_container() else code

    def _resumable_container(self) -> bool:
        return not self.stream_logs and bool(os.environ.get(RESTARTABLE_ENV))

    def _run_all(self) -> int:
        self._install_signal_handlers()
        adopting = become_subreaper()
        log_file = open(self.log_file_path, "a", encoding="utf-8") if self.log_file_path else None
        self.console.log_file = log_file
        heartbeat = slot = None
        owned = self.full_monitoring   # the task is ours to end: the daemon started it for us
        try:
            task = self._load_task()
            if task is None:
                return EXIT_AGENT_ERROR
            if self._resumable_container() and task.get("status") not in RESUMABLE_STATUSES:
                # docker restarted the container after the task was ended for good (stopped, reset, enqueued)
                self.say(f"task {self.task_id} is {task.get('status')}: not resuming it")
                return EXIT_STOPPED
            self._seed_from_task(task)
            if self.prepare_only:
                return self._prepare_only(task)
            if self.monitoring and self.stream_logs:
                self.stream = LogStream(self.api.call_batch, self.task_id, self.worker,
                                        float(self.config.get("agent.log_flush_interval_sec")),
                                        on_problem=lambda text: self.say(text)).start()
                self.console.stream = self.stream
            queue = os.environ.get(launch.QUEUE_ENV)
            if self.full_monitoring and queue:
                self.note(f"task {self.task_id} pulled from {queue} by worker {self.worker}")
            self._mark_started()
            owned = True
            heartbeat = Heartbeat(self.api.call, self.task_id, float(self.config.get("agent.task_ping_interval_sec")),
                                  None if self.full_monitoring else self.worker,
                                  float(self.config.get("agent.status_report_interval_sec"))).start()
            if self.monitoring:
                self.watch = StopWatch(self.api.call, self.task_id, float(self.config.get("agent.stop_poll_interval_sec")),
                                       self._on_stop, self.console.line,
                                       float(self.config.get("agent.abort_callback_max_timeout")),
                                       ignore=lambda reason: self._restartable and not reason.by_user).start()
            if self.docker is not None:
                return self._run_in_container(task)
            slot = Slot(Path(self.config.get("agent.venvs_dir")))
            return self._run(task, slot, adopting)
        except Interrupted:
            if not owned:
                self.say(f"interrupted before task {self.task_id} started; it is left as it was")
                return EXIT_STOPPED
            return self._end_interrupted()
        except ApiError as exc:
            if not owned:
                self.say(f"cannot run task {self.task_id}: {exc}")
                return EXIT_AGENT_ERROR
            return self._end_agent_error(exc)
        except Exception as exc:  # noqa: BLE001 - an agent bug must still end the task, with the reason
            if not owned:
                self.say(f"cannot run task {self.task_id}: {type(exc).__name__}: {exc}")
                return EXIT_AGENT_ERROR
            return self._end_agent_error(exc)
        finally:
            self._preparing = False
            if self.process is not None and self.process.returncode is None:
                self.process.kill_tree(1.0)
            for part in (heartbeat, self.watch):
                if part is not None:
                    part.close()
            if self.stream is not None:
                self.stream.close()
            if slot is not None:
                slot.release()
            if owned and not self.full_monitoring:
                self._quietly("workers.status_report", worker_report(self.worker, None))
                self._quietly("workers.unregister", {"worker": self.worker})
            if log_file is not None:
                log_file.close()

    def _run(self, task: dict, slot: Slot, adopting: bool) -> int:
        self._preparing = True
        try:
            self._raise_if_ending()
            workdir = Path(self.config.get("agent.venvs_dir")) / f"code-{slot.name}"
            code = prepare_code(task.get("script") or {}, workdir, self.config, self.note)
            self._raise_if_ending()
            env = build_environment(task, code, self.config, self.note, slot=slot.name, standalone=self.standalone)
            self._raise_if_ending()
        except (CodeError, EnvironmentBuildError) as exc:
            if self.stop_reason or self.signal:   # the tools were ended by the stop: not a failure of the task
                return self._end_stopped() if self.stop_reason else self._end_interrupted()
            self.note(str(exc), "ERROR")
            self._set_status("failed", exc.status_reason)
            return EXIT_FAILED
        except _StopRequested:
            return self._end_stopped()
        finally:
            self._preparing = False
        if self.signal:
            return self._end_interrupted()
        if env.requirements:
            self._store_requirements(env.requirements)
        self._call_started("worker starting task execution")
        return self._run_process(task, code, env, adopting)

    def _run_process(self, task: dict, code: CodeLocation, env: PythonEnvironment, adopting: bool) -> int:
        argv = launch.task_command(code, env, self.optimization)
        task_env = launch.task_own_environment(task) if self.config.get("agent.enable_task_env") else {}
        process_env = launch.task_environment(config=self.config, env=env, code=code, task_id=self.task_id,
                                              worker=self.worker, log_level=self.log_level, task_env=task_env)
        owner_folder = None
        if self.use_owner_token:
            token = owner_token.fetch(self.api.call, task, self.note, **self._own_token())
            if token:
                self.redact.add(token)
                owner_folder = Path(tempfile.mkdtemp(prefix="trackside-owner-"))
                config_file = owner_token.write_config_without_credentials(self.config, owner_folder)
                process_env = owner_token.as_owner(process_env, token, config_file)
        try:
            return self._run_process_with(argv, code, process_env, adopting)
        finally:
            if owner_folder is not None:
                shutil.rmtree(owner_folder, ignore_errors=True)

    def _run_process_with(self, argv: list[str], code: CodeLocation, process_env: dict[str, str],
                          adopting: bool) -> int:
        self.note("Environment setup completed successfully")
        self.note(f"Running task id [{self.task_id}]:")
        # Its own event: the moment the task's process starts (what "time to start" is measured to).
        self.note(f"running: {shlex.join(argv)} (in {code.cwd})", new_event=True)
        flush_sec = float(self.config.get("agent.log_flush_interval_sec"))
        self.process = TaskProcess(argv, code.cwd, process_env, adopt_orphans=adopting, on_exit=self._wake.set)
        splitter = LineSplitter(self.redact.split_safe, bool(self.config.get("agent.suppress_carriage_return")))
        pump = OutputPump(self.process.output_fd, splitter, self.console.line, partial_after=flush_sec).start()
        while not (self.process.exited.is_set() or self.stop_reason or self.signal):
            self._wake.wait(5.0)
            self._wake.clear()
        if self.process.exited.is_set() and not (self.watch and self.watch.waiting_for_callback):
            leftovers = self.process.members()
            if leftovers:
                self.note(f"ending {len(leftovers)} process(es) the task left running", "WARNING")
                self.process.kill_tree(LEFTOVER_GRACE_SEC)
        else:
            self.process.kill_tree(GRACE_SEC)
        if not pump.join(10.0):
            self.note("a process that left the task's session still holds its output; not waiting for it",
                      "WARNING")
        if self.signal:
            return self._end_interrupted()
        if self.stop_reason or (self.watch and self.watch.waiting_for_callback):
            return self._end_stopped()
        code_ = self.process.returncode
        if code_ == 0:
            self.note("Process completed successfully")
            self._set_status("completed", "worker execution done")
            return EXIT_COMPLETED
        self.note(f"Process failed, exit code {code_}")
        self._set_status("failed", f"worker execution exit code {code_}")
        return EXIT_FAILED

    def _prepare_only(self, task: dict) -> int:
        """The task's code and environment, in ``venvs_dir`` slot 0 of a fresh machine (an image being built),
        and nothing sent to the server."""
        slot = Slot(Path(self.config.get("agent.venvs_dir")))
        try:
            workdir = Path(self.config.get("agent.venvs_dir")) / f"code-{slot.name}"
            code = prepare_code(task.get("script") or {}, workdir, self.config, self.say)
            env = build_environment(task, code, self.config, self.say, slot=slot.name, standalone=self.standalone)
        except (CodeError, EnvironmentBuildError) as exc:
            self.say(str(exc))
            return EXIT_FAILED
        finally:
            slot.release()
        self.say(f"environment ready: {env.python}")
        return EXIT_COMPLETED

    def _run_in_container(self, task: dict) -> int:
        from trackside.agent.docker.launch import ContainerLaunch, LAUNCH_ERRORS, BOOTSTRAP_FAILED
        inner = ["execute", "--id", self.task_id, "--full-monitoring", "--log-to-stdout",
                 "--log-level", self.log_level] + ["-O"] * self.optimization \
            + (["--use-owner-token"] if self.use_owner_token else [])
        token = None
        if self.use_owner_token:   # the container gets the owner's token, never this agent's credentials
            token = owner_token.fetch(self.api.call, task, self.note, **self._own_token())
            if token:
                self.redact.add(token)
        launch = ContainerLaunch(self.config, task, self.worker, self.docker, inner, self.console.line, self.note,
                                 owner_token=token)
        result = None
        try:
            try:
                launch.start(on_exit=self._wake.set)
                self._restartable = launch.restartable
            except LAUNCH_ERRORS as exc:
                self.note(str(exc), "ERROR")
                self._set_status("failed", f"docker: {exc}")
                return EXIT_FAILED
            while not (launch.exited or self.stop_reason or self.signal):
                self._wake.wait(5.0)
                self._wake.clear()
            if not launch.exited:   # the agent inside ends the task's processes on SIGTERM
                launch.stop(GRACE_SEC + 5)
        finally:
            result = launch.finish()
        if self.signal:
            return self._end_interrupted()
        if self.stop_reason:
            return self._end_stopped()
        if result and result.get("status") in FINAL_EXIT:   # what the agent inside decided
            self._set_status(result["status"], result.get("reason") or "", bool(result.get("force")))
            return FINAL_EXIT[result["status"]]
        status = self._current_status()
        if status in FINAL_EXIT:   # a restartable service: the agent inside ended the task itself
            return FINAL_EXIT[status]
        code = launch.exit_code
        reason = ("the container could not start the agent (see the task log)" if code == BOOTSTRAP_FAILED
                  else f"docker container exit code {code}")
        self.note(f"Process failed: {reason}")
        self._set_status("failed", reason)
        return EXIT_FAILED

    def _own_token(self) -> dict:
        """This agent's own token and how to renew it, when it runs with one (in a task container)."""
        token = getattr(self.api, "token", None)
        return {"own_token": token, "renew": getattr(self.api, "renew_token", None)} if token else {}

    # -- how it ends -------------------------------------------------------------------------------------------
    def _end_stopped(self) -> int:
        reason = self.stop_reason
        if reason is None or reason.by_user:
            status = self._current_status()
            if status == "failed":
                self.note("Process aborted by user - Task status was Failed")
                return EXIT_FAILED
            self.note("Process aborted by user")
            if status == "in_progress":
                self._set_status("stopped", "task was stopped by tasks.stop")
            return EXIT_STOPPED
        if reason.name == "reset":
            self.note("Task was reset unexpectedly")
        elif reason.name == "not_found":
            self.note("Task not found")
        else:
            self.note(f"Task status changed unexpectedly (status: {reason.status}), terminating task process.")
        return EXIT_FAILED if reason.status == "failed" else EXIT_STOPPED

    def _end_interrupted(self) -> int:
        name = signal.Signals(self.signal).name if self.signal else "a signal"
        self.note(f"agent stopped ({name}): stopping the task", "WARNING")
        if self._current_status() == "in_progress":
            self._set_status("stopped", AGENT_STOPPED_REASON)
        return EXIT_STOPPED

    def _end_agent_error(self, exc: BaseException) -> int:
        self.note(f"agent error: {type(exc).__name__}: {exc}", "ERROR")
        if self.process is not None and self.process.returncode is None:
            self.process.kill_tree(GRACE_SEC)
        self._set_status("failed", f"agent error: {type(exc).__name__}", force=True)
        return EXIT_AGENT_ERROR

    # -- stop requests and signals ---------------------------------------------------------------------------
    def _on_stop(self, reason: StopReason) -> None:
        """From the stop watch's thread: say so, wake the main thread; a preparation is cut short."""
        label = "Task failed" if reason.name == "exception" else "User aborted"
        self.console.line(f"{label}: stopping task ({reason.code}) {reason.name}", "ERROR")
        self.stop_reason = reason
        self._wake.set()
        if self._preparing:
            end_own_children()

    def _raise_if_ending(self) -> None:
        if self.signal:
            raise Interrupted()
        if self.stop_reason:
            raise _StopRequested()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            if self.signal is not None:   # a second signal: no more grace
                if self.process is not None:
                    try:
                        os.killpg(self.process.pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            self.signal = signum
            self._wake.set()
            if self._preparing:
                raise Interrupted()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- steps -----------------------------------------------------------------------------------------------
    def _load_task(self) -> dict | None:
        task = self.api.call("tasks.get_by_id", {"task": self.task_id})["task"]
        if self.clone:
            self.say(f"Cloning task id={self.task_id}")
            clone = self.api.call("tasks.clone", {"task": self.task_id,
                                                  "new_task_name": f"Clone of {task.get('name', '')}"})["id"]
            self.say(f"Task cloned, new task id={clone}")
            self.task_id = clone
            task = self.api.call("tasks.get_by_id", {"task": clone})["task"]
        elif self.require_queue and not self.full_monitoring and task.get("status") != "queued":
            self.say(f"Execution required enqueued task, but task id={self.task_id} is not queued "
                     f"(it is {task.get('status')})")
            return None
        return task

    def _mark_started(self) -> None:
        if not self.full_monitoring and not self.clone:
            try:   # out of its queue, if it is in one (clearml-agent does this for any bare execute)
                dequeued = self.api.call("tasks.dequeue", {"task": self.task_id, "new_status": "in_progress"})
                if dequeued.get("updated"):
                    self._call_started("starting execution soon", message="")
            except ApiError:
                pass
        self._call_started("worker started execution")
        if not self.full_monitoring:
            self._quietly("workers.status_report", worker_report(self.worker, self.task_id))

    def _call_started(self, reason: str, message: str | None = None) -> None:
        self.api.call("tasks.started", {
            "task": self.task_id, "force": True, "status_reason": self.redact(reason),
            "status_message": self._change_message() if message is None else self.redact(message)})

    def _store_requirements(self, requirements: dict) -> None:
        """``tasks.set_requirements``: frozen lines can hold ``git+https://user:token@`` URLs; never stored."""
        clean = {key: self._clean(value) for key, value in requirements.items()}
        self._quietly("tasks.set_requirements", {"task": self.task_id, "requirements": clean})

    def _clean(self, value):
        if isinstance(value, str):
            return self.redact(strip_text_url_credentials(value))
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        return value

    def _set_status(self, status: str, reason: str, force: bool = False) -> None:
        """The task's final status, once its console log is all on the server (readers of a finished task
        see its whole log)."""
        self._flush_logs()
        if not self.stream_logs and os.environ.get(RESULT_ENV):   # in a container: the agent outside sets it
            self._write_result(status, reason, force)
            return
        data = {"task": self.task_id, "force": force, "status_reason": self.redact(reason),
                "status_message": self._change_message()}
        try:
            self.api.call(f"tasks.{status}", data)
        except (ApiError, OSError) as exc:
            self.say(f"could not mark task {self.task_id} {status}: {exc}")

    def _write_result(self, status: str, reason: str, force: bool) -> None:
        try:
            with open(os.environ[RESULT_ENV], "w", encoding="utf-8") as out:
                json.dump({"status": status, "reason": self.redact(reason), "force": force}, out)
        except OSError as exc:
            self.say(f"could not hand the task's end ({status}) to the agent outside: {exc}")

    def _flush_logs(self) -> None:
        if self.stream is not None:
            self.console.stream = None   # later lines (there are few) are shown here only
            self.stream.close()
            self.stream = None

    def _current_status(self) -> str | None:
        try:
            tasks = self.api.call("tasks.get_all", {"id": [self.task_id], "only_fields": ["status"],
                                                    "search_hidden": True}).get("tasks") or []
        except (ApiError, OSError):
            return "in_progress"   # unknown: try to end it as if it still ran
        return tasks[0].get("status") if tasks else None

    def _change_message(self) -> str:
        return self.redact(f"Changed by trackside-agent {self.worker}")

    # -- secrets ---------------------------------------------------------------------------------------------
    def _seeded_redactor(self) -> Redactor:
        redact = Redactor([self.config.secret_key, self.config.get("agent.git_pass") or "",
                           self.config.auth_token or ""])
        redact.add(*_secret_leaves(self.config.values))
        redact.add_environment(dict(os.environ))
        redact.add_environment(launch.configured_environment(self.config))
        return redact

    def _seed_from_task(self, task: dict) -> None:
        user, password = url_credentials((task.get("script") or {}).get("repository") or "")
        self.redact.add(password or user)   # https://TOKEN@host: the user part is the token
        self.redact.add_environment(launch.task_own_environment(task))

    # -- output ----------------------------------------------------------------------------------------------
    def note(self, text: str, level: str = "INFO", new_event: bool = False) -> None:
        """An agent line: on this terminal and in the task's console log."""
        self.console.note(text, level, new_event)

    def say(self, text: str) -> None:
        """A line for this terminal only (nothing to do with the task's log)."""
        try:
            print(self.redact(f"trackside-agent: {text}"), file=self.out, flush=True)
        except (OSError, ValueError):
            pass

    def _quietly(self, endpoint: str, data: dict) -> None:
        try:
            self.api.call(endpoint, data)
        except (ApiError, OSError) as exc:
            self.say(f"{endpoint}: {exc}")

    def _worker_id(self) -> str:
        configured = (self.config.get("agent.worker_id") or "").strip()
        if configured:
            return configured
        name = (self.config.get("agent.worker_name") or "").strip() or socket.gethostname()
        return f"{name}:{os.getpid()}"


class _StopRequested(Exception):
    """A stop request seen while the task was being prepared."""


def _secret_leaves(tree, name: str = "") -> list[str]:
    """String values in the configuration whose key names a secret (``secret_key``, ``git_pass``,
    ``sdk.aws.s3.secret``...)."""
    if isinstance(tree, dict):
        return [v for key, value in tree.items() for v in _secret_leaves(value, str(key))]
    if isinstance(tree, str) and is_secret_name(name) and looks_like_secret_value(tree):
        return [tree]
    return []
