"""`trackside-agent execute --id` against the real API: the stock agent's statuses, console output as log
events, failures with their reasons, stop requests and signals ending the whole process tree, --clone,
--full-monitoring, and no secret in anything stored. Literal-script tasks on the agent's own interpreter (no
venv: CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL); venv builds are covered by the environment and end-to-end tests."""
from __future__ import annotations

import json
import re
import signal
import time

import psutil
import pytest

from support.names import unique
from support.objects import create_queue, get_task
from support.our_agent import AgentHome
from support.waiting import wait_for

TOKEN = "ghp_SECRETTOKEN0123456789abcdef"


@pytest.fixture
def home(tmp_path, api_server) -> AgentHome:
    return AgentHome.create(tmp_path, api_server, {"stop_poll_interval_sec": 0.3, "log_flush_interval_sec": 0.2},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})


def script_task(api, text: str, **script) -> str:
    return api.ok("tasks.create", name=unique("exec"), type="training",
                  script={"diff": text, "entry_point": "job.py", "working_dir": ".", **script})["id"]


def log_events(api, task_id: str) -> list[dict]:
    return api.ok("events.get_task_log", task=task_id, batch_size=5000, navigate_earlier=False)["events"]


def console(api, task_id: str) -> str:
    return "\n".join(e.get("msg") or "" for e in log_events(api, task_id))


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# A task whose tree outlives a plain kill of its process: a child in its group, and a grandchild that starts
# a session of its own and whose parent exits (it is re-parented: only the agent's subreaper still sees it).
TREE = """\
import os, subprocess, sys, time
pids = {pids!r}
sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])
escaper = subprocess.Popen([sys.executable, '-c', '''
import os, subprocess, sys
os.setsid()
p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open(sys.argv[1], "w").write(str(p.pid))
''', pids + '.escaped'])
escaper.wait()
open(pids, 'w').write(f"{{os.getpid()}} {{sleeper.pid}} " + open(pids + '.escaped').read())
print('working', flush=True)
{tail}
"""


def tree_pids(path) -> list[int]:
    wait_for(lambda: path.exists() and len(path.read_text().split()) == 3, what="the task's processes")
    return [int(p) for p in path.read_text().split()]


# -- running to the end ------------------------------------------------------------------------------------
def test_a_script_completes_with_its_output_in_order_and_its_leftovers_ended(api, home, tmp_path):
    pids = tmp_path / "pids"
    task = script_task(api, TREE.format(pids=str(pids), tail=(
        "print('env', os.environ['CLEARML_TASK_ID'], os.environ['CLEARML_LOG_TASK_TO_BACKEND'],"
        " os.environ['CLEARML_WORKER_ID'], os.getcwd() in os.environ['PYTHONPATH'].split(os.pathsep))\n"
        "for i in range(300): print('line', i)\n"
        "sys.stdout.write('progress 10%\\rprogress 50%\\rprogress 100%\\n')\n"
        "sys.stdout.write('partial '); sys.stdout.flush(); time.sleep(0.6); print('done')\n")))
    began = time.monotonic()
    result = home.execute(task)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - began < 30  # the leftovers holding the output pipe did not keep it waiting
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("completed", "worker execution done")
    assert stored["status_message"].startswith("Changed by trackside-agent ")
    assert not [pid for pid in tree_pids(pids) if alive(pid)]

    events = log_events(api, task)
    worker = re.search(r"Changed by trackside-agent (\S+)", stored["status_message"]).group(1)
    assert {e["worker"] for e in events} == {worker} and re.fullmatch(r".+:\d+", worker)
    assert [e["timestamp"] for e in events] == sorted({e["timestamp"] for e in events})
    lines = "\n".join(e["msg"] for e in events).splitlines()
    assert f"env {task} 0 {worker} True" in lines
    numbered = [line for line in lines if line.startswith("line ")]
    assert numbered == [f"line {i}" for i in range(300)]      # in order, none lost
    assert "progress 100%" in lines and "progress 10%" not in lines
    assert "partial " in lines and "done" in lines            # shown while the line was still unfinished
    assert "Process completed successfully" in lines
    assert any(e["msg"].startswith("running: ") for e in events)
    assert {e["level"] for e in events} >= {"INFO", "DEBUG"}
    assert "line 299" in result.stdout
    assert worker not in [w["id"] for w in api.ok("workers.get_all")["workers"]]   # unregistered


