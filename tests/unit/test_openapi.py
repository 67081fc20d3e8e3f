"""The OpenAPI document generated from the registry (trackside.api.openapi): one POST per endpoint, bodies from
the marshmallow schemas, the envelope, who may call what."""
from __future__ import annotations

from marshmallow import fields, validate

from trackside.api.openapi import DOWNLOADS, document, schema_object
from trackside.api.registry import REGISTRY
from trackside.api.schema import Int, OneOf, RequestSchema, Str, StrList

DOC = document((2, 31))


class Item(RequestSchema):
    key = Str(required=True, validate=validate.Length(min=1))


class Sample(RequestSchema):
    name = Str(required=True)
    status = OneOf(["a", "b"])
    size = Int(validate=validate.Range(min=1, max=500))
    ids = StrList()
    items = fields.List(fields.Nested(Item))
    renamed = Str(data_key="_any_")


def test_every_endpoint_is_one_post_operation():
    assert set(DOC["paths"]) == {f"/{name}" for name in REGISTRY.names()}
    assert all(list(path) == ["post"] for path in DOC["paths"].values())
    assert DOC["openapi"] == "3.1.0" and DOC["info"]["version"] == "2.31"


def test_a_request_schema_becomes_a_json_schema():
    body = schema_object(Sample)
    assert body["required"] == ["name"]
    props = body["properties"]
    assert props["name"] == {"type": "string"}
    assert props["status"] == {"type": ["string", "null"], "enum": ["a", "b"]}
    assert props["size"] == {"type": ["integer", "null"], "minimum": 1, "maximum": 500}
    assert props["ids"] == {"type": ["array", "null"], "items": {"type": "string"}}
    assert props["items"]["items"]["properties"]["key"] == {"type": "string", "minLength": 1}
    assert "_any_" in props and "renamed" not in props


def test_operations_say_who_may_call_them_and_since_when():
    paths = DOC["paths"]
    assert paths["/tasks.get_all"]["post"]["security"] == [{"bearer": []}]
    assert {"basic": []} in paths["/auth.login"]["post"]["security"]
    assert paths["/debug.ping"]["post"]["security"] == [{}]
    assert "admin" in paths["/users.create"]["post"]["x-trackside-roles"]
    assert set(paths["/tasks.get_all"]["post"]["x-trackside-versions"]) == {"since", "current"}


def test_answers_are_the_envelope_except_downloads():
    ok = DOC["paths"]["/tasks.get_all"]["post"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Envelope"}
    meta = DOC["components"]["schemas"]["Envelope"]["properties"]["meta"]
    assert {"result_code", "result_subcode", "endpoint"} <= set(meta["required"])
    for name, media_type in DOWNLOADS.items():
        assert media_type in DOC["paths"][f"/{name}"]["post"]["responses"]["200"]["content"]


def test_uploads_and_batches_have_their_own_bodies():
    upload = DOC["paths"]["/apps.upload"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    batch = DOC["paths"]["/events.add_batch"]["post"]["requestBody"]["content"]
    assert batch["application/json-lines"]["schema"]["type"] == "array"
