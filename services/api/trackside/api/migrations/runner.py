"""Apply the pending steps in order, under the lock, and record each in ``migrations``:
``{_id: step id, applied: date, version: the API package's version, changed: documents, seconds}``."""
from __future__ import annotations

import logging
import time
from importlib import metadata
from typing import Sequence

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from trackside.api.migrations.lock import LOCK_ID, Lease, LeaseLost
from trackside.api.migrations.step import Step
from trackside.shared.timeutil import utcnow

COLLECTION = "migrations"
LEASE_SECONDS = 60.0
POLL_SECONDS = 0.5
# How long a process waits for another one's migrations before giving up (a huge database may need longer:
# run `trackside-admin migrate` before starting the API then).
WAIT_SECONDS = 1800.0

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    pass


def package_version() -> str:
    try:
        return metadata.version("trackside-api")
    except metadata.PackageNotFoundError:
        return "unknown"


def applied_ids(db: Database) -> set[str]:
    return {doc["_id"] for doc in db[COLLECTION].find({"_id": {"$ne": LOCK_ID}, "applied": {"$exists": True}},
                                                       {"_id": 1})}


def apply_pending(db: Database, steps: Sequence[Step] | None = None, lease_seconds: float = LEASE_SECONDS,
                  wait_seconds: float = WAIT_SECONDS) -> list[str]:
    """The ids this process applied (empty when every step was already recorded, by it or another)."""
    if steps is None:
        from trackside.api.migrations import STEPS as steps
    known = {step.id for step in steps}
    if len(known) != len(steps):
        raise MigrationError("two migration steps share an id")
    coll = db[COLLECTION]
    if known <= applied_ids(db):
        return []  # the common start-up: nothing to do, no lock taken
    deadline = time.monotonic() + wait_seconds
    while True:
        lease = Lease(coll, lease_seconds)
        while not lease.try_acquire():
            if known <= applied_ids(db):
                return []  # the holder finished them
            if time.monotonic() > deadline:
                raise MigrationError(f"waited {wait_seconds:.0f} s for another process's migrations; "
                                     f"see {COLLECTION} ({LOCK_ID}) in the backend database")
            time.sleep(POLL_SECONDS)
        try:
            return _apply_holding(db, steps, lease)
        except LeaseLost as exc:
            # This process stalled past its lease and another took over: wait for that one instead. The
            # step it was in is idempotent, so the overlap did no harm.
            log.warning("%s; waiting for the new holder", exc)
        finally:
            lease.release()


def _apply_holding(db: Database, steps: Sequence[Step], lease: Lease) -> list[str]:
    done = applied_ids(db)  # re-read under the lock: the previous holder may have applied some
    applied = []
    for step in steps:
        if step.id in done:
            continue
        started = time.monotonic()
        log.info("migration %s: %s", step.id, step.description)
        changed = step.apply(db, lease.renew)
        lease.renew(force=True)  # still ours: nobody else may be running this step
        record = {"_id": step.id, "applied": utcnow(), "version": package_version(), "changed": changed,
                  "seconds": round(time.monotonic() - started, 3)}
        try:
            db[COLLECTION].insert_one(record)
        except DuplicateKeyError:
            pass  # recorded by a process that took a lapsed lease over; the step is idempotent
        log.info("migration %s applied: %d documents changed", step.id, changed)
        applied.append(step.id)
    return applied
