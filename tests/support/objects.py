"""Creating and reading the API objects many tests start from, through the API itself."""
from __future__ import annotations

from support.client import ApiClient


def create_project(api: ApiClient, name: str, **fields) -> str:
    return api.ok("projects.create", name=name, **fields)["id"]


def create_queue(api: ApiClient, name: str, **fields) -> str:
    return api.ok("queues.create", name=name, **fields)["id"]


def get_task(api: ApiClient, task_id: str) -> dict:
    return api.ok("tasks.get_by_id", task=task_id)["task"]
