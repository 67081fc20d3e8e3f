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
RESULT_TTL = 60  # UI action results, read by run_ui_action
# A delivery's outcome lives in its document; RQ keeps no result (fewer writes per job).
DELIVERY_RESULT_TTL = 0


def rq_connection(redis: Any):
    """RQ needs a client that returns bytes; the services' clients decode to ``str``, so a bytes client to the
    same server (same host, port, user) is made once per connection pool."""
    if not redis.get_encoder().decode_responses:
        return redis
    pool = redis.connection_pool
    client = _BYTES_CLIENTS.get(id(pool))
    if client is None:
        from redis import ConnectionPool, Redis

        kwargs = {**pool.connection_kwargs, "decode_responses": False}
        client = _BYTES_CLIENTS[id(pool)] = Redis(
            connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))
    return client


_BYTES_CLIENTS: dict[int, Any] = {}


def queue(redis: Any):
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(QUEUE, connection=rq_connection(redis), serializer=JSONSerializer)


def enqueue_delivery(redis: Any, delivery_id: str, *, delay: float = 0, again: bool = False) -> None:
    """One job delivering ``delivery_id`` (now, or after ``delay`` seconds through RQ's scheduler). The job
    id is the delivery id; a retry or a re-enqueue of a lost job (``again``) gets the delivery id and a random
    suffix, so it never overwrites the job that schedules it. The job skips a delivery that already succeeded
    or is being sent, so a second job for one delivery is harmless."""
    import math
    import secrets
    from datetime import datetime, timezone

    job_id = f"{delivery_id}-{secrets.token_hex(4)}" if again or delay > 0 else delivery_id
    options = dict(job_id=job_id, job_timeout=DELIVERY_JOB_TIMEOUT, result_ttl=DELIVERY_RESULT_TTL,
                   failure_ttl=86400)
    if delay > 0:
        # RQ's scheduler keeps whole seconds (it truncates): round up, so a retry never comes early.
        when = datetime.fromtimestamp(math.ceil(time.time() + delay), timezone.utc)
        queue(redis).enqueue_at(when, DELIVER_JOB, delivery_id, **options)
    else:
        queue(redis).enqueue(DELIVER_JOB, delivery_id, **options)


def enqueue_deliveries(redis: Any, delivery_ids: list[str]) -> None:
    """One job per delivery (job id = delivery id), all in one Redis round trip."""
    if not delivery_ids:
        return
    from rq import Queue

    target = queue(redis)
    target.enqueue_many([
        Queue.prepare_data(DELIVER_JOB, (delivery_id,), job_id=delivery_id, timeout=DELIVERY_JOB_TIMEOUT,
                           result_ttl=DELIVERY_RESULT_TTL, failure_ttl=86400)
        for delivery_id in delivery_ids])


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
