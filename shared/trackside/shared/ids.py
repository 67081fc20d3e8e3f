"""Object ids: 32 lower-case hex characters, the shape the ClearML clients expect."""
import re
import uuid

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    return uuid.uuid4().hex


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))
