"""Unique object names: the test database is shared by the whole session, so every test names its objects apart."""
from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
