"""The token streams as the server sees them: add wake-up tokens, keep groups, count, prune and trim.

A token is ``{queue: <id>}`` on ``trackside:dispatch:<company>:<queue>``; it means "look at this queue", so
an extra one costs one empty claim and a missing one is made up by the reconcile. Publishing never fails
the caller: MongoDB already holds the entry.
"""
from __future__ import annotations

import logging
import time

import redis

from trackside.shared.dispatch.keys import GROUP, TOKEN_FIELD, stream_key

log = logging.getLogger(__name__)
# After a failed publish, skip publishing this long: an outage must not slow every enqueue down.
PUBLISH_BACKOFF_SEC = 2.0


class TokenStreams:
    def __init__(self, client: redis.Redis, group: str = GROUP):
        self.redis = client
        self.group = group
        self._skip_until = 0.0

    # -- the API's side --------------------------------------------------------------------------------
    def publish(self, company: str, queue: str, count: int = 1) -> bool:
        """Add ``count`` tokens to the queue's stream; False (logged) when Redis is unavailable."""
        if count <= 0 or time.monotonic() < self._skip_until:
            return False
        key = stream_key(company, queue)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for _ in range(count):
                pipe.xadd(key, {TOKEN_FIELD: queue})
            pipe.execute()
            return True
        except redis.RedisError as exc:
            self._skip_until = time.monotonic() + PUBLISH_BACKOFF_SEC
            log.warning("dispatch: no token for queue %s (%s); the reconcile will add it", queue, exc)
            return False

    def consumers(self, company: str, queue: str) -> int:
        """How many consumers the queue's group has (0 when Redis or the stream is unavailable)."""
        try:
            return len(self.redis.xinfo_consumers(stream_key(company, queue), self.group))
        except redis.RedisError:
            return 0

    # -- the reconcile's side --------------------------------------------------------------------------
    def ensure_group(self, key: str) -> bool:
        """Create the stream and its group if missing (from id 0: tokens added meanwhile count). True if created."""
        try:
            self.redis.xgroup_create(key, self.group, id="0", mkstream=True)
            return True
        except redis.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            raise

    def undelivered(self, key: str, limit: int) -> list[str]:
        """Ids of the tokens not yet delivered to any consumer of the group, oldest first (at most ``limit``)."""
        group = self._group_info(key)
        if group is None or limit <= 0:
            return []
        last = group.get("last-delivered-id") or "0-0"
        return [token_id for token_id, _ in self.redis.xrange(key, min=f"({last}", max="+", count=limit)]

    def prune_consumers(self, key: str, timeout_ms: int) -> int:
        """Delete consumers idle over ``timeout_ms`` (their pending tokens go with them); the live count."""
        live = 0
        for consumer in self.redis.xinfo_consumers(key, self.group):
            if int(consumer.get("idle") or 0) > timeout_ms:
                self.redis.xgroup_delconsumer(key, self.group, consumer["name"])
            else:
                live += 1
        return live

    def keep(self, key: str, undelivered: list[str], wanted: int) -> None:
        """Trim the stream to the newest ``wanted`` of its ``undelivered`` tokens: delivered ones have done
        their job (a consumer still holding one may acknowledge it all the same), and undelivered ones beyond
        what is wanted would only wake agents for nothing."""
        if len(undelivered) > wanted:
            floor = undelivered[len(undelivered) - wanted] if wanted else _next_id(undelivered[-1])
        elif undelivered:
            floor = undelivered[0]
        else:
            group = self._group_info(key)
            if group is None:
                return
            floor = _next_id(group.get("last-delivered-id") or "0-0")
        self.redis.xtrim(key, minid=floor, approximate=False)

    def _group_info(self, key: str) -> dict | None:
        try:
            groups = self.redis.xinfo_groups(key)
        except redis.ResponseError:  # no such stream
            return None
        return next((g for g in groups if g.get("name") == self.group), None)


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _next_id(entry_id: str) -> str:
    ms, seq = _id_tuple(entry_id)
    return f"{ms}-{seq + 1}"
