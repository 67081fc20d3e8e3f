"""The RQ job ``perform(action, object_id)``: a server-side UI action (``server_side: true`` in
``services.organization.ui_actions``) for one object.

``${id}`` becomes the object's id and ``${secret.NAME}`` the value of ``services.webhooks.secrets.NAME`` in
the url, header values and payload; the secrets never leave the server (not in the result, not in logs:
errors name the problem, never the URL). Admin-written, so private targets are allowed.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any

from trackside.webhooks import resources, sender

log = logging.getLogger("trackside.webhooks.actions")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_SECRET = re.compile(r"\$\{secret\.([A-Za-z0-9_.-]+)\}")


class ActionError(ValueError):
    pass


def perform(action: dict, object_id: str) -> dict:
    started = time.monotonic()
    res = resources.get()
    try:
        method, url, headers, body = prepare(action, object_id, res.settings.secrets)
        answer = sender.send(method, url, headers, body, timeout=res.settings.request_timeout, allow_private=True)
    except (ActionError, sender.SendError) as exc:
        return _result(False, None, started, str(exc))
    ok = 200 <= answer.status < 300
    return _result(ok, answer.status, started, None if ok else f"HTTP {answer.status}")


def prepare(action: dict, object_id: str, secrets: dict[str, str]) -> tuple[str, str, dict[str, str], bytes | None]:
    """The request of ``action`` for ``object_id``, placeholders replaced."""
    if not isinstance(action, dict):
        raise ActionError("the action is not an object")
    method = str(action.get("method") or "GET").upper()
    if method not in METHODS:
        raise ActionError(f"action method {method!r} is not one of {', '.join(METHODS)}")
    url = action.get("url")
    if not isinstance(url, str) or not url:
        raise ActionError("the action has no url")
    raw_headers = action.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise ActionError("action headers must be an object")
    payload = action.get("payload")
    if payload is not None and not isinstance(payload, str):
        payload = _json(payload)

    def fill(text: str) -> str:
        return _fill(text, object_id, secrets)

    headers = {str(name): fill(str(value)) for name, value in raw_headers.items()}
    body = fill(payload).encode("utf-8") if payload else None
    return method, fill(url), headers, body


def _fill(text: str, object_id: str, secrets: dict[str, str]) -> str:
    def secret(match: re.Match) -> str:
        name = match.group(1)
        if name not in secrets:
            raise ActionError(f"the action names the secret {name!r}, which services.webhooks.secrets lacks")
        return secrets[name]

    return _SECRET.sub(secret, text.replace("${id}", object_id))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _result(ok: bool, status_code: int | None, started: float, error: str | None) -> dict:
    return {"ok": ok, "status_code": status_code, "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "error": error}
