"""One migrating process at a time: a lock document with a lease, taken and renewed by compare-and-swap.

Only ``insert_one`` (the unique ``_id`` decides between two inserts) and ``update_one`` filtered on what was
read are used: secantusdb's ``find_one_and_update`` is not exactly-once under concurrency (ARCHITECTURE.md,
"Two secantusdb defects"). A holder that dies leaves a lease that expires; the next process takes it over.
Leases compare the processes' own clocks, so hosts sharing a database need roughly synchronised clocks.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from trackside.shared.timeutil import utcnow

LOCK_ID = "lock"


class LeaseLost(RuntimeError):
    """Another process took the lock over (this one stalled past its lease)."""


class Lease:
    def __init__(self, coll: Collection, seconds: float):
        self.coll = coll
        self.seconds = seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renewed = None

    def _expiry(self):
        return utcnow() + timedelta(seconds=self.seconds)

    def try_acquire(self) -> bool:
        try:
            self.coll.insert_one({"_id": LOCK_ID, "owner": self.owner, "expires": self._expiry()})
        except DuplicateKeyError:
            # Held: take it only if its lease has run out, and only if nobody else took it first.
            taken = self.coll.update_one({"_id": LOCK_ID, "expires": {"$lt": utcnow()}},
                                         {"$set": {"owner": self.owner, "expires": self._expiry()}})
            if taken.matched_count != 1:
                return False
        self._renewed = utcnow()
        return True

    def renew(self, force: bool = False) -> None:
        """Extend the lease (at most every quarter lease unless ``force``); raise :class:`LeaseLost` if gone."""
        if not force and self._renewed and (utcnow() - self._renewed).total_seconds() < self.seconds / 4:
            return
        kept = self.coll.update_one({"_id": LOCK_ID, "owner": self.owner}, {"$set": {"expires": self._expiry()}})
        if kept.matched_count != 1:
            raise LeaseLost(f"migration lock taken over from {self.owner}")
        self._renewed = utcnow()

    def release(self) -> None:
        self.coll.delete_one({"_id": LOCK_ID, "owner": self.owner})
