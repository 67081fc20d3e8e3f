"""Working hours end to end: `trackside-agent daemon --downtime` against the real API, with real processes.
The downtime is computed from the real clock (the coming hours, on every day), so no clock is faked; the
spec grammar itself is table-tested in tests/unit/test_schedule.py and the server's gate in
tests/integration/test_schedule_gate.py."""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from support.daemons import enqueue, finished, live_worker, start
from support.names import unique
from support.objects import get_task
from support.our_agent import AgentHome
from support.waiting import wait_for

# Long enough for a claim to have happened had the gate been open (the daemon claims within milliseconds).
NOT_TAKEN_SEC = 2.0
# "Promptly": the gate's change wakes the daemon at once; this only bounds a slow machine.
PROMPT_SEC = 5.0


def downtime_from_now() -> str:
    """The current hour and the next one, every day: over midnight when run at 22 or 23 (``23-1``)."""
    hour = datetime.now().hour
    return f"{hour}-{(hour + 2) % 24} SUN-SAT"


@pytest.fixture
def home(tmp_path, api_server) -> AgentHome:
    # A fixed worker id, so that ``daemon --status`` (another process) knows which worker to describe.
    return AgentHome.create(tmp_path, api_server, {"status_report_interval_sec": 1, "worker_id": unique("hours")},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})


def test_settings_that_cannot_work_are_refused(tmp_path, api_server, home):
    both = home.run("daemon", "--queue", "q", "--uptime", "9-17 MON", "--downtime", "20-23 SUN", timeout=60)
    assert both.returncode == 2 and "both uptime and downtime are set" in both.stderr, both.stderr
    bad = home.run("daemon", "--queue", "q", "--downtime", "9-17 MON", "25 MON", timeout=60)
    assert bad.returncode == 2 and "'25 MON': hours '25' are out of range" in bad.stderr, bad.stderr
    configured = AgentHome.create(tmp_path / "conf", api_server, {"uptime": ["17-20 SUN-TUE"],
                                                                 "downtime": ["13-22 WED"]})
    refused = configured.run("daemon", "--queue", "q", timeout=60)
    assert refused.returncode == 2 and "use only one of them" in refused.stderr, refused.stderr


def test_out_of_hours_the_daemon_takes_nothing_until_forced_on(api, home):
    """A downtime covering now: the queued task waits and ``workers.get_all`` says why; the worker's
    ``force`` runtime property (what an admin sets) starts it at once, without a restart; with the property
    gone the worker is off again, and a queue's ``force_workers:on`` tag starts the next task at once."""
    downtime, name = downtime_from_now(), unique("hours-q")
    daemon, worker = start(home, "--queue", name, "--create-queue", "--downtime", downtime)
    queue = api.ok("queues.get_all", name=f"^{name}$")["queues"][0]["id"]
    wait_for(lambda: (live_worker(api, worker) or {}).get("schedule_state") == "idle_by_schedule",
             what="the worker to show it is off by its schedule")
    status = home.run("daemon", "--queue", name, "--downtime", downtime, "--status", timeout=60)
    assert f"Schedule: downtime: {downtime}; off now until" in status.stdout, status.stdout
    assert f"Worker: {worker} (idle; takes no tasks: outside its working hours)" in status.stdout, status.stdout

    [first] = enqueue(api, queue, unique("waits"))
    time.sleep(NOT_TAKEN_SEC)
    assert get_task(api, first)["status"] == "queued", daemon.log()

    api.ok("workers.set_runtime_properties", worker=worker,
           runtime_properties=[{"key": "force", "value": "on", "expiry": 600}])
    assert live_worker(api, worker)["schedule_state"] == "forced_on"
    wait_for(lambda: get_task(api, first)["status"] != "queued", timeout=PROMPT_SEC, what="the forced worker to take it")
    assert finished(api, [first])[0]["status"] == "completed", daemon.log()

    api.ok("workers.set_runtime_properties", worker=worker, runtime_properties=[{"key": "force", "expiry": 0}])
    wait_for(lambda: live_worker(api, worker)["schedule_state"] == "idle_by_schedule", what="the force to go")
    [second] = enqueue(api, queue, unique("waits-too"))
    time.sleep(NOT_TAKEN_SEC)
    assert get_task(api, second)["status"] == "queued", daemon.log()

    api.ok("queues.update", queue=queue, tags=["force_workers:on"])
    assert live_worker(api, worker)["schedule_state"] == "forced_on"
    wait_for(lambda: get_task(api, second)["status"] != "queued", timeout=PROMPT_SEC, what="the tag to let it take it")
    assert finished(api, [second])[0]["status"] == "completed", daemon.log()
    status = home.run("daemon", "--queue", name, "--downtime", downtime, "--status", timeout=60)
    assert f"Queue tags that override the schedule: {name}: force_workers:on" in status.stdout, status.stdout
    assert "forced on" in status.stdout, status.stdout
