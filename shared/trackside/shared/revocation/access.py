"""Access keys revoked and users disabled or deleted: the tokens already issued to them stop working.

Tokens are checked without the database (signature and expiry), so each revocation is also written to the
auth database's ``token_revocations``: ``key:<access key>`` refuses every token issued by a login with that key,
``user:<id>`` every token of that user issued at or before ``since``. A record is kept until the longest-lived
token it can concern has expired (``since + max_expiration_sec``).

Every process that checks tokens (API, file server) keeps a snapshot of the records and reloads it when it is
older than ``apiserver.auth.revocation_refresh_sec``: one small query per process per interval, nothing per
request. So a revocation takes effect everywhere within that interval (plus one query's time). While one request
reloads, the others go on with the previous snapshot. If the database cannot be read the old snapshot stays in
use (logged) and a request tries again after ``retry_after_failure_sec`` (by default the interval).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

COLLECTION = "token_revocations"


@dataclass(frozen=True)
class _Snapshot:
    keys: frozenset[str] = frozenset()
    users: dict[str, int] = field(default_factory=dict)  # user -> tokens issued at or before this are refused
    loaded: float = float("-inf")
    reload_at: float = float("-inf")


class RevokedAccess:
    def __init__(self, auth_db: Database, refresh_sec: float, keep_sec: int | None = None,
                 clock: Callable[[], float] = time.time, retry_after_failure_sec: float | None = None):
        """``keep_sec``: how long a record is kept (recording needs it; a process that only checks passes none)."""
        self.auth_db = auth_db
        self._coll = auth_db[COLLECTION]
        self._refresh_sec = refresh_sec
        self._keep_sec = keep_sec
        self._retry_after_failure_sec = refresh_sec if retry_after_failure_sec is None else retry_after_failure_sec
        self._clock = clock
        self._snapshot = _Snapshot()
        self._lock = threading.Lock()

    # -- recording -------------------------------------------------------------------------------------
    def revoke_key(self, access_key: str, user: str) -> None:
        now = int(self._clock())
        self._record(f"key:{access_key}", {"kind": "key", "value": access_key, "user": user, "since": now})

    def revoke_user(self, user: str) -> None:
        """Tokens of ``user`` issued up to now are refused (a later login, when allowed again, works)."""
        now = int(self._clock())
        self._record(f"user:{user}", {"kind": "user", "value": user, "since": now})

    def _record(self, record_id: str, fields: dict) -> None:
        if self._keep_sec is None:
            raise RuntimeError("this RevokedAccess only checks tokens (no keep_sec given)")
        now = int(self._clock())
        self._coll.replace_one({"_id": record_id}, {**fields, "expires": now + self._keep_sec}, upsert=True)
        self._coll.delete_many({"expires": {"$lt": now}})
        self._snapshot = _Snapshot()  # this process sees it at once; the others at their next reload

    # -- checking --------------------------------------------------------------------------------------
    def refuses(self, user: str, access_key: str, issued_at: int) -> bool:
        snapshot = self._current()
        if access_key and access_key in snapshot.keys:
            return True
        since = snapshot.users.get(user)
        return since is not None and issued_at <= since

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if self._clock() < snapshot.reload_at:
            return snapshot
        # One thread reloads. Before the first load the others wait for it (an empty snapshot refuses
        # nothing); afterwards they go on with the previous one rather than wait or query too.
        if not self._lock.acquire(blocking=snapshot.loaded == float("-inf")):
            return snapshot
        try:
            if self._clock() < self._snapshot.reload_at:
                return self._snapshot
            self._snapshot = self._load(self._snapshot)
            return self._snapshot
        finally:
            self._lock.release()

    def _load(self, previous: _Snapshot) -> _Snapshot:
        now = self._clock()
        try:
            docs = list(self._coll.find({"expires": {"$gt": int(now)}}, {"kind": 1, "value": 1, "since": 1}))
        except PyMongoError as exc:
            log.warning("cannot read token revocations (%s); using the previous ones for %.0f s", exc,
                        self._retry_after_failure_sec)
            return _Snapshot(previous.keys, previous.users, now, now + self._retry_after_failure_sec)
        keys = frozenset(d["value"] for d in docs if d.get("kind") == "key")
        users = {d["value"]: int(d.get("since") or 0) for d in docs if d.get("kind") == "user"}
        return _Snapshot(keys, users, now, now + self._refresh_sec)
