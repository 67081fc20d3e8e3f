"""Data for the web app's browser tests: two tasks reported by the real SDK (tests/clients/webapp_task_flow.py),
kept for the whole session (the task page and compare tests share them), and a long console written through
events.add_batch."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from support.client import ApiClient
from support.clients import client_env, run_client_script
from support.names import unique

CONSOLE_LINE = "webapp console line: hello from the SDK"
RESULTS_LINK = re.compile(r"ClearML results page: (\S+)")
JSON_LINES = {"Content-Type": "application/json-lines"}


@dataclass
class SdkTasks:
    project: str
    tasks: list[dict]          # [{"id", "name", "project"}], learning rates 0.01 and 0.1
    links: list[str]           # the results-page links the SDK printed, in task order
    stdout: str


_reported: dict[str, SdkTasks] = {}


def sdk_tasks(stack, home: Path) -> SdkTasks:
    """Two tasks ("first" lr 0.01, "second" lr 0.1) reported once per stack."""
    if stack.url not in _reported:
        env = client_env(stack.api_url, stack.api_key, stack.api_secret, home, files_url=stack.files_url,
                         thread_reporting=True)
        run = run_client_script("webapp_task_flow.py", ["report", unique("webapp-sdk"), "first:0.01", "second:0.1"],
                                env, timeout=240)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        tasks = run.result["tasks"]
        links = RESULTS_LINK.findall(run.stdout + "\n" + run.stderr)
        _reported[stack.url] = SdkTasks(tasks[0]["project"], tasks, links, run.stdout)
    return _reported[stack.url]


def api_client(stack) -> ApiClient:
    return ApiClient(stack.api_url, stack.api_key, stack.api_secret).login()


def long_console_task(stack, project: str, lines: int, needle_at: int, needle: str) -> str:
    """A task whose console has ``lines`` lines ("log line <n>"), line ``needle_at`` reading ``needle``."""
    client = api_client(stack)
    task = client.ok("tasks.create", name=unique("long-console"), type="training", project=project)["id"]
    t0 = 1_700_000_000_000
    batch = []
    for n in range(lines):
        msg = needle if n == needle_at else f"log line {n}"
        batch.append({"type": "log", "task": task, "msg": msg, "level": "info", "worker": "test",
                      "timestamp": t0 + n})
        if len(batch) == 5000 or n == lines - 1:
            reply = client.send("events.add_batch", body="\n".join(json.dumps(e) for e in batch),
                                headers=JSON_LINES, version="2.23")
            assert reply.code == (200, 0), reply.meta
            batch = []
    return task
