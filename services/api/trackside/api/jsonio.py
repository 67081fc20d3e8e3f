"""JSON responses: datetimes as ISO-8601 with milliseconds and an explicit UTC offset, as the SDK parses."""
from datetime import datetime

from flask.json.provider import DefaultJSONProvider

from trackside.shared.timeutil import isoformat


class APIJSONProvider(DefaultJSONProvider):
    sort_keys = False

    @staticmethod
    def default(o):
        if isinstance(o, datetime):
            return isoformat(o)
        return DefaultJSONProvider.default(o)
