"""How the API and the webhooks service hand work to the RQ workers (``trackside-webhooks worker``).

Jobs are named by their dotted paths, so a process that enqueues needs only ``rq``, not the worker's code.
Arguments and results travel as JSON (RQ's JSONSerializer), never pickles.
"""
from __future__ import annotations

import time
from typing import Any

QUEUE = "trackside-webhooks"
DELIVER_JOB = "trackside.webhooks.deliver.deliver"
UI_ACTION_JOB = "trackside.webhooks.actions.perform"
SERIALIZER = "rq.serializers.JSONSerializer"
# A delivery job that has not finished by then is killed (request_timeout is at most this minus a margin).
DELIVERY_JOB_TIMEOUT = 90
RESULT_TTL = 60


def queue(redis: Any):
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(QUEUE, connection=redis, serializer=JSONSerializer)


def enqueue_delivery(redis: Any, delivery_id: str, *, delay: float = 0, attempt: int = 0) -> None:
    """One job delivering ``delivery_id`` (now, or after ``delay`` seconds through RQ's scheduler). The job
    id is the delivery id, with the attempt number for retries so a scheduled retry never overwrites the job
    that schedules it; the job itself skips a delivery that already succeeded, so a second job for one
    delivery is harmless."""
    from datetime import timedelta

    job_id = delivery_id if attempt == 0 else f"{delivery_id}.{attempt}"
    options = dict(job_id=job_id, job_timeout=DELIVERY_JOB_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=86400)
    if delay > 0:
        queue(redis).enqueue_in(timedelta(seconds=delay), DELIVER_JOB, delivery_id, **options)
    else:
        queue(redis).enqueue(DELIVER_JOB, delivery_id, **options)


def run_ui_action(redis: Any, action: dict, object_id: str, *, timeout: float = 35) -> dict:
    """Run a server-side UI action for one object on a webhooks worker and wait for its result:
    ``{"ok", "status_code", "duration_ms", "error"}``. No worker answering in time is a failed result."""
    from rq.results import Result

    started = time.monotonic()
    job = queue(redis).enqueue(UI_ACTION_JOB, action, object_id, job_timeout=max(1, int(timeout)),
                               result_ttl=RESULT_TTL, failure_ttl=RESULT_TTL, ttl=max(1, int(timeout)))
    result = job.latest_result(timeout=max(1, int(timeout)))
    if result is None:
        try:
            job.cancel()
        except Exception:  # noqa: BLE001 - it may have started meanwhile; its result is dropped either way
            pass
        return _failure(started, "no webhooks worker answered in time")
    if result.type == Result.Type.SUCCESSFUL and isinstance(result.return_value, dict):
        return result.return_value
    return _failure(started, "the action failed on the webhooks worker")


def _failure(started: float, error: str) -> dict[str, Any]:
    return {"ok": False, "status_code": None, "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "error": error}
