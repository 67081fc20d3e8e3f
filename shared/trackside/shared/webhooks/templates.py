"""Payload templates: a JSON document whose strings may hold ``${path}`` placeholders.

Placeholders name the event's fields: ``${id}`` (the event id), ``${type}``, ``${timestamp}``, ``${data}``
and ``${data.<field>}`` (e.g. ``${data.name}``, ``${data.status}``, ``${data.previous_status}``). A string
that is exactly one placeholder becomes the value itself (a number, an object, null when the event has no
such field); a placeholder inside a longer string is replaced by the value's text. ``$${`` writes a literal
``${``. Because substitution happens inside the parsed document, a value can never break the JSON or inject
fields, and the body is always valid JSON.

Example (a Slack incoming webhook):
``{"text": "Task ${data.name} is now ${data.status} (was ${data.previous_status})"}``
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_TEMPLATE_CHARS = 65536
# Fields the events' data may carry (the domain events contract); others are refused at creation.
DATA_FIELDS = frozenset({
    "id", "name", "project", "type", "status", "user", "previous_status", "status_reason",
    "status_message", "queue", "queue_name", "task", "webhook",
})
TOP_FIELDS = frozenset({"id", "type", "timestamp", "data"})
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class TemplateError(ValueError):
    """The template cannot be used; the message says why (and where)."""


def validate(template: str) -> None:
    if not isinstance(template, str):
        raise TemplateError("payload_template must be a string")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"payload_template is longer than {MAX_TEMPLATE_CHARS} characters")
    document = _parse(template)
    _walk(document, lambda text: _substitute(text, None))


def render(template: str | None, event: dict) -> bytes:
    """The body for ``event``: the default ``{"type", "timestamp", "data"}`` when ``template`` is None."""
    if template is None:
        document: Any = {"type": event.get("type"), "timestamp": event.get("timestamp"),
                         "data": event.get("data") or {}}
    else:
        document = _walk(_parse(template), lambda text: _substitute(text, event))
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def _parse(template: str) -> Any:
    try:
        return json.loads(template)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"payload_template is not valid JSON: {exc.msg} (line {exc.lineno}, "
                            f"column {exc.colno})") from None


def _walk(node: Any, on_string) -> Any:
    if isinstance(node, str):
        return on_string(node)
    if isinstance(node, list):
        return [_walk(item, on_string) for item in node]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            new_key = on_string(key)
            out[new_key if isinstance(new_key, str) else _text(new_key)] = _walk(value, on_string)
        return out
    return node


def _substitute(text: str, event: dict | None) -> Any:
    """``text`` with its placeholders replaced; with ``event`` None, only checks them."""
    whole = _TOKEN.fullmatch(text)
    if whole and whole.group(1) is not None:
        return _lookup(_checked_path(whole.group(1)), event)
    pieces, position = [], 0
    for match in _TOKEN.finditer(text):
        pieces.append(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token == "$${":
            pieces.append("${")
        elif match.group(1) is None:
            raise TemplateError(f"payload_template has a '${{' that is never closed: {text[:80]!r}")
        else:
            pieces.append(_text(_lookup(_checked_path(match.group(1)), event)))
    pieces.append(text[position:])
    return "".join(pieces)


def _checked_path(path: str) -> list[str]:
    path = path.strip()
    if not _PATH.match(path):
        raise TemplateError(f"payload_template placeholder ${{{path}}} is not a field name")
    parts = path.split(".")
    if parts[0] not in TOP_FIELDS or (len(parts) > 1 and (parts[0] != "data" or parts[1] not in DATA_FIELDS)):
        known = ", ".join(sorted(TOP_FIELDS)) + ", data.<" + "|".join(sorted(DATA_FIELDS)) + ">"
        raise TemplateError(f"payload_template placeholder ${{{path}}} is unknown (known: {known})")
    return parts


def _lookup(parts: list[str], event: dict | None) -> Any:
    if event is None:
        return None
    value: Any = event
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
