"""Where webhooks and their deliveries live in the backend database, and delivery ids.

A delivery's ``_id`` is its Standard Webhooks ``webhook-id``: stable across retries and redeliveries, so a
receiver deduplicates by it. The unique (webhook, event_id) index is what makes re-reading an event from the
stream (after a crash before its acknowledgement) harmless: the second insert fails and nothing is sent twice.
"""
from __future__ import annotations

import secrets
import string
from typing import Any

WEBHOOKS = "webhooks"
DELIVERIES = "webhook_deliveries"

DELIVERY_ID_PREFIX = "msg_"
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"  # url-safe
_ID_LENGTH = 26

# Delivery states (webhook_deliveries.status).
PENDING, RETRYING, SUCCEEDED, FAILED = "pending", "retrying", "succeeded", "failed"
OPEN_STATES = (PENDING, RETRYING)


def new_delivery_id() -> str:
    """``msg_`` and 26 url-safe random characters (156 bits)."""
    return DELIVERY_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def ensure_indexes(db: Any) -> None:
    """Idempotent; every process that writes these collections calls it at start."""
    import pymongo  # the server extra

    db[WEBHOOKS].create_index([("company", pymongo.ASCENDING), ("enabled", pymongo.ASCENDING)])
    deliveries = db[DELIVERIES]
    deliveries.create_index(
        [("webhook", pymongo.ASCENDING), ("event_id", pymongo.ASCENDING)], unique=True, name="webhook_event")
    # get_deliveries pages a webhook's deliveries newest first.
    deliveries.create_index([("webhook", pymongo.ASCENDING), ("created", pymongo.DESCENDING)])
    # The webhooks service's sweep finds open deliveries whose job was lost (a Redis restart, a killed worker).
    deliveries.create_index([("status", pymongo.ASCENDING), ("next_attempt_at", pymongo.ASCENDING)])
