"""``GET /openapi.json``: an OpenAPI 3.1 document of every endpoint, generated from the registry.

One POST operation per endpoint name (``/tasks.get_all``), described by its newest implementation: the
request body from its marshmallow schema, the ``meta``/``data`` envelope every answer carries (dispatch.py),
who may call it (a Bearer token, HTTP Basic for ``auth.login``, or anyone) and, in ``x-trackside-versions``,
the API versions it answers. A small converter rather than a plugin: the request schemas use a handful of
field types, and the API image gains no dependency. The document holds no secrets, so it is served without
authentication, as the health probes are; it is built once per process.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from flask import Flask, Response, current_app
from marshmallow import Schema, fields, validate

from trackside.api import endpoints  # noqa: F401  (importing them registers every endpoint)
from trackside.api.dispatch import JSON_LINES
from trackside.api.registry import AUTH_LOGIN, AUTH_NONE, REGISTRY, Endpoint, Registry, format_version

PATH = "/openapi.json"
EXTENSION = "trackside.openapi"
# Endpoints whose success answer is a file rather than the JSON envelope, and its media type.
DOWNLOADS = {
    "events.download_task_log": "text/plain",
    "organization.download_for_get_all": "text/csv",
    "apps.get_asset": "application/octet-stream",
}
ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}


def register(app: Flask, max_version: tuple[int, int]) -> None:
    """A static rule: werkzeug matches it before the catch-all ``/<path>`` of the API calls."""
    app.extensions[EXTENSION] = max_version
    app.add_url_rule(PATH, "openapi", serve)


def serve() -> Response:
    return Response(_cached_text(current_app.extensions[EXTENSION]), mimetype="application/json")


@functools.lru_cache(maxsize=4)
def _cached_text(max_version: tuple[int, int]) -> str:
    return json.dumps(document(max_version))


def document(max_version: tuple[int, int], registry: Registry = REGISTRY) -> dict:
    paths = {f"/{name}": {"post": _operation(registry.versions(name))} for name in registry.names()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Trackside API",
            "version": format_version(max_version),
            "description": "ClearML-compatible API. Every answer is the envelope {meta, data}; the HTTP status "
                           "equals meta.result_code and errors carry data: {}. A version may be requested "
                           "with a /vX.Y/ path prefix.",
        },
        "paths": paths,
        "components": {"schemas": {"Envelope": _ENVELOPE}, "securitySchemes": _SECURITY_SCHEMES},
    }


def _operation(versions: list[Endpoint]) -> dict:
    newest = versions[0]
    service = newest.name.split(".", 1)[0]
    operation: dict[str, Any] = {
        "operationId": newest.name,
        "tags": [service],
        "summary": _summary(newest),
        "security": _security(newest),
        "responses": _responses(newest),
        "x-trackside-versions": {"since": format_version(versions[-1].min_version),
                                 "current": format_version(newest.min_version)},
    }
    if newest.roles:
        operation["x-trackside-roles"] = sorted(newest.roles)
    operation["requestBody"] = _request_body(newest)
    return operation


def _summary(endpoint: Endpoint) -> str:
    doc = (endpoint.handler.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else endpoint.name


def _security(endpoint: Endpoint) -> list[dict]:
    if endpoint.auth == AUTH_NONE:
        return [{}]
    if endpoint.auth == AUTH_LOGIN:
        return [{"basic": []}, {"bearer": []}]
    return [{"bearer": []}]


def _request_body(endpoint: Endpoint) -> dict:
    body = schema_object(endpoint.schema) if endpoint.schema else {"type": "object"}
    if endpoint.upload:
        upload = {"type": "object", "required": ["file"],
                  "properties": {"file": {"type": "string", "format": "binary"}, "filename": {"type": "string"}}}
        return {"required": True, "content": {"multipart/form-data": {"schema": upload}}}
    if endpoint.batch:
        # One request object per line; the array stands for the lines.
        return {"required": True, "content": {JSON_LINES: {"schema": {"type": "array", "items": body}}},
                "x-trackside-json-lines": True}
    return {"required": False, "content": {"application/json": {"schema": body}}}


def _responses(endpoint: Endpoint) -> dict:
    content = {"application/json": {"schema": ENVELOPE_REF}}
    ok = {"description": "result_code 200, result_subcode 0", "content": content}
    if endpoint.name in DOWNLOADS:
        ok = {"description": "the file itself", "content": {DOWNLOADS[endpoint.name]: {"schema": {}}}}
    responses = {
        "200": ok,
        "400": {"description": "bad request: result_subcode 11 (missing field), 12 (invalid value), or the "
                               "entity's own code (101 invalid task id, ...)", "content": content},
        "404": {"description": "endpoint not found", "content": content},
        "500": {"description": "internal error", "content": content},
    }
    if endpoint.auth != AUTH_NONE:
        responses["401"] = {"description": "missing or invalid credentials", "content": content}
        responses["403"] = {"description": "role not allowed, or no write permission", "content": content}
    if endpoint.auth == AUTH_LOGIN:
        responses["429"] = {"description": "too many failed sign-ins (Retry-After header)", "content": content}
    return responses


def schema_object(schema: type[Schema] | Schema) -> dict:
    instance = schema() if isinstance(schema, type) else schema
    properties, required = {}, []
    for name, field in instance.fields.items():
        key = field.data_key or name
        properties[key] = field_schema(field)
        if field.required:
            required.append(key)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = sorted(required)
    return result


# Most specific first: a subclass of a listed field is described as that field.
_SCALARS: list[tuple[type[fields.Field], dict]] = [
    (fields.Boolean, {"type": "boolean"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Float, {"type": "number"}),
    (fields.Number, {"type": "number"}),
    (fields.DateTime, {"type": "string", "format": "date-time"}),
    (fields.String, {"type": "string"}),
]


def field_schema(field: fields.Field) -> dict:
    result = _shape(field)
    for validator in _validators(field):
        result.update(_constraint(validator, result.get("type")))
    if field.allow_none and "type" in result:
        result["type"] = [result["type"], "null"]
    return result


def _shape(field: fields.Field) -> dict:
    if isinstance(field, fields.Nested):
        nested = schema_object(field.schema)
        return {"type": "array", "items": nested} if field.many else nested
    if isinstance(field, fields.List):
        return {"type": "array", "items": field_schema(field.inner)}
    if isinstance(field, fields.Dict):
        values = field.value_field
        return {"type": "object", **({"additionalProperties": field_schema(values)} if values else {})}
    for kind, shape in _SCALARS:
        if isinstance(field, kind):
            return dict(shape)
    return {}  # Raw and custom fields take more than one JSON type


def _validators(field: fields.Field) -> list:
    found = []
    for validator in field.validators:
        found.extend(validator.validators if isinstance(validator, validate.And) else [validator])
    return found


def _constraint(validator: Any, kind: str | None) -> dict:
    if isinstance(validator, validate.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, validate.Range):
        bounds = {}
        if validator.min is not None:
            bounds["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            bounds["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
        return bounds
    if isinstance(validator, validate.Length) and validator.equal is None:
        prefix = {"string": "Length", "array": "Items", "object": "Properties"}.get(kind or "")
        if not prefix:
            return {}
        return {**({f"min{prefix}": validator.min} if validator.min is not None else {}),
                **({f"max{prefix}": validator.max} if validator.max is not None else {})}
    if isinstance(validator, validate.Regexp):
        return {"pattern": validator.regex.pattern}
    return {}


_ENVELOPE = {
    "type": "object",
    "required": ["meta", "data"],
    "properties": {
        "meta": {
            "type": "object",
            "required": ["id", "trx", "endpoint", "result_code", "result_subcode", "result_msg"],
            "properties": {
                "id": {"type": "string"},
                "trx": {"type": "string"},
                "endpoint": {
                    "type": "object",
                    "required": ["name", "requested_version", "actual_version"],
                    "properties": {"name": {"type": "string"},
                                   "requested_version": {"type": ["string", "null"]},
                                   "actual_version": {"type": ["string", "null"]}},
                },
                "result_code": {"type": "integer", "description": "equals the HTTP status"},
                "result_subcode": {"type": "integer"},
                "result_msg": {"type": "string"},
                "error_stack": {"type": ["string", "null"]},
                "error_data": {"type": "object"},
            },
        },
        "data": {"description": "the result; {} on an error"},
    },
}

_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "a token from auth.login"},
    "basic": {"type": "http", "scheme": "basic", "description": "access key and secret key (auth.login only)"},
}
