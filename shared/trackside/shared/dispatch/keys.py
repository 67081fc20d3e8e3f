"""Redis names used by dispatch. Company and queue ids are 32-hex strings, safe inside key names."""
from __future__ import annotations

PREFIX = "trackside:dispatch"
# Every queue's stream has one consumer group: a token is delivered to exactly one subscriber in it.
GROUP = "agents"
# A token's only field: the queue it asks subscribers to look at.
TOKEN_FIELD = "queue"
# Held by the one watchdog process allowed to reconcile. Outside PREFIX: agents have no business with it.
WATCHDOG_LOCK = "trackside:locks:watchdog"


def stream_key(company: str, queue: str) -> str:
    return f"{PREFIX}:{company}:{queue}"


def parse_stream_key(key: str) -> tuple[str, str]:
    """``(company, queue)`` of a stream key."""
    company, _, queue = key[len(PREFIX) + 1:].partition(":")
    return company, queue
