"""Scroll paging of ``get_all_ex`` lists (``scroll_id``, ``size``, ``refresh_scroll``), as the reference pages.

A request that carries ``scroll_id`` (even null or empty: "start one") reads ``size`` documents from the position
the scroll id names and moves that position on; the answer returns the scroll id to continue with.
``refresh_scroll`` reads everything from the start up to the current position again (at least ``size``). The
position lives in Redis for ``TTL_SEC`` after its last use; an unknown or expired scroll id starts over, as in
the reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import redis

from trackside.api import errors
from trackside.shared.ids import new_id

TTL_SEC = 600


@dataclass(frozen=True)
class ScrollWindow:
    scroll_id: str
    skip: int
    limit: int


class ScrollPaging:
    def __init__(self, redis_client: redis.Redis, ttl_sec: int = TTL_SEC):
        self.redis = redis_client
        self.ttl = ttl_sec

    @staticmethod
    def _key(company: str, scroll_id: str) -> str:
        return f"get_all_scroll:{company}:{scroll_id}"

    def window(self, company: str, params: Mapping) -> ScrollWindow | None:
        """The documents to read for a scroll request; None when the request does not scroll."""
        if "scroll_id" not in params:
            return None
        size = params.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise errors.ValidationError("an integer size of at least 1 is required with scroll_id", field="size")
        scroll_id = params.get("scroll_id") or ""
        position = self.redis.get(self._key(company, scroll_id)) if scroll_id else None
        if position is None:
            scroll_id, position = new_id(), 0
        position = int(position)
        if params.get("refresh_scroll"):
            return ScrollWindow(scroll_id, 0, max(position, size))
        return ScrollWindow(scroll_id, position, size)

    def advance(self, company: str, window: ScrollWindow, returned: int) -> str:
        """Record that ``returned`` documents were read in ``window``; the scroll id to answer with."""
        self.redis.set(self._key(company, window.scroll_id), window.skip + returned, ex=self.ttl)
        return window.scroll_id
