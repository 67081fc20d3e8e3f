"""The stock clearml-agent 3.0.3 (`clearml-agent daemon --queue default --foreground`, venv mode) against a
real API process: it runs a script task that the SDK created and enqueued, shows up in workers.get_all while
it runs, and aborts a running task on tasks.stop. Its workers.* calls all succeed.

The API process here has databases of its own, so its default queue holds only this module's tasks.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from support.client import ApiClient
from support.clients import SCRIPTS, client_env, run_client_script
from support.names import unique
from support.stock_agent import StockAgent
from support.suite import ApiServer, start_api, stop_in_background

pytestmark = pytest.mark.slow

TASK_TIMEOUT = 120  # seconds for a task to run through; it takes about 15 on a quiet 2-core machine
# What the agent prints when the server lets it down.
AGENT_COMPLAINTS = re.compile(
    r"(?i)(apierror|code 4\d\d|code 5\d\d|could not access task queue|failed sending report|"
    r"unable to find endpoint|not supported by your clearml-server)"
)


@pytest.fixture(scope="module")
def agent_server(mongo_server, redis_server, tmp_path_factory) -> ApiServer:
    work_dir = tmp_path_factory.mktemp("api-agent")
    own_stores = {
        f"CLEARML__HOSTS__MONGO__{db.upper()}__HOST": f'"mongodb://127.0.0.1:{mongo_server.port}/agent_{db}?retryWrites=false"'
        for db in ("backend", "auth")
    }
    own_stores["CLEARML__HOSTS__REDIS__APISERVER__DB"] = "3"
    server = start_api(mongo_server.port, work_dir, redis_port=redis_server.port, extra_env=own_stores)
    yield server
    stop_in_background(server.process)


@pytest.fixture(scope="module")
def api(agent_server) -> ApiClient:
    return ApiClient(agent_server.url, agent_server.key, agent_server.secret).login()


@pytest.fixture(scope="module")
def agent(agent_server, api, tmp_path_factory) -> StockAgent:
    agent = StockAgent.start(agent_server.url, agent_server.key, agent_server.secret,
                             tmp_path_factory.mktemp("agent-home"))
    default_queue = api.ok("queues.get_default")["id"]
    try:
        wait_for(lambda: listening_workers(api, default_queue), 60, "the agent to register", agent)
        yield agent
    finally:
        agent.stop()


def wait_for(predicate, timeout: float, what: str, agent: StockAgent):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        assert agent.running(), f"the agent exited while waiting for {what}:\n{agent.log()[-4000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{agent.log()[-4000:]}"
        time.sleep(0.3)


def listening_workers(api: ApiClient, queue: str) -> list[str]:
    return [w["id"] for w in api.ok("workers.get_all")["workers"] if queue in [q["id"] for q in w["queues"]]]


def enqueue_job(agent_server: ApiServer, home: Path, job: str) -> str:
    """Task.create from ``tests/clients/<job>`` (a local script, no repository) and Task.enqueue to default."""
    env = client_env(agent_server.url, agent_server.key, agent_server.secret, home)
    (home / job).write_bytes((SCRIPTS / job).read_bytes())
    run = run_client_script("sdk_enqueue_script.py", [unique("agent-proj"), unique("job"), job], env)
    assert run.returncode == 0, f"SDK failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run.result["task_id"]


def console(api: ApiClient, task_id: str) -> str:
    events = api.ok("events.get_task_log", task=task_id, batch_size=1000)["events"]
    return "\n".join(e.get("msg") or "" for e in events)


def status(api: ApiClient, task_id: str) -> dict:
    return api.ok("tasks.get_all", id=[task_id], only_fields=["status", "status_message", "status_reason",
                                                               "last_worker"])["tasks"][0]


def test_runs_a_script_task_to_completed(agent, agent_server, api, tmp_path):
    started = time.monotonic()
    task_id = enqueue_job(agent_server, tmp_path, "agent_job.py")
    shown_running = set()

    def finished():
        shown_running.update(w["id"] for w in api.ok("workers.get_all")["workers"]
                             if (w.get("task") or {}).get("id") == task_id)
        return status(api, task_id)["status"] not in ("queued", "in_progress")

    wait_for(finished, TASK_TIMEOUT, "the task to finish", agent)
    task = status(api, task_id)
    assert task["status"] == "completed", (task, agent.log()[-4000:])
    assert task["status_reason"] == "worker execution done"
    assert shown_running, "workers.get_all never showed a worker running the task"
    assert task["last_worker"] in shown_running
    assert "agent job says hello" in console(api, task_id)
    print(f"stock agent: enqueue to completed in {time.monotonic() - started:.1f} s")


def test_stop_aborts_a_running_task(agent, agent_server, api, tmp_path):
    task_id = enqueue_job(agent_server, tmp_path, "agent_job_sleeping.py")
    wait_for(lambda: "agent job sleeping" in console(api, task_id), TASK_TIMEOUT, "the job to start", agent)
    stopping = time.monotonic()
    reply = api.ok("tasks.stop", task=task_id)
    assert reply["fields"]["status"] == "in_progress" and reply["fields"]["status_message"] == "stopping"
    wait_for(lambda: status(api, task_id)["status"] != "in_progress", 30, "the agent to abort the task", agent)
    task = status(api, task_id)
    assert task["status"] == "stopped" and task["status_reason"] == "task was stopped by tasks.stop"
    assert "User aborted" in console(api, task_id)
    assert "agent job was not stopped" not in console(api, task_id)
    print(f"stock agent: stop to stopped in {time.monotonic() - stopping:.1f} s")


def test_the_agent_met_no_server_errors(agent, agent_server, api):
    complaints = [line for line in agent.log().splitlines() if AGENT_COMPLAINTS.search(line)]
    assert complaints == []
    calls = [line for line in agent_server.process.log_path.read_text().splitlines() if "/workers." in line]
    assert any("workers.get_runtime_properties" in line for line in calls)  # polled, now that it exists
    assert [line for line in calls if not re.search(r'HTTP/1\.1" 200 ', line)] == []


def test_the_agent_unregisters_on_exit(agent, api):
    queue = api.ok("queues.get_default")["id"]
    assert listening_workers(api, queue)
    agent.stop()
    # Gone within seconds, not after the liveness timeout (minutes). The wait covers a status report the
    # agent's monitor thread had in flight when the main thread unregistered.
    deadline = time.monotonic() + 5
    while listening_workers(api, queue) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert listening_workers(api, queue) == [], (agent.process.returncode, agent.log()[-1500:])
