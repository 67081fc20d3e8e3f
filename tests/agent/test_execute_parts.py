"""Execute's parts without a server: the stop rules (with abort callbacks), venv build slots, the task's
command line and environment, and the process tree ending."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from trackside.agent.config import load_config
from trackside.agent.execute.code import CodeLocation
from trackside.agent.execute.environment import PythonEnvironment
from trackside.agent.execute.launch import task_command, task_environment
from trackside.agent.execute.process import TaskProcess
from trackside.agent.execute.slots import Slot
from trackside.agent.execute.stop_watch import StopWatch


# -- stop rules ---------------------------------------------------------------------------------------------
class FakeTasks:
    """``tasks.get_all`` answering from ``self.task`` (None: the task is gone; an exception: the API is down)."""

    def __init__(self, **task):
        self.task = {"status": "in_progress", "status_message": "", **task}

    def __call__(self, endpoint, data):
        assert endpoint == "tasks.get_all" and data["search_hidden"]
        if isinstance(self.task, Exception):
            raise self.task
        return {"tasks": [] if self.task is None else [self.task]}


def watch(tasks: FakeTasks, lines: list) -> StopWatch:
    return StopWatch(tasks, "t1", 1.0, on_stop=lambda reason: None, log=lambda text, level: lines.append(text),
                     callback_max_sec=60)


def test_the_reference_stop_rules():
    lines = []
    tasks = FakeTasks()
    w = watch(tasks, lines)
    assert w.check() is None
    tasks.task["status_message"] = "stopping"
    assert (w.check().code, w.check().name) == (1, "stopped")
    tasks.task = {"status": "in_progress", "status_message": "launch by agent"}
    assert w.check() is None
    for status, name in [("failed", "exception"), ("stopped", "status_changed"), ("queued", "status_changed"),
                         ("published", "status_changed"), ("closed", "status_changed")]:
        tasks.task = {"status": status}
        assert watch(tasks, lines).check().name == name
    tasks.task = {"status": "completed"}            # the SDK may complete itself; its process finishes anyway
    assert watch(tasks, lines).check() is None
    tasks.task = None
    assert watch(tasks, lines).check().name == "not_found"
    tasks.task = ConnectionError("API away")
    assert watch(tasks, lines).check() is None


def test_a_reset_task_is_trusted_after_four_looks_in_a_row():
    lines = []
    tasks = FakeTasks(status="created")
    w = watch(tasks, lines)
    assert [w.check() for _ in range(4)] == [None] * 4
    assert w.check().name == "reset"
    assert lines[-1].endswith("(4/4).")
    w2 = watch(tasks, lines)
    for _ in range(3):
        w2.check()
    tasks.task = {"status": "in_progress"}
    w2.check()
    tasks.task = {"status": "created"}
    assert [w2.check() for _ in range(4)] == [None] * 4    # the count starts over


def test_an_abort_callback_is_waited_for_until_it_completes():
    lines = []
    tasks = FakeTasks(status_message="stopping", runtime={"_abort_callback_timeout": "30", "_abort_poll_freq": "10"})
    w = watch(tasks, lines)
    assert w.check() is None and w.waiting_for_callback
    assert "waiting for max 40 sec" in lines[-1]
    assert w.check() is None
    tasks.task["runtime"]["_abort_callback_completed"] = "1"
    assert w.check().name == "stopped"
    assert "Task abort callback completed" in lines[-1]


def test_an_abort_callback_that_never_completes_times_out_at_the_cap():
    lines = []
    tasks = FakeTasks(status_message="stopping", runtime={"_abort_callback_timeout": "600"})
    w = StopWatch(tasks, "t1", 1.0, on_stop=lambda r: None, log=lambda t, lvl: lines.append(t), callback_max_sec=0.2)
    assert w.check() is None
    time.sleep(0.25)
    assert w.check().name == "stopped" and "timed out" in lines[-1]


# -- slots ------------------------------------------------------------------------------------------------
def test_slots_are_exclusive_while_held_and_reused_once_released(tmp_path):
    first, second = Slot(tmp_path), Slot(tmp_path)
    assert (first.name, second.name) == ("0", "1")
    held = subprocess.run([sys.executable, "-c", (
        "import sys; sys.path[:0] = " + repr(sys.path) + "\n"
        "from pathlib import Path; from trackside.agent.execute.slots import Slot\n"
        f"print(Slot(Path({str(tmp_path)!r})).name)")], capture_output=True, text=True, check=True)
    assert held.stdout.strip() == "2"                       # another process skips the held ones
    first.release()
    assert Slot(tmp_path).name == "0"
    second.release()


# -- command line and environment ------------------------------------------------------------------------------
@pytest.fixture
def code(tmp_path) -> CodeLocation:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("")
    (tmp_path / "run.sh").write_text("")
    return CodeLocation(root=tmp_path, cwd=tmp_path, entry_point="src/train.py", is_repository=True)


def with_entry(code: CodeLocation, entry: str) -> CodeLocation:
    return CodeLocation(code.root, code.cwd, entry, code.is_repository)


def test_the_command_line_follows_the_entry_point_form(code):
    env = PythonEnvironment(python=Path("/venv/bin/python"))
    assert task_command(code, env) == ["/venv/bin/python", "-u", "src/train.py"]
    assert task_command(code, env, optimization=2) == ["/venv/bin/python", "-u", "-OO", "src/train.py"]
    assert task_command(with_entry(code, "-m pkg.main --lr 0.1"), env) == \
        ["/venv/bin/python", "-u", "-m", "pkg.main", "--lr", "0.1"]
    assert task_command(with_entry(code, "src/train.py --epochs 3"), env) == \
        ["/venv/bin/python", "-u", "src/train.py", "--epochs", "3"]
    shell = PythonEnvironment(python=Path("/venv/bin/python"), shell=Path("/bin/bash"))
    assert task_command(with_entry(code, "run.sh"), shell) == ["/bin/bash", "run.sh"]
    assert task_command(with_entry(code, "-c echo hi && ls"), shell) == ["/bin/bash", "-c", "echo hi && ls"]


def test_the_environment_layers_and_what_the_sdk_needs(code, tmp_path):
    conf = tmp_path / "clearml.conf"
    conf.write_text("api " + json.dumps({"api_server": "http://api:8008", "web_server": "http://web",
                                         "files_server": "http://files",
                                         "credentials": {"access_key": "AK", "secret_key": "SK"}}) +
                    "\nenvironment " + json.dumps({"FROM_TOP": "1", "SHARED": "top"}) +
                    "\nagent " + json.dumps({"environment": {"SHARED": "agent"}}))
    config = load_config(conf, environ={})
    base = {"PATH": "/usr/bin", "PYTHONPATH": "/extra", "CLEARML_AGENT_GIT_PASS": "pw", "TRACKSIDE_AGENT_QUEUE": "q"}
    env = task_environment(config=config, env=PythonEnvironment(python=Path("/v/bin/python"),
                                                                env={"PATH": "/v/bin:/usr/bin"}),
                           code=code, task_id="T", worker="box:1", log_level="DEBUG",
                           task_env={"SHARED": "task"}, base=base)
    assert env["SHARED"] == "task" and env["FROM_TOP"] == "1" and env["PATH"] == "/v/bin:/usr/bin"
    assert {k: env[k] for k in ("CLEARML_TASK_ID", "CLEARML_WORKER_ID", "CLEARML_LOG_TASK_TO_BACKEND",
                                "CLEARML_LOG_LEVEL", "CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY",
                                "CLEARML_API_SECRET_KEY", "CLEARML_CONFIG_FILE", "PYTHONUNBUFFERED")} == {
        "CLEARML_TASK_ID": "T", "CLEARML_WORKER_ID": "box:1", "CLEARML_LOG_TASK_TO_BACKEND": "0",
        "CLEARML_LOG_LEVEL": "DEBUG", "CLEARML_API_HOST": "http://api:8008", "CLEARML_API_ACCESS_KEY": "AK",
        "CLEARML_API_SECRET_KEY": "SK", "CLEARML_CONFIG_FILE": str(conf), "PYTHONUNBUFFERED": "1"}
    assert "CLEARML_AGENT_GIT_PASS" not in env and "TRACKSIDE_AGENT_QUEUE" not in env
    assert env["PYTHONPATH"].split(":") == [str(code.cwd), str(code.cwd / "src"), "/extra"]


# -- the process tree ---------------------------------------------------------------------------------------
def test_kill_tree_ends_the_group_and_descendants_and_keeps_the_exit_status(tmp_path):
    script = ("import subprocess, sys, time\n"
              "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']) for _ in range(2)]\n"
              "print(' '.join(str(k.pid) for k in kids), flush=True)\n"
              "time.sleep(60)\n")
    process = TaskProcess([sys.executable, "-c", script], tmp_path, {"PATH": "/usr/bin:/bin"})
    line = b""
    while not line.endswith(b"\n"):
        line += process.proc.stdout.read(1)
    kids = [int(pid) for pid in line.split()]
    assert len(process.members()) == 2
    began = time.monotonic()
    assert process.kill_tree(grace=5) == []
    assert time.monotonic() - began < 5                   # SIGTERM was enough: no grace waited out
    assert process.returncode == -15
    assert not [pid for pid in kids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    process.close_output()
