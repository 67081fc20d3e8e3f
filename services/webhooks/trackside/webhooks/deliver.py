"""The RQ job ``deliver(delivery_id)``: one attempt of one delivery, and what follows from its answer.

- 2xx: succeeded (the webhook's failure streak ends).
- 429, 5xx, timeout, no connection: the next attempt is scheduled through RQ's scheduler after the
  ``retry_schedule`` step (with jitter; a ``Retry-After`` answer replaces the step); past the schedule: failed.
- 410 Gone: failed, and the webhook is disabled with the reason.
- any other answer (3xx included: redirects are not followed), or a refused target: failed.
- a webhook that has had only failures for ``disable_after`` seconds is disabled with the reason, which its
  owner sees in ``webhooks.get_all``; its open deliveries then fail when their turn comes.

At-least-once and idempotent: a job whose delivery already succeeded, is being sent by another job (a Redis
lock per delivery) or is not due yet does nothing, so duplicate jobs (a redelivered stream event, the
sweeper's re-enqueue after a lost job) cost nothing. The ``webhook-id`` is the delivery id on every attempt.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from trackside.shared.webhooks import jobs, sealing, signing, store
from trackside.webhooks import resources, sender
from trackside.webhooks.retry import next_delay

log = logging.getLogger("trackside.webhooks.deliver")

LOCK_PREFIX = "trackside:webhooks:sending:"
# A delivery about the same object as an earlier one (a task's status changes) that is still on its first
# attempt waits for it, so a healthy receiver sees each object's events in order: a moment in the job (the
# earlier one is being sent by another worker), then by rescheduling itself (the earlier one is queued behind
# it: holding the worker would stall the queue), for at most ORDER_WAIT_SEC after it was created.
ORDER_INLINE_WAIT_SEC = 1.0
ORDER_RECHECK_SEC = 1.0
ORDER_WAIT_SEC = 10.0
EARLY_TOLERANCE_SEC = 2.0


def deliver(delivery_id: str) -> str:
    res = resources.get()
    lock_key = LOCK_PREFIX + delivery_id
    # Outlives one attempt (sender.send ends within TOTAL_TIMEOUT_FACTOR * request_timeout); a worker killed
    # mid-send leaves it to expire.
    lock_ms = int((sender.TOTAL_TIMEOUT_FACTOR * res.settings.request_timeout + 5) * 1000)
    if not res.redis.set(lock_key, "1", nx=True, px=lock_ms):
        # Another job is sending it now, or one was killed while sending: look again once the lock is gone
        # (the delivery is then done, scheduled, or due again after the killed attempt).
        remaining = max(res.redis.pttl(lock_key), 0) / 1000 + 0.5
        res.db[store.DELIVERIES].update_one(
            {"_id": delivery_id, "status": {"$in": list(store.OPEN_STATES)}},
            {"$max": {"next_attempt_at": _now() + timedelta(seconds=remaining)}})
        jobs.enqueue_delivery(res.redis, delivery_id, delay=remaining)
        return "busy"
    try:
        return _attempt(res, delivery_id)
    finally:
        res.redis.delete(lock_key)


def _attempt(res: resources.Resources, delivery_id: str) -> str:
    deliveries, webhooks = res.db[store.DELIVERIES], res.db[store.WEBHOOKS]
    delivery = deliveries.find_one({"_id": delivery_id})
    if delivery is None or delivery.get("status") not in store.OPEN_STATES:
        return "done"
    now = _now()
    due = delivery.get("next_attempt_at")
    if due is not None and _aware(due) > now + timedelta(seconds=EARLY_TOLERANCE_SEC):
        return "not due"  # a stale duplicate job; the scheduled one comes at its time
    webhook = webhooks.find_one({"_id": delivery["webhook"]})
    if webhook is None:
        return _close(res, delivery, store.FAILED, error="the webhook was deleted")
    if not webhook.get("enabled", True):
        return _close(res, delivery, store.FAILED, error="the webhook is disabled")
    if not _earlier_done(res, delivery):
        recheck = _now() + timedelta(seconds=ORDER_RECHECK_SEC)
        res.db[store.DELIVERIES].update_one({"_id": delivery_id}, {"$set": {"next_attempt_at": recheck}})
        jobs.enqueue_delivery(res.redis, delivery_id, delay=ORDER_RECHECK_SEC)
        return "waiting"
    try:
        secrets = _signing_secrets(webhook, res.settings.token_secret, now)
    except sealing.SealError as exc:
        return _close(res, delivery, store.FAILED, error=str(exc))
    body = delivery.get("body", "").encode("utf-8")
    if len(body) > res.settings.max_body_bytes:
        return _close(res, delivery, store.FAILED,
                      error=f"the body is larger than max_body_bytes ({res.settings.max_body_bytes})")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(secrets, delivery_id, timestamp, body),
    }
    attempt = int(delivery.get("attempt", 0)) + 1
    started = time.monotonic()
    try:
        answer = sender.send("POST", webhook["url"], headers, body, timeout=res.settings.request_timeout,
                             allow_private=res.settings.allow_private_targets)
    except sender.SendError as exc:
        record = _record(attempt, None, started, str(exc))
        if exc.retryable:
            return _retry_or_fail(res, delivery, webhook, record, None)
        return _fail(res, delivery, webhook, record)
    record = _record(attempt, answer.status, started, None if answer.status < 300 else f"HTTP {answer.status}")
    if 200 <= answer.status < 300:
        _close(res, delivery, store.SUCCEEDED, record=record)
        if webhook.get("failing_since") is not None:
            webhooks.update_one({"_id": webhook["_id"]}, {"$set": {"failing_since": None}})
        return "succeeded"
    if answer.status == 410:
        _disable(res, webhook, "the endpoint answered 410 Gone")
        return _close(res, delivery, store.FAILED, record=record)
    if answer.status == 429 or answer.status >= 500:
        return _retry_or_fail(res, delivery, webhook, record, answer.headers.get("retry-after"))
    return _fail(res, delivery, webhook, record)


def _retry_or_fail(res, delivery: dict, webhook: dict, record: dict, retry_after: str | None) -> str:
    delay = next_delay(res.settings.retry_schedule, record["attempt"], retry_after)
    if delay is None:
        return _fail(res, delivery, webhook, record)
    if _failing_too_long(res, webhook, record):  # disabled now: no retry
        _close(res, delivery, store.FAILED, record=record)
        return "failed"
    next_at = _now() + timedelta(seconds=delay)
    _close(res, delivery, store.RETRYING, record=record, next_attempt_at=next_at)
    _note_failure(res, webhook)
    jobs.enqueue_delivery(res.redis, delivery["_id"], delay=delay)
    return "retrying"


def _fail(res, delivery: dict, webhook: dict, record: dict) -> str:
    _close(res, delivery, store.FAILED, record=record)
    _note_failure(res, webhook)
    _failing_too_long(res, webhook, record)
    return "failed"


def _note_failure(res, webhook: dict) -> None:
    res.db[store.WEBHOOKS].update_one({"_id": webhook["_id"], "failing_since": None},
                                      {"$set": {"failing_since": _now()}})


def _failing_too_long(res, webhook: dict, record: dict) -> bool:
    """Disable the webhook when its failures have lasted ``disable_after``; True when it did."""
    since = webhook.get("failing_since")
    if since is None or (_now() - _aware(since)).total_seconds() < res.settings.disable_after:
        return False
    _disable(res, webhook, f"deliveries have failed since {_aware(since).isoformat(timespec='seconds')} "
                           f"(last: {record['error']})")
    return True


def _disable(res, webhook: dict, reason: str) -> None:
    log.warning("webhook %s disabled: %s", webhook["_id"], reason)
    res.db[store.WEBHOOKS].update_one(
        {"_id": webhook["_id"]}, {"$set": {"enabled": False, "disabled_reason": reason, "last_update": _now()}})


def _close(res, delivery: dict, status: str, *, record: dict | None = None, error: str | None = None,
           next_attempt_at: datetime | None = None) -> str:
    update: dict[str, Any] = {"$set": {"status": status, "last_update": _now(), "next_attempt_at": next_attempt_at,
                                       "swept": 0}}  # its job ran: the sweeper's count starts again
    if record is None and error is not None:
        record = _record(int(delivery.get("attempt", 0)) + 1, None, None, error)
    if record is not None:
        update["$push"] = {"attempts": record}
        update["$set"]["attempt"] = record["attempt"]
    res.db[store.DELIVERIES].update_one({"_id": delivery["_id"]}, update)
    return status


def _record(attempt: int, status_code: int | None, started: float | None, error: str | None) -> dict:
    duration = round((time.monotonic() - started) * 1000, 1) if started is not None else 0.0
    return {"attempt": attempt, "at": _now(), "status_code": status_code, "duration_ms": duration, "error": error}


def _signing_secrets(webhook: dict, token_secret: str, now: datetime) -> list[str]:
    secrets = [sealing.unseal(webhook["secret_sealed"], token_secret)]
    previous, expires = webhook.get("previous_secret_sealed"), webhook.get("previous_secret_expires")
    if previous and expires is not None and _aware(expires) > now:
        secrets.append(sealing.unseal(previous, token_secret))
    return secrets


def _earlier_done(res, delivery: dict) -> bool:
    """Whether the delivery made before this one about the same object (``after``, set by the consumer) has
    had its first try; waits up to ORDER_INLINE_WAIT_SEC, and gives up waiting ORDER_WAIT_SEC after creation."""
    earlier = delivery.get("after")
    if not earlier:
        return True
    if (_now() - _aware(delivery["created"])).total_seconds() > ORDER_WAIT_SEC:
        return True  # order is best effort: a stuck earlier delivery does not hold this one back for long
    deadline = time.monotonic() + ORDER_INLINE_WAIT_SEC
    while True:
        doc = res.db[store.DELIVERIES].find_one({"_id": earlier}, {"status": 1})
        if doc is None or doc.get("status") != store.PENDING:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
