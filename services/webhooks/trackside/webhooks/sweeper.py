"""Finding deliveries whose RQ job was lost and enqueueing them again.

Deliveries live in MongoDB; RQ only carries the jobs. A Redis restart without persistence drops queued and
scheduled jobs, and a worker killed mid-job leaves its job behind: such a delivery stays open with its
``next_attempt_at`` in the past. A pass runs only when the RQ queue is empty (the workers have caught up, so
an open delivery overdue by ``sweep_overdue_sec`` is not just waiting its turn), and enqueues those again
(claimed by a conditional update, so two services never both do it). A job for a delivery that is in fact
still running does nothing (the delivery's lock), and one whose delivery has succeeded does nothing."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from trackside.shared.webhooks import jobs, store
from trackside.webhooks.resources import Resources

log = logging.getLogger("trackside.webhooks.sweeper")
BATCH = 500
# A delivery swept this often without its job ever finishing is given up (a delivery that kills its worker or
# raises every time would otherwise come back forever).
MAX_SWEEPS = 10


def sweep(res: Resources) -> int:
    if jobs.queue(res.redis).count:
        return 0  # the workers are behind: an overdue delivery may just be waiting its turn in the queue
    now = datetime.now(timezone.utc)
    cutoff = now - timedelta(seconds=res.settings.sweep_overdue_sec)
    deliveries = res.db[store.DELIVERIES]
    overdue = deliveries.find(
        {"status": {"$in": list(store.OPEN_STATES)},
         "$or": [{"next_attempt_at": {"$lt": cutoff}}, {"next_attempt_at": None, "last_update": {"$lt": cutoff}}]},
        {"next_attempt_at": 1, "swept": 1, "attempt": 1}).limit(BATCH)
    swept = 0
    for doc in overdue:
        claim = {"_id": doc["_id"], "next_attempt_at": doc.get("next_attempt_at")}
        if doc.get("swept", 0) >= MAX_SWEEPS:
            # Its job keeps dying (not a lost job: a delivery that breaks the worker); stop trying.
            deliveries.update_one(claim, {"$set": {"status": store.FAILED, "next_attempt_at": None, "last_update": now},
                                          "$push": {"attempts": {"attempt": doc.get("attempt", 0) + 1, "at": now,
                                                                 "status_code": None, "duration_ms": 0.0,
                                                                 "error": "its job failed again and again"}}})
            log.error("delivery %s failed: its job was lost %d times", doc["_id"], MAX_SWEEPS)
            continue
        claimed = deliveries.update_one(claim, {"$set": {"next_attempt_at": now}, "$inc": {"swept": 1}})
        if claimed.modified_count:
            jobs.enqueue_delivery(res.redis, doc["_id"], again=True)
            swept += 1
    if swept:
        log.info("enqueued %d overdue deliveries again (their jobs were lost)", swept)
    return swept
