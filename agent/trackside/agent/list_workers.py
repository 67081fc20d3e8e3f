"""``trackside-agent list [--json]``: the company's live workers, their queues and what they run.

One ``workers.get_all`` call: the server already joins queue names and task names onto each worker.
``--json`` prints a list of ``{id, queues: [{id, name}], task: {id, name} | null, last_activity, ip}`` for
scripts; the table is for people.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from trackside.agent.api import AgentApi, ApiError
from trackside.agent.config import AgentConfig


def run_list(args, config: AgentConfig) -> int:
    try:
        workers = AgentApi.from_config(config).call("workers.get_all", {}).get("workers") or []
    except (ApiError, OSError) as exc:
        print(f"trackside-agent list: {exc}", file=sys.stderr)
        return 1
    rows = sorted((_row(w) for w in workers), key=lambda r: r["id"])
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 0


def _row(worker: dict) -> dict:
    task = worker.get("task") or None
    return {
        "id": worker.get("id"),
        "queues": [{"id": q.get("id"), "name": q.get("name")} for q in worker.get("queues") or []],
        "task": {"id": task.get("id"), "name": task.get("name")} if task else None,
        "last_activity": worker.get("last_activity_time"),
        "ip": worker.get("ip"),
    }


def format_table(rows: list[dict], now: datetime | None = None) -> str:
    if not rows:
        return "No workers."
    now = now or datetime.now(timezone.utc)
    header = ("WORKER", "QUEUES", "RUNNING TASK", "LAST ACTIVITY")
    lines = [(
        row["id"] or "",
        ", ".join(q["name"] or q["id"] for q in row["queues"]) or "-",
        f"{row['task']['id']} ({row['task']['name']})" if row["task"] else "-",
        _ago(row["last_activity"], now),
    ) for row in rows]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()
                     for cells in [header, *lines])


def _ago(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "-"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - when).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
