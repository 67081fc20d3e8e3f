"""UTC timestamps, and the ISO-8601 form with milliseconds that the ClearML SDK parses."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    # Mongo stores milliseconds; truncating here keeps in-memory values equal to what is read back.
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def isoformat(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
