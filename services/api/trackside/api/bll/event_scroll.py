"""Scroll ids for paged event reads: the paging state itself, carried by the client.

The reference keeps scroll states in Elasticsearch scrolls or Redis; here a scroll id is the small state (a sort
cursor, iteration bounds) as URL-safe base64 JSON, so any API process can continue any scroll and nothing
expires or needs cleaning. It holds no secrets and grants nothing: every read is still filtered by the caller's
company and checked task, and every value read back is type-checked before it reaches a query.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Callable

from trackside.api import errors

PREFIX = "ts1."
# A scroll id longer than this was not made here.
MAX_LENGTH = 64_000


def encode(kind: str, state: dict) -> str:
    raw = json.dumps({"k": kind, **state}, separators=(",", ":")).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(scroll_id: str, kind: str) -> dict:
    """The state of a scroll id of this ``kind``; 400/1104 for anything else."""
    if not isinstance(scroll_id, str) or not scroll_id.startswith(PREFIX) or len(scroll_id) > MAX_LENGTH:
        raise invalid(scroll_id)
    body = scroll_id[len(PREFIX):]
    try:
        state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error):
        raise invalid(scroll_id) from None
    if not isinstance(state, dict) or state.pop("k", None) != kind:
        raise invalid(scroll_id)
    return state


def field(state: dict, name: str, check: Callable[[Any], bool], scroll_id: str, default: Any = None) -> Any:
    """``state[name]`` when present and passing ``check``; a malformed value makes the whole id invalid."""
    value = state.get(name, default)
    if value is not default and not check(value):
        raise invalid(scroll_id)
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_cursor(value: Any) -> bool:
    """A sort key as the events store returns it: scalars only."""
    return isinstance(value, list) and all(v is None or isinstance(v, (str, int, float)) for v in value)


def invalid(scroll_id: Any) -> errors.APIError:
    shown = scroll_id if isinstance(scroll_id, str) and len(scroll_id) <= 200 else "(not shown)"
    return errors.InvalidScrollId(f"Invalid scroll id: {shown}", scroll_id=shown)
