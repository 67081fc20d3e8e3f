"""Finding deliveries whose RQ job was lost and enqueueing them again.

Deliveries live in MongoDB; RQ only carries the jobs. A Redis restart without persistence drops queued and
scheduled jobs, and a worker killed mid-job leaves its job behind: such a delivery stays open with its
``next_attempt_at`` in the past. Each pass takes those overdue by ``sweep_overdue_sec`` and enqueues them
again (claimed by a conditional update, so two services never both do it). A job for a delivery that is in
fact still queued does nothing when its twin has run."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from trackside.shared.webhooks import jobs, store
from trackside.webhooks.resources import Resources

log = logging.getLogger("trackside.webhooks.sweeper")
BATCH = 500


def sweep(res: Resources) -> int:
    now = datetime.now(timezone.utc)
    cutoff = now - timedelta(seconds=res.settings.sweep_overdue_sec)
    deliveries = res.db[store.DELIVERIES]
    overdue = deliveries.find(
        {"status": {"$in": list(store.OPEN_STATES)},
         "$or": [{"next_attempt_at": {"$lt": cutoff}}, {"next_attempt_at": None, "last_update": {"$lt": cutoff}}]},
        {"next_attempt_at": 1}).limit(BATCH)
    swept = 0
    for doc in overdue:
        claimed = deliveries.update_one({"_id": doc["_id"], "next_attempt_at": doc.get("next_attempt_at")},
                                        {"$set": {"next_attempt_at": now}})
        if claimed.modified_count:
            jobs.enqueue_delivery(res.redis, doc["_id"], again=True)
            swept += 1
    if swept:
        log.info("enqueued %d overdue deliveries again (their jobs were lost)", swept)
    return swept