def test_a_non_zero_exit_fails_the_task_with_the_code(api, home):
    task = script_task(api, "import sys\nprint('about to fail')\nsys.exit(3)\n")
    result = home.execute(task)
    assert result.returncode == 1
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("failed", "worker execution exit code 3")
    assert "about to fail" in console(api, task)


def test_a_missing_repository_fails_with_the_reason(api, home, tmp_path):
    task = script_task(api, "", repository=f"file://{tmp_path}/no-such-repo.git", branch="main",
                       entry_point="train.py")
    result = home.execute(task)
    assert result.returncode == 1
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("failed", "failed cloning repository")
    assert "no-such-repo" in console(api, task)


def test_disable_monitoring_sends_no_log_but_writes_the_log_file_and_gpus_reach_the_task(api, home, tmp_path):
    task = script_task(api, "import os\nprint('quiet run on', os.environ['CUDA_VISIBLE_DEVICES'])\n")
    log_file = tmp_path / "task.log"
    result = home.execute(task, "--disable-monitoring", "--log-file", str(log_file), "--gpus", "1-2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert get_task(api, task)["status"] == "completed"
    assert "quiet run on 1,2" in log_file.read_text()
    assert log_events(api, task) == []


# -- ending it from outside ----------------------------------------------------------------------------------
def test_tasks_stop_ends_the_whole_process_tree(api, home, tmp_path):
    pids = tmp_path / "pids"
    task = script_task(api, TREE.format(pids=str(pids), tail="time.sleep(300)"))
    execute = home.start_execute(task)
    tree = tree_pids(pids)
    assert get_task(api, task)["status"] == "in_progress"
    stop_sent = time.monotonic()
    api.ok("tasks.stop", task=task)
    assert execute.process.wait(60) == 2, execute.log()
    assert time.monotonic() - stop_sent < 15
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("stopped", "task was stopped by tasks.stop")
    assert not [pid for pid in tree if alive(pid)]
    text = console(api, task)
    assert "User aborted: stopping task (1) stopped" in text and "Process aborted by user" in text


def test_sigterm_to_execute_ends_the_tree_and_marks_the_task_stopped(api, home, tmp_path):
    pids = tmp_path / "pids"
    task = script_task(api, TREE.format(pids=str(pids), tail="time.sleep(300)"))
    execute = home.start_execute(task)
    tree = tree_pids(pids)
    execute.process.send_signal(signal.SIGTERM)
    assert execute.process.wait(30) == 2, execute.log()
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("stopped", "the agent running the task was stopped")
    assert not [pid for pid in tree if alive(pid)]
    assert "agent stopped (SIGTERM)" in console(api, task)


def test_another_status_given_to_the_task_ends_its_process_and_is_kept(api, home, tmp_path):
    task = script_task(api, "import time\nprint('working', flush=True)\ntime.sleep(300)\n")
    execute = home.start_execute(task)
    wait_for(lambda: "working" in execute.log(), what="the task to run")
    api.ok("tasks.failed", task=task, force=True, status_reason="failed from outside")
    assert execute.process.wait(30) == 1, execute.log()
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("failed", "failed from outside")
    assert "Task failed: stopping task (4) exception" in execute.log()


# -- which task, and who runs it ---------------------------------------------------------------------------
def test_clone_runs_a_copy_and_leaves_the_original(api, home):
    task = script_task(api, "print('cloned run')\n")
    result = home.execute(task, "--clone")
    assert result.returncode == 0, result.stdout + result.stderr
    assert get_task(api, task)["status"] == "created"
    clone = re.search(r"Task cloned, new task id=(\w+)", result.stdout).group(1)
    assert clone != task
    stored = get_task(api, clone)
    assert stored["status"] == "completed" and stored["parent"] == task
    assert "cloned run" in console(api, clone)


def test_require_queue_refuses_a_task_that_is_not_queued_and_takes_a_queued_one_out(api, home):
    task = script_task(api, "print('from the queue')\n")
    refused = home.execute(task, "--require-queue")
    assert refused.returncode == 3 and "is not queued" in refused.stdout
    assert get_task(api, task)["status"] == "created"
    queue = create_queue(api, unique("exec-q"))
    api.ok("tasks.enqueue", task=task, queue=queue)
    result = home.execute(task, "--require-queue")
    assert result.returncode == 0, result.stdout
    assert api.ok("queues.get_by_id", queue=queue)["queue"]["entries"] == []
    assert get_task(api, task)["status"] == "completed"


def test_full_monitoring_runs_as_the_daemons_worker_without_registering(api, home):
    task = script_task(api, "print('daemon child')\n")
    queue = create_queue(api, unique("fm-q"))
    api.ok("tasks.started", task=task, force=True)   # what dispatch.start did for the daemon
    worker = unique("box:cpu")
    home.env.update(CLEARML_WORKER_ID=worker, TRACKSIDE_AGENT_QUEUE=queue)
    result = home.execute(task, "--full-monitoring")
    assert result.returncode == 0, result.stdout + result.stderr
    events = log_events(api, task)
    assert {e["worker"] for e in events} == {worker}
    assert f"task {task} pulled from {queue} by worker {worker}" in events[0]["msg"].splitlines()
    assert get_task(api, task)["status"] == "completed"
    assert worker not in [w["id"] for w in api.ok("workers.get_all", last_seen=60)["workers"]]


# -- secrets ----------------------------------------------------------------------------------------------
def test_no_secret_reaches_logs_or_stored_fields(api, tmp_path, api_server):
    home = AgentHome.create(tmp_path, api_server, {"git_user": "bot", "git_pass": TOKEN,
                                                   "environment": {"HF_TOKEN": TOKEN + "x"},
                                                   "enable_task_env": True, "log_flush_interval_sec": 0.2},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1", "MY_API_TOKEN": TOKEN + "y"})
    task = api.ok("tasks.create", name=unique("secrets"), type="training", script={
        "entry_point": "job.py", "working_dir": ".", "diff": (
            "import os, sys\n"
            "print('env', os.environ.get('HF_TOKEN'), os.environ.get('MY_API_TOKEN'), os.environ.get('DB_PASSWORD'))\n"
            f"print('literal ' + {TOKEN[:6]!r} + {TOKEN[6:]!r})\n"    # the value appears only at run time
            f"sys.stdout.write('split ' + {TOKEN[:9]!r}); sys.stdout.flush()\n"
            f"import time; time.sleep(0.5); print({TOKEN[9:]!r})\n"  # a partial line shown mid-secret
            "print('url https://bot:' + os.environ['HF_TOKEN'][:-1] + '@example.com/x')\n"
            "print('secret key', os.environ['CLEARML_API_SECRET_KEY'])\n"
            "sys.exit(5)\n")},
        hyperparams={"Environment": {"DB_PASSWORD": {"section": "Environment", "name": "DB_PASSWORD",
                                                     "value": "hunter2-db-password"}}})["id"]
    result = home.execute(task)
    assert result.returncode == 1, result.stdout + result.stderr
    text = console(api, task)
    assert "env ********" in text and "literal ********" in text and "url https://********@example.com" in text
    repo_task = script_task(api, "", repository=f"https://bot:{TOKEN}@127.0.0.1:9/org/repo.git", branch="main",
                            entry_point="train.py")
    failed_clone = home.execute(repo_task)
    assert failed_clone.returncode == 1
    assert get_task(api, repo_task)["status_reason"] == "failed cloning repository"
    stored = [get_task(api, task), get_task(api, repo_task)]
    # What the user stored themselves is theirs; everything else must be clean.
    stored[0]["hyperparams"].pop("Environment")
    stored[1]["script"]["repository"] = stored[1]["script"]["repository"].replace(f"bot:{TOKEN}@", "")
    everything = json.dumps(stored) + json.dumps(log_events(api, task) + log_events(api, repo_task)) + \
        result.stdout + result.stderr + failed_clone.stdout + failed_clone.stderr
    for secret in (TOKEN, api_server.secret, "hunter2-db-password"):
        at = everything.find(secret)
        assert at < 0, everything[max(0, at - 300):at + 50]


def test_sigterm_while_the_environment_is_built_stops_the_task_and_its_tools(api, tmp_path, api_server):
    home = AgentHome.create(tmp_path, api_server, {"log_flush_interval_sec": 0.2})   # a real venv build
    task = script_task(api, "print('never runs')\n")
    execute = home.start_execute(task)
    wait_for(lambda: "requirements from" in execute.log(), what="the environment build")
    tools = psutil.Process(execute.process.pid).children(recursive=True)
    execute.process.send_signal(signal.SIGTERM)
    assert execute.process.wait(30) == 2, execute.log()
    stored = get_task(api, task)
    assert (stored["status"], stored["status_reason"]) == ("stopped", "the agent running the task was stopped")
    assert not [p for p in tools if alive(p.pid)]
    assert "never runs" not in console(api, task)
