"""Data for the web app's table tests, made through the API as the SDK would make it: projects, tasks in
every status, reported scalars (last/min/max metrics), hyper-parameters, models."""
from __future__ import annotations

import time
import uuid

from support.client import ApiClient


def admin_client(stack) -> ApiClient:
    """A logged-in ApiClient with the stack's admin key."""
    return ApiClient(stack.api_url, stack.api_key, stack.api_secret).login()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_project(api: ApiClient, name: str, description: str = "") -> str:
    return api.ok("projects.create", name=name, description=description)["id"]


def make_task(api: ApiClient, project: str, name: str, status: str = "created", *, type_: str = "training",
              tags: list[str] | None = None, params: dict | None = None, comment: str = "",
              scalars: list[tuple[str, str, list[float]]] | None = None, queue: str | None = None) -> str:
    """A task brought to ``status`` through the transitions a run goes through (started, completed...);
    ``params`` {section: {name: value}}; ``scalars`` [(metric, variant, values by iteration)]."""
    hyperparams = {section: {key: {"section": section, "name": key, "value": str(value), "type": "str"}
                             for key, value in items.items()} for section, items in (params or {}).items()}
    task = api.ok("tasks.create", name=name, project=project, type=type_, tags=tags or [], comment=comment,
                  hyperparams=hyperparams)["id"]
    if status == "queued":
        api.ok("tasks.enqueue", task=task, queue=queue)
        return task
    if status == "created":
        return task
    api.ok("tasks.started", task=task)
    if scalars:
        events = [{"type": "training_stats_scalar", "task": task, "metric": metric, "variant": variant,
                   "iter": i, "value": value, "timestamp": int(time.time() * 1000)}
                  for metric, variant, values in scalars for i, value in enumerate(values)]
        _add_events(api, events)
    if status == "completed":
        api.ok("tasks.completed", task=task)
    elif status == "failed":
        api.ok("tasks.failed", task=task)
    elif status == "stopped":
        api.ok("tasks.stopped", task=task)
    elif status == "published":
        api.ok("tasks.stopped", task=task)
        api.ok("tasks.publish", task=task)
    return task


def _add_events(api: ApiClient, events: list[dict]) -> None:
    """events.add_batch takes json-lines."""
    import json

    body = "\n".join(json.dumps(e) for e in events)
    reply = api.send("events.add_batch", method="POST", body=body, headers={"Content-Type": "application/json-lines"})
    assert reply.status == 200, reply.body


def make_queue(api: ApiClient, name: str) -> str:
    return api.ok("queues.create", name=name)["id"]


def make_model(api: ApiClient, project: str, name: str, *, task: str | None = None, framework: str = "PyTorch",
               tags: list[str] | None = None, ready: bool = False, design: str = "", labels: dict | None = None,
               uri: str = "") -> str:
    body = {"name": name, "project": project, "framework": framework, "tags": tags or [],
            "uri": uri or f"file:///tmp/{name}.pt", "ready": ready, "labels": labels or {}}
    if task:
        body["task"] = task
    if design:
        body["design"] = {"design": design}
    return api.ok("models.create", **body)["id"]
