"""`trackside-agent daemon` against the real API: queues, the worker's registration and reports, the order
tasks run in, services mode, background runs, and a clean stop. Tasks are literal scripts run by the real
`execute` child, on the agent's own interpreter (no venv build: CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL)."""
from __future__ import annotations

import re
import signal
import time

import psutil
import pytest

from support.daemons import FINAL, enqueue, finished, live_worker, stamp, start
from support.names import unique
from support.objects import create_queue, get_task
from support.our_agent import AgentHome
from support.waiting import wait_for


@pytest.fixture
def home(tmp_path, api_server) -> AgentHome:
    return AgentHome.create(tmp_path, api_server, {"status_report_interval_sec": 1},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})


# -- queues ----------------------------------------------------------------------------------------------------
def test_queue_names_resolve_exactly_then_ignoring_case_and_unknown_queues_are_refused(api, home):
    queue = create_queue(api, unique("Mixed-Case"))
    name = api.ok("queues.get_by_id", queue=queue)["queue"]["name"]

    by_case = home.run("daemon", "--queue", name.lower(), "--status", timeout=60)
    assert by_case.returncode == 0, by_case.stderr
    assert f"{name} ({queue})" in by_case.stdout
    assert "always on" in by_case.stdout
    by_id = home.run("daemon", "--queue", queue, "--status", timeout=60)
    assert f"{name} ({queue})" in by_id.stdout

    missing = unique("missing")
    refused = home.run("daemon", "--queue", missing, timeout=60)
    assert refused.returncode == 2
    assert f"queue {missing!r} does not exist" in refused.stderr and "--create-queue" in refused.stderr
    assert not api.ok("queues.get_all", name=f"^{missing}$")["queues"]

    for flags, message in [(["--services-mode", "0"], "--services-mode"),
                           (["--gpus", "1-0"], "goes backwards")]:
        result = home.run("daemon", "--queue", queue, *flags, timeout=60)
        assert result.returncode == 2 and message in result.stderr, (flags, result.stderr)


# -- the worker's life: registered, reporting, running, gone -------------------------------------------------
def test_a_daemon_registers_a_unique_worker_reports_machine_stats_runs_tasks_and_unregisters(api, home):
    name = unique("daemon-q")
    daemon, worker = start(home, "--queue", name, "--create-queue", "--foreground")
    queue = api.ok("queues.get_all", name=f"^{name}$")["queues"][0]["id"]
    assert re.fullmatch(r"[^:]+:cpu:[0-9a-f]{8}", worker)

    record = wait_for(lambda: live_worker(api, worker), what="the worker in workers.get_all")
    assert [q["id"] for q in record["queues"]] == [queue]
    keys = wait_for(lambda: api.send("workers.get_metric_keys", {"worker_ids": [worker]}).body["data"]
                    .get("categories"), what="machine statistics")
    metrics = {key for category in keys for key in category["metric_keys"]}
    assert {"cpu_usage", "memory_used", "memory_free", "disk_free_home", "network_rx", "disk_read"} <= metrics
    assert not any(metric.startswith("gpu_") for metric in metrics)  # no NVML on this machine

    [task] = enqueue(api, queue, unique("hello"), code="import time; time.sleep(2); print('hello from the task')")
    running = wait_for(lambda: (live_worker(api, worker) or {}).get("task"), what="the worker to report its task")
    assert running["id"] == task
    listed = home.run("list", "--json", timeout=60)
    assert f'"id": "{task}"' in listed.stdout and worker in listed.stdout
    [doc] = finished(api, [task])
    assert doc["status"] == "completed", daemon.log()
    assert "hello from the task" in daemon.log()  # --foreground: the children write to the daemon's output

    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(20) == 0, daemon.log()
    assert live_worker(api, worker) is None
    assert "stopped (1 task(s) launched)" in daemon.log()


def test_sigterm_ends_the_running_task_and_the_daemon_exits_cleanly(api, home):
    name = unique("term-q")
    daemon, worker = start(home, "--queue", name, "--create-queue")
    queue = api.ok("queues.get_all", name=f"^{name}$")["queues"][0]["id"]
    [task] = enqueue(api, queue, unique("long"), code="import time; print('sleeping', flush=True); time.sleep(120)")
    # The execute child and, under it, the task's own process.
    tree = wait_for(lambda: [p for p in psutil.Process(daemon.process.pid).children(recursive=True)
                             if "job.py" in " ".join(p.cmdline())] and
                    psutil.Process(daemon.process.pid).children(recursive=True), what="the task's process")

    began = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(40) == 0, daemon.log()
    assert time.monotonic() - began < 30
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    doc = get_task(api, task)
    assert (doc["status"], doc["status_reason"]) == ("stopped", "the agent running the task was stopped")
    assert live_worker(api, worker) is None


