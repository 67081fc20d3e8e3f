"""`trackside-agent execute --id` against the real API: the stock agent's statuses, console output as log
events, failures with their reasons, stop requests ending the whole process tree, --clone, and no secret in
anything stored. Literal-script tasks on the agent's own interpreter (no venv: CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL);
venv builds are covered by the environment tests and the end-to-end test."""
from __future__ import annotations

import json
import threading
import time

import psutil
import pytest

from support.names import unique
from support.objects import get_task
from support.our_agent import AgentHome

TOKEN = "ghp_SECRETTOKEN0123456789abcdef"


@pytest.fixture
def home(tmp_path, api_server) -> AgentHome:
    return AgentHome.create(tmp_path, api_server, {"stop_poll_interval_sec": 0.5, "log_flush_interval_sec": 0.2},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})


def script_task(api, text: str, **script) -> str:
    return api.ok("tasks.create", name=unique("exec"), type="training",
                  script={"diff": text, "entry_point": "job.py", "working_dir": ".", **script})["id"]


def console(api, task_id: str) -> str:
    events = api.ok("events.get_task_log", task=task_id, batch_size=5000)["events"]
    return "\n".join(e.get("msg") or "" for e in events)


def test_a_script_runs_to_completed_with_its_output_stored(api, home):
    task = script_task(api, "import os\nprint('hello from', os.environ['CLEARML_TASK_ID'])\n")
    result = home.execute(task)
    assert result.returncode == 0, result.stdout + result.stderr
    stored = get_task(api, task)
    assert stored["status"] == "completed"
    assert stored["status_reason"] == "worker execution done"
    assert f"hello from {task}" in console(api, task)
    assert f"hello from {task}" in result.stdout


def test_a_non_zero_exit_fails_the_task_with_the_code(api, home):
    task = script_task(api, "import sys\nprint('about to fail')\nsys.exit(3)\n")
    result = home.execute(task)
    assert result.returncode == 1
    stored = get_task(api, task)
    assert stored["status"] == "failed"
    assert stored["status_reason"] == "worker execution exit code 3"
    assert "about to fail" in console(api, task)


def test_a_missing_repository_fails_with_the_reason(api, home, tmp_path):
    task = script_task(api, "", repository=f"file://{tmp_path}/no-such-repo.git", branch="main",
                       entry_point="train.py")
    result = home.execute(task)
    assert result.returncode == 1
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("failed", "failed cloning repository")
    assert "no-such-repo" in console(api, task)


def test_tasks_stop_ends_the_whole_process_tree(api, home, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    task = script_task(api, (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('working', flush=True)\n"
        "time.sleep(300)\n"))
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.setdefault("result", home.execute(task, timeout=120)))
    runner.start()
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert get_task(api, task)["status"] == "in_progress"
    stop_sent = time.monotonic()
    api.ok("tasks.stop", task=task)
    runner.join(90)
    stopped_in = time.monotonic() - stop_sent
    assert outcome["result"].returncode == 2, outcome["result"].stdout
    stored = get_task(api, task)
    assert stored["status"] == "stopped"
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    assert "User aborted" in console(api, task)
    assert stopped_in < 20, stopped_in


def test_clone_runs_a_copy_and_leaves_the_original(api, home):
    task = script_task(api, "print('cloned run')\n")
    result = home.execute(task, "--clone")
    assert result.returncode == 0, result.stdout + result.stderr
    assert get_task(api, task)["status"] == "created"
    clone = result.stdout.split("as ", 1)[1].split(":", 1)[0].strip()
    assert clone != task
    assert get_task(api, clone)["status"] == "completed"
    assert "cloned run" in console(api, clone)


def test_require_queue_refuses_a_task_that_is_not_queued(api, home):
    task = script_task(api, "print('x')\n")
    result = home.execute(task, "--require-queue")
    assert result.returncode == 3
    assert get_task(api, task)["status"] == "created"


def test_a_queued_task_is_taken_out_of_its_queue(api, home):
    task = script_task(api, "print('from the queue')\n")
    queue = api.ok("queues.create", name=unique("exec-q"))["id"]
    api.ok("tasks.enqueue", task=task, queue=queue)
    result = home.execute(task, "--require-queue")
    assert result.returncode == 0, result.stdout
    assert api.ok("queues.get_by_id", queue=queue)["queue"]["entries"] == []
    assert get_task(api, task)["status"] == "completed"


def test_no_secret_reaches_logs_or_stored_fields(api, tmp_path, api_server):
    home = AgentHome.create(tmp_path, api_server, {"git_user": "bot", "git_pass": TOKEN,
                                                   "environment": {"HF_TOKEN": TOKEN + "x"},
                                                   "log_flush_interval_sec": 0.2},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1", "MY_API_TOKEN": TOKEN + "y"})
    task = script_task(api, (
        "import os\n"
        "print('env token', os.environ.get('HF_TOKEN'), os.environ.get('MY_API_TOKEN'))\n"
        f"print('literal token ' + {TOKEN[:6]!r} + {TOKEN[6:]!r})\n"  # the value appears only at run time
        "print('secret key', os.environ['CLEARML_API_SECRET_KEY'])\n"))
    result = home.execute(task)
    assert result.returncode == 0, result.stdout + result.stderr
    text = console(api, task)
    assert "env token" in text and "********" in text
    repo_task = script_task(api, "", repository=f"https://bot:{TOKEN}@127.0.0.1:9/org/repo.git", branch="main",
                            entry_point="train.py")
    home.execute(repo_task)
    stored = json.dumps([get_task(api, task), get_task(api, repo_task)])
    everything = stored + text + console(api, repo_task) + result.stdout + result.stderr
    for secret in (TOKEN, api_server.secret):
        leftover = everything.replace(f"bot:{TOKEN}@", "")  # the URL the user stored themselves
        at = leftover.find(secret)
        assert at < 0, leftover[max(0, at - 300):at + 50]
    assert TOKEN not in console(api, repo_task)
