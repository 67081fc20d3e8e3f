"""The whole path with real processes: a git repository with a training script and a requirements file ->
`Task.create` + enqueue from the real SDK -> our daemon, woken through its Redis stream, clones it, builds a
venv (clearml from the wheelhouse, offline), runs it -> the task is completed with its console output and
scalars stored. A second run of the same code hits the venv cache; both times to task start are printed."""
from __future__ import annotations

import re
import time

import pytest

from support.clients import THREAD_REPORTING_CONF, client_env, run_client_script
from support.git_repo import make_repository
from support.names import unique
from support.objects import create_queue, get_task
from support.our_agent import WHEELHOUSE, AgentHome

pytestmark = pytest.mark.slow
FINAL = {"completed", "failed", "stopped"}


def wait_final(api, task: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stored = get_task(api, task)
        if stored["status"] in FINAL:
            return stored
        time.sleep(0.2)
    raise AssertionError(f"task {task} did not finish in {timeout:.0f} s: {get_task(api, task)['status']}")


def log_events(api, task: str) -> list[dict]:
    return api.ok("events.get_task_log", task=task, batch_size=5000, navigate_earlier=False)["events"]


def seconds_to_start(api, task: str, enqueued_ms: int) -> float:
    """From the enqueue to the agent's "running:" line, logged just before the task's process starts."""
    running = [e for e in log_events(api, task) if (e.get("msg") or "").startswith("running: ")]
    assert running, "no 'running:' line in the task's log"
    return (running[0]["timestamp"] - enqueued_ms) / 1000


@pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason="make setup fills the wheelhouse")
def test_a_repository_task_runs_in_a_cached_venv(api, api_server, tmp_path):
    repo = make_repository(tmp_path / "git")
    queue_name = unique("e2e")
    queue_id = create_queue(api, queue_name)
    sdk = run_client_script("sdk_create_repo_task.py",
                            ["agent e2e", "train", f"file://{repo.bare}", "main", "train.py", queue_name],
                            client_env(api_server.url, api_server.key, api_server.secret, tmp_path / "sdk"))
    assert sdk.returncode == 0, sdk.stdout + sdk.stderr
    task = sdk.result["task_id"]
    created = get_task(api, task)
    assert created["script"]["repository"] == f"file://{repo.bare}"
    enqueued_ms = int(time.time() * 1000)

    home = AgentHome.create(tmp_path, api_server, {"log_flush_interval_sec": 0.2})
    with open(home.config_file, "a") as conf:  # the task's SDK reads the agent's clearml.conf: ends ~10 s sooner
        conf.write(THREAD_REPORTING_CONF)
    daemon = home.start_daemon("--queue", queue_name)
    try:
        first = wait_final(api, task)
        assert first["status"] == "completed", (first.get("status_reason"), daemon.log()[-4000:])
        console = "\n".join(e.get("msg") or "" for e in log_events(api, task))
        assert "VERSION v2 python" in console
        assert "venv built in" in console
        metrics = api.ok("events.scalar_metrics_iter_histogram", task=task)
        assert "loss" in metrics and "train" in metrics["loss"], metrics
        assert metrics["loss"]["train"]["y"] == pytest.approx([1.0, 0.5, 1 / 3])
        frozen = first["script"]["requirements"]["pip"]
        assert isinstance(frozen, list) and any(line.lower().startswith("clearml==") for line in frozen)
        cold = seconds_to_start(api, task, enqueued_ms)

        again = api.ok("tasks.clone", task=task, new_task_name="train again")["id"]
        enqueued_ms = int(time.time() * 1000)
        api.ok("tasks.enqueue", task=again, queue=queue_id)
        second = wait_final(api, again)
        assert second["status"] == "completed", second.get("status_reason")
        console = "\n".join(e.get("msg") or "" for e in log_events(api, again))
        assert re.search(r"venv cache: hit \w+, venv restored in", console), console[-3000:]
        warm = seconds_to_start(api, again, enqueued_ms)
        print(f"\nenqueue to task start: first run {cold:.2f} s (venv built), cached {warm:.2f} s")
        assert warm < cold
    finally:
        daemon.stop()
