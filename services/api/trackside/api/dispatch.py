"""The request path: URL -> endpoint -> authentication -> validation -> handler -> envelope.

Every response, success or error, carries the full ``meta`` envelope the clients parse, and the HTTP status
equals ``meta.result_code``; errors always have ``data: {}``.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from bson.errors import InvalidDocument
from flask import Request, Response, current_app, request
from marshmallow import ValidationError as SchemaError
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from trackside.api import errors
from trackside.api.context import Call
from trackside.api.registry import REGISTRY, Endpoint, format_version, parse_version
from trackside.api.schema import MISSING_MESSAGE, bounded_int

log = logging.getLogger(__name__)

PATH_PATTERN = re.compile(r"^/?(?:v(\d+\.?\d+)/)?([a-zA-Z_]\w+\.[a-zA-Z_]\w+)/?$")
JSON_LINES = "application/json-lines"
# A store that cannot be reached (pymongo's server selection, a dropped connection, network time-outs; redis-py's
# refused or timed-out connections); not its answers to a query, which stay errors of the request.
STORE_DOWN = (ConnectionFailure, RedisConnectionError, RedisTimeoutError)


def handle(path: str) -> Response:
    services = current_app.extensions["trackside"]
    meta = {"id": uuid.uuid4().hex, "endpoint": {"name": path, "requested_version": None, "actual_version": None}}
    try:
        endpoint, version = _resolve(path, services.max_version, services.check_max_version, meta)
        identity = services.auth.authenticate(request, endpoint)
        if endpoint.roles and identity.role not in endpoint.roles:
            raise errors.RoleNotAllowed(f"endpoint {endpoint.name} is not allowed for role {identity.role}")
        data = _validated(endpoint, _body(request, endpoint))
        call = Call(endpoint.name, format_version(version), data, identity, services, dict(request.headers),
                    remote_addr=request.remote_addr or "")
        result = endpoint.handler(call)
        if isinstance(result, Response):  # a file download (events.download_task_log), sent as it is
            return result
        response = _envelope(meta, 200, 0, "OK", result if result is not None else {})
        for name, value, options in call.cookies:
            response.set_cookie(name, value, **options)
        return response
    except errors.APIError as exc:
        return _envelope(meta, exc.code, exc.subcode, exc.message, {}, exc.error_data)
    except STORE_DOWN as exc:  # MongoDB or Redis unreachable for this request: 503, which clients retry
        log.warning("%s: store unavailable: %s: %s", meta["endpoint"]["name"], type(exc).__name__, exc)
        error = errors.StoreUnavailable()
        return _envelope(meta, error.code, error.subcode, error.message, {})
    except InvalidDocument as exc:  # a name or value the database cannot store (a NUL byte in a key): the request's
        error = errors.ValidationError(f"the request holds a value that cannot be stored: {exc}")
        return _envelope(meta, error.code, error.subcode, error.message, {})
    except Exception:  # an unexpected failure must still answer in the envelope the clients parse
        log.exception("unhandled error in %s", meta["endpoint"]["name"])
        return _envelope(meta, 500, 1, "internal server error", {})


def http_error(exc: HTTPException) -> Response | HTTPException:
    """What werkzeug answers by itself (405 for a method no API rule takes, TRACE or DELETE, say), in the
    envelope as well; redirects pass through."""
    if exc.code is None or exc.code < 400:
        return exc
    meta = {"id": uuid.uuid4().hex,
            "endpoint": {"name": request.path.strip("/"), "requested_version": None, "actual_version": None}}
    return _envelope(meta, exc.code, 0, exc.name.lower(), {})


def _resolve(path: str, max_version: tuple[int, int], check_max: bool, meta: dict) -> tuple[Endpoint, tuple[int, int]]:
    match = PATH_PATTERN.match(path)
    if not match:
        meta["endpoint"]["actual_version"] = format_version(max_version)
        raise errors.EndpointNotFound(f"Unable to find endpoint for path {path!r}")
    version_text, name = match.groups()
    meta["endpoint"]["name"] = name
    try:
        version = parse_version(version_text) if version_text else max_version
    except ValueError:
        raise errors.InvalidVersion(f"invalid version {version_text!r} in path") from None
    meta["endpoint"]["requested_version"] = format_version(version)
    meta["endpoint"]["actual_version"] = format_version(min(version, max_version))
    if version > max_version:
        if check_max:
            raise errors.InvalidVersion(
                f"requested version {format_version(version)} is above the maximum {format_version(max_version)}"
            )
        version = max_version
    endpoint = REGISTRY.resolve(name, version)
    if endpoint is None:
        raise errors.EndpointNotFound(f"Unable to find endpoint for name {name} and version {format_version(version)}")
    meta["endpoint"]["actual_version"] = format_version(endpoint.min_version)
    return endpoint, version


def _body(req: Request, endpoint: Endpoint) -> Any:
    if endpoint.upload:
        return _upload_body(req)
    raw = req.get_data(cache=False, as_text=True)
    if endpoint.batch:
        lines = [line for line in raw.splitlines() if line.strip()]
        if not lines:
            raise errors.BatchContainsNoItems()
        return lines
    if req.mimetype == JSON_LINES:
        raise errors.InvalidHeaders(f"{endpoint.name} does not accept {JSON_LINES}")
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw, parse_int=bounded_int)
        except ValueError as exc:
            raise errors.ValidationError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise errors.ValidationError("request body must be a JSON object")
    # As the reference: a repeated key or one ending in "[]" is a list (?id=a&id=b, ?tags[]=x).
    for key, values in req.args.lists():
        converted = [_query_value(v) for v in values]
        many = len(converted) > 1 or key.endswith("[]")
        body.setdefault(key[:-2] if key.endswith("[]") else key, converted if many else converted[0])
    return body


def _upload_body(req: Request) -> dict:
    """An uploaded file: the multipart field ``file`` (its filename kept) or a raw body named by
    ``?filename=x.zip``, as ``file`` bytes, with the query's and form's other values as text. Anything else
    (a JSON body, say) has no ``file``."""
    body: dict = {**req.args.to_dict(), **req.form.to_dict()}
    upload = req.files.get("file")
    if upload is not None:
        body["file"] = upload.read()
        body.setdefault("filename", upload.filename or "")
    elif body.get("filename"):
        body["file"] = req.get_data(cache=False)
    return body


def _query_value(value: str) -> Any:
    """Query-string values arrive as text; numbers and booleans are converted as the reference does."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d+", value):
        return bounded_int(value)
    if re.fullmatch(r"-?\d+\.\d*", value):
        return float(value)
    return value