# -- order ---------------------------------------------------------------------------------------------------
def test_strict_priority_runs_the_first_queue_first_and_order_fairness_takes_turns(api, home):
    high, low = create_queue(api, unique("high")), create_queue(api, unique("low"))
    daemon, _ = start(home, "--queue", high, low)
    [busy] = enqueue(api, low, "busy", code="import time; time.sleep(1.5)")
    wait_for(lambda: get_task(api, busy)["status"] == "in_progress", what="the first task to run")
    # Enqueued while the agent is busy: low first, high last.
    lows = enqueue(api, low, "low-1", "low-2")
    highs = enqueue(api, high, "high-1", "high-2")
    docs = finished(api, [busy] + lows + highs)
    daemon.stop()
    order = [doc["name"] for doc in sorted(docs, key=lambda d: stamp(d["started"]))]
    assert order == ["busy", "high-1", "high-2", "low-1", "low-2"]

    # Enqueued while no agent serves them.
    first, second = create_queue(api, unique("a")), create_queue(api, unique("b"))
    tasks = enqueue(api, first, "a-1", "a-2", "a-3") + enqueue(api, second, "b-1", "b-2")
    daemon, _ = start(home, "--queue", first, second, "--order-fairness", name="fair")
    docs = finished(api, tasks)
    daemon.stop()
    order = [doc["name"] for doc in sorted(docs, key=lambda d: stamp(d["started"]))]
    assert order == ["a-1", "b-1", "a-2", "b-2", "a-3"]


# -- services mode -------------------------------------------------------------------------------------------
def test_services_mode_runs_up_to_n_tasks_at_once_and_never_more(api, home):
    """Each running service reports as a worker of its own, ``<daemon>:service:<task>``, with the
    ``--child-report-tags``, as clearml-agent's children do; the daemon itself reports without them."""
    queue = create_queue(api, unique("services"))
    tasks = enqueue(api, queue, "s-1", "s-2", "s-3", code="import time; time.sleep(3)")
    daemon, worker = start(home, "--queue", queue, "--services-mode", "2", "--child-report-tags", "svc", "nightly")
    peak, service_workers = 0, {}

    def all_done():
        nonlocal peak
        statuses = [get_task(api, t)["status"] for t in tasks]
        peak = max(peak, statuses.count("in_progress"))
        for w in api.ok("workers.get_all")["workers"]:
            if w["id"].startswith(f"{worker}:service:"):
                service_workers[w["id"]] = (w.get("task") or {}).get("id"), w.get("tags")
        return all(s in FINAL for s in statuses)

    wait_for(all_done, 60, "the services tasks", interval=0.1)
    assert service_workers == {f"{worker}:service:{t}": (t, ["svc", "nightly"]) for t in tasks}, service_workers
    assert not live_worker(api, worker).get("tags")
    wait_for(lambda: not [w for w in api.ok("workers.get_all")["workers"] if w["id"].startswith(f"{worker}:service:")],
             10, "the services' workers to go")
    daemon.stop()
    docs = [get_task(api, t) for t in tasks]
    assert all(doc["status"] == "completed" for doc in docs), daemon.log()
    spans = [(stamp(d["started"]), stamp(d["completed"])) for d in docs]
    overlapping = max(sum(1 for s, e in spans if s <= at < e) for at, _ in spans)
    assert peak == 2 and overlapping == 2
    outputs = home.path / ".clearml" / "trackside-agent" / "tasks"  # not --foreground: a file per task
    assert sorted(p.name for p in outputs.iterdir()) == sorted(f"task-{t}.log" for t in tasks)


def test_a_stop_request_reaches_a_service_through_its_own_worker(api, home):
    """The service's worker reports it, so ``tasks.stop`` asks its agent (the task stays in progress, marked
    stopping) instead of stopping it under the agent; the agent then ends it ``stopped``. Asked at once:
    the request comes before the agent's second tasks.started, which must not erase it."""
    queue = create_queue(api, unique("services-stop"))
    daemon, worker = start(home, "--queue", queue, "--services-mode", "2")
    [task] = enqueue(api, queue, "long-service", code="import time; print('UP', flush=True); time.sleep(120)")
    wait_for(lambda: (live_worker(api, f"{worker}:service:{task}") or {}).get("task"), what="the service's worker")
    api.ok("tasks.stop", task=task)
    assert get_task(api, task)["status"] == "in_progress"
    [doc] = finished(api, [task], timeout=30)
    assert (doc["status"], doc["status_reason"]) == ("stopped", "task was stopped by tasks.stop"), daemon.log()
    assert daemon.running()


# -- background runs -------------------------------------------------------------------------------------------
def test_detached_daemon_writes_a_pid_file_and_stop_ends_it(api, home):
    queue = create_queue(api, unique("detached"))
    launched = home.run("daemon", "--queue", queue, "-d", timeout=90)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    worker = re.search(r"worker (\S+), PID (\d+)", launched.stdout)
    pid = int(worker.group(2))
    run_dir = home.path / ".clearml" / "trackside-agent" / "run"
    [pid_file] = run_dir.glob("*.pid")
    assert psutil.pid_exists(pid) and live_worker(api, worker.group(1))
    assert "log:" in launched.stdout
    api.ok("workers.set_runtime_properties", worker=worker.group(1),
           runtime_properties=[{"key": "force", "value": "off", "expiry": 600}])
    status = home.run("daemon", "--queue", queue, "--status", timeout=60)
    assert f"Worker: {worker.group(1)} (idle; takes no tasks: forced off" in status.stdout, status.stdout + status.stderr
    assert "runtime property force = off, expires in" in status.stdout

    stopped = home.run("daemon", "--queue", queue, "--stop", timeout=90)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not pid_file.exists()
    assert live_worker(api, worker.group(1)) is None

    again = home.run("daemon", "--queue", queue, "-d", timeout=90)
    worker_id = re.search(r"worker (\S+), PID", again.stdout).group(1)
    by_id = home.run("daemon", "--stop", worker_id, timeout=90)
    assert by_id.returncode == 0, by_id.stdout + by_id.stderr
    assert not list(run_dir.glob("*.pid"))
    assert home.run("daemon", "--queue", queue, "--stop", timeout=60).returncode == 1  # nothing left to stop
