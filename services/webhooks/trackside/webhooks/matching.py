"""Which webhooks want an event: same company, enabled, subscribed to its type, created before it happened,
and passing the webhook's filters (projects: for events about a task, model or project; statuses: for
task.status_changed)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from trackside.shared.webhooks import store

PROJECT_SCOPED_PREFIXES = ("task.", "model.")


def enabled_webhooks(db: Any, company: str) -> list[dict]:
    return list(db[store.WEBHOOKS].find({"company": company, "enabled": True},
                                        {"secret_sealed": 0, "previous_secret_sealed": 0}))


def wants(webhook: dict, event: dict) -> bool:
    if event.get("type") not in (webhook.get("event_types") or []):
        return False
    data = event.get("data") or {}
    happened = _parse_time(event.get("timestamp"))
    created = webhook.get("created")
    if happened is not None and created is not None and _aware(created) > happened:
        return False  # a webhook is not told what happened before it existed (a stream read from its start)
    projects = webhook.get("projects") or []
    if projects:
        event_type = event.get("type", "")
        if event_type.startswith(PROJECT_SCOPED_PREFIXES):
            if data.get("project") not in projects:
                return False
        elif event_type.startswith("project."):
            if data.get("id") not in projects:
                return False
    statuses = webhook.get("statuses") or []
    if statuses and event.get("type") == "task.status_changed" and data.get("status") not in statuses:
        return False
    return True


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
