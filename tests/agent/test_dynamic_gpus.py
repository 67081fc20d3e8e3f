"""`trackside-agent daemon --dynamic-gpus` against the real API, with real processes. The GPUs are only names
to hand out (CUDA_VISIBLE_DEVICES), so this runs on a machine without any; tests/agent/test_gpus_real_nvml.py
checks a task sees exactly its GPUs on a real one. Allocation rules: tests/unit/test_gpu_allocation.py."""
from __future__ import annotations

import re
import socket
import time

import pytest

from support.daemons import enqueue, finished, live_worker, stamp
from support.names import unique
from support.objects import get_task
from support.our_agent import AgentDaemon, AgentHome
from support.waiting import wait_for

GPU_JOB = ("import os, time; print('GPUS=' + os.environ['CUDA_VISIBLE_DEVICES'] + "
           "' NVIDIA=' + os.environ['NVIDIA_VISIBLE_DEVICES'], flush=True); time.sleep({sleep})")


@pytest.fixture
def home(tmp_path, api_server) -> AgentHome:
    return AgentHome.create(tmp_path, api_server, {"status_report_interval_sec": 1, "stop_poll_interval_sec": 0.5},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})


@pytest.fixture
def started():
    daemons: list[AgentDaemon] = []
    yield daemons
    for daemon in daemons:
        daemon.stop()


@pytest.mark.parametrize("args,complaint", [
    (["--gpus", "0-3", "--queue", "quad=5"], "needs 5 GPUs but --gpus gives this agent 4"),
    (["--gpus", "0-3", "--queue", "quad"], "each queue is <name>=<GPUs> or <name>=<min>-<max>"),
    (["--gpus", "0-3", "--queue", "odd=3-2"], "the minimum 3 is above the maximum 2"),
    (["--queue", "quad=4"], "--dynamic-gpus needs the GPUs to share: --gpus 0-3"),
    (["--cpu-only", "--queue", "quad=4"], "--dynamic-gpus and --cpu-only exclude each other"),
])
def test_settings_that_cannot_work_are_refused_before_anything_runs(home, args, complaint):
    result = home.run("daemon", "--dynamic-gpus", *args, timeout=60)
    assert result.returncode == 2 and complaint in result.stderr, result.stderr


def test_tasks_get_disjoint_gpus_wait_until_enough_are_free_and_give_them_back(api, home, started):
    """``--dynamic-gpus --gpus 0-3 --queue quad=4 dual=2``: two dual tasks run at once on disjoint GPUs, each
    reporting as a worker named after its GPUs (so ``tasks.stop`` reaches each one's agent); the quad tasks
    wait until all four GPUs are back, then run one after the other; at the end no task worker is left."""
    quad, dual = unique("quad"), unique("dual")
    daemon = home.start_daemon("--dynamic-gpus", "--gpus", "0-3", "--queue", f"{quad}=4", f"{dual}=2",
                               "--create-queue")
    started.append(daemon)
    wait_for(lambda: "waiting for tasks" in daemon.log() or not daemon.running(), what="the daemon to start")
    worker = re.search(r"^Worker (\S+) \(dynamic GPUs", daemon.log(), re.M).group(1)
    host, random_part = re.fullmatch(r"(.+):dgpu0,1,2,3:([0-9a-f]{8})", worker).groups()
    assert host == socket.gethostname() and "4 GPU(s)" in daemon.log() and "2 GPU(s)" in daemon.log()
    queues = {q["name"]: q["id"] for q in api.ok("queues.get_all", name=f"^({quad}|{dual})$")["queues"]}

    pair = enqueue(api, queues[dual], unique("d1"), unique("d2"), code=GPU_JOB.format(sleep=60))
    wait_for(lambda: all(get_task(api, t)["status"] == "in_progress" for t in pair), what="both dual tasks")

    def task_workers() -> dict[str, str | None]:
        """GPUs -> the task their worker reports."""
        found = {}
        for record in api.ok("workers.get_all")["workers"]:
            match = re.fullmatch(re.escape(host) + r":gpu([\d,]+):" + random_part, record["id"])
            if match:
                found[match.group(1)] = (record.get("task") or {}).get("id")
        return found

    def both_reported() -> dict[str, str] | None:
        found = task_workers()
        return found if set(found.values()) == set(pair) else None

    running = wait_for(both_reported, what="a worker for each dual task")
    assert sorted(running) == ["0,1", "2,3"]
    assert not (live_worker(api, worker) or {}).get("task")    # the daemon itself runs nothing
    quads = enqueue(api, queues[quad], unique("q1"), unique("q2"), code=GPU_JOB.format(sleep=0))
    time.sleep(1)
    assert [get_task(api, t)["status"] for t in quads] == ["queued", "queued"]   # no four GPUs free

    for task in pair:   # each task's worker is alive: a stop request to its agent, not an immediate stop
        wait_for(lambda: "GPUS=" in log_text(api, task), what="the dual task's output")
        api.ok("tasks.stop", task=task)
        assert get_task(api, task)["status"] == "in_progress"
    docs = finished(api, pair + quads)
    assert [d["status"] for d in docs] == ["stopped", "stopped", "completed", "completed"], daemon.log()

    seen = [re.search(r"GPUS=(\S*) NVIDIA=(\S*)", log_text(api, t)).groups() for t in pair + quads]
    assert all(cuda == nvidia for cuda, nvidia in seen)
    assert {seen[0][0], seen[1][0]} == {"0,1", "2,3"} and seen[0][0] == next(g for g, t in running.items() if t == pair[0])
    assert seen[2][0] == seen[3][0] == "0,1,2,3"
    first_quad, second_quad = docs[2], docs[3]
    assert stamp(first_quad["started"]) >= max(stamp(d["status_changed"]) for d in docs[:2]) - 0.5
    assert stamp(second_quad["started"]) >= stamp(first_quad["completed"]) - 0.5  # the first gave all four back
    wait_for(lambda: not task_workers(), what="the task workers to be unregistered")
    assert live_worker(api, worker) and daemon.running()


def log_text(api, task: str) -> str:
    events = api.ok("events.get_task_log", task=task, batch_size=500)["events"]
    return "\n".join(e.get("msg", "") for e in events)
