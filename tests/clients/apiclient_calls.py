"""Run a list of API calls through the real SDK: ``APIClient`` for the services it knows, and its session's
``send_request`` for the rest (raw calls at any version).

Usage: apiclient_calls.py CALLS.json, where the file holds a list of
``{"service", "action", "args": {...}, "raw": false, "version": null}``. Prints one JSON list, one entry per
call: ``{"ok": true, "data": ...}`` or ``{"ok": false, "code": [code, subcode], "msg": ...}``.
"""
import json
from argparse import Namespace
import sys

from clearml.backend_api.session.client.client import APIClient, APIError, Entity, Response, TableResponse


def _plain(value):
    """The response as JSON-able data: lists of entities, entities and response objects."""
    if isinstance(value, TableResponse):
        return [_plain(item) for item in value]
    if isinstance(value, Entity):
        return _plain(value.data)
    if isinstance(value, Response):
        return _plain(value.response)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Namespace):  # entities of get_all calls
        return {key: _plain(item) for key, item in vars(value).items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _raw(client, call):
    result = client.session.send_request(call["service"], call["action"], version=call.get("version"),
                                         json=call.get("args") or {}, method=call.get("method", "post"))
    body = result.json()
    meta = body.get("meta", {})
    if meta.get("result_code") != 200:
        return {"ok": False, "code": [meta.get("result_code"), meta.get("result_subcode")],
                "msg": meta.get("result_msg"), "status": result.status_code}
    return {"ok": True, "data": body.get("data")}


def _typed(client, call):
    try:
        result = getattr(getattr(client, call["service"]), call["action"])(**(call.get("args") or {}))
    except APIError as exc:
        return {"ok": False, "code": list(exc.codes), "msg": exc.message}
    return {"ok": True, "data": _plain(result)}


def main() -> None:
    with open(sys.argv[1]) as f:
        calls = json.load(f)
    client = APIClient()
    print(json.dumps([_raw(client, c) if c.get("raw") else _typed(client, c) for c in calls], default=str))


if __name__ == "__main__":
    main()
