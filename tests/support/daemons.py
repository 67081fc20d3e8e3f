"""Helpers for tests that run `trackside-agent daemon` against the real API: start one and learn its
worker id, enqueue literal-script tasks, wait for them to end. Every daemon `start` gives is stopped after
its test by the autouse fixture in tests/agent/conftest.py, also when the test failed."""
from __future__ import annotations

import re
from datetime import datetime

from support.objects import get_task
from support.our_agent import AgentDaemon, AgentHome
from support.waiting import wait_for

FINAL = {"completed", "failed", "stopped", "closed", "published"}


STARTED: list[AgentDaemon] = []


def start(home: AgentHome, *args: str, name: str = "daemon") -> tuple[AgentDaemon, str]:
    """A running daemon and its worker id, once it waits for work."""
    daemon = home.start_daemon(*args, name=name)
    STARTED.append(daemon)
    wait_for(lambda: "waiting for tasks" in daemon.log() or not daemon.running(), what="the daemon to start")
    assert daemon.running(), daemon.log()
    return daemon, re.search(r"^Worker (\S+) \(", daemon.log(), re.M).group(1)


def script_task(api, name: str, code: str = "print('hi')") -> str:
    return api.ok("tasks.create", name=name, type="training",
                  script={"diff": code, "entry_point": "job.py", "working_dir": "."})["id"]


def enqueue(api, queue: str, *names: str, code: str = "print('hi')") -> list[str]:
    tasks = []
    for name in names:
        tasks.append(script_task(api, name, code))
        api.ok("tasks.enqueue", task=tasks[-1], queue=queue)
    return tasks


def finished(api, tasks: list[str], timeout: float = 60.0) -> list[dict]:
    docs = {}

    def done():
        for task in tasks:
            if task not in docs:
                doc = get_task(api, task)
                if doc["status"] in FINAL:
                    docs[task] = doc
        return len(docs) == len(tasks)

    wait_for(done, timeout, f"tasks {tasks} to finish", interval=0.1)
    return [docs[task] for task in tasks]


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def live_worker(api, worker: str) -> dict | None:
    return next((w for w in api.ok("workers.get_all")["workers"] if w["id"] == worker), None)


def stop_started() -> None:
    while STARTED:
        STARTED.pop().stop()
