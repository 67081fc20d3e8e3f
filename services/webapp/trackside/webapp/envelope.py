"""Error answers in the API's envelope shape, for what the web app itself refuses (the UI reads one shape)."""
from __future__ import annotations

import json
import uuid

from flask import Response

# (result_code, result_subcode) as the API uses them.
MISSING_CREDENTIALS = (401, 20)
INVALID_TOKEN = (401, 30)
FORBIDDEN = (403, 0)
BAD_ENDPOINT = (400, 1)
UNREACHABLE = (502, 0)


def error(code: tuple[int, int], message: str, endpoint: str | None = None) -> Response:
    call_id = uuid.uuid4().hex
    body = {
        "meta": {"id": call_id, "trx": call_id, "endpoint": {"name": endpoint}, "result_code": code[0],
                 "result_subcode": code[1], "result_msg": message, "error_stack": None, "error_data": {}},
        "data": {},
    }
    response = Response(json.dumps(body), status=code[0], mimetype="application/json")
    response.cache_control.no_store = True
    return response