def _validated(endpoint: Endpoint, body: Any) -> Any:
    if endpoint.schema is None or endpoint.batch:
        return body
    try:
        return endpoint.schema().load(body)
    except SchemaError as exc:
        problems = list(_flatten(exc.messages))
        missing = [f for f, msg in problems if msg == MISSING_MESSAGE]
        detail = "; ".join(f"{f}: {msg}" for f, msg in problems)
        if missing and len(missing) == len(problems):
            raise errors.MissingRequiredFields(
                f"missing required fields: {', '.join(missing)}", fields=missing
            ) from None
        raise errors.ValidationError(
            f"Validation error ({detail})", fields=[f for f, _ in problems]
        ) from None


def _flatten(messages: Any, prefix: str = ""):
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                yield from _flatten(item, prefix)
            else:
                yield prefix, str(item)
    else:
        yield prefix, str(messages)


def _envelope(meta: dict, code: int, subcode: int, message: str, data: Any, error_data: dict | None = None) -> Response:
    body = {
        "meta": {
            "id": meta["id"], "trx": meta["id"], "endpoint": meta["endpoint"],
            "result_code": code, "result_subcode": subcode, "result_msg": message,
            "error_stack": None, "error_data": error_data or {},
        },
        "data": data,
    }
    return Response(current_app.json.dumps(body), status=code, mimetype="application/json")

