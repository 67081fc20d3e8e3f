"""Every registered endpoint, table-driven: a call without a token is refused with 401 (unless the endpoint is
open); a body missing a required field is refused with 400/11, and one whose required fields hold a JSON
object where a string, number, flag or list belongs with 400/12, both naming the field."""
from __future__ import annotations

import pytest
from marshmallow import fields

import trackside.api.endpoints  # noqa: F401  (registers every endpoint)
from trackside.api.registry import AUTH_NONE, AUTH_TOKEN, REGISTRY

NEWEST = {name: REGISTRY._by_name[name][-1] for name in REGISTRY.names()}
TOKEN_ENDPOINTS = sorted(name for name, e in NEWEST.items() if e.auth == AUTH_TOKEN)
WITH_REQUIRED = sorted(
    name for name, e in NEWEST.items()
    if e.auth != AUTH_NONE and not e.batch and e.schema is not None
    and any(f.required for f in e.schema().fields.values())
)

# Fields for which a JSON object is the wrong type.
SCALAR_OR_LIST = (fields.String, fields.Integer, fields.Float, fields.Boolean, fields.List)


def _required(name: str) -> dict[str, fields.Field]:
    return {f.data_key or key: f for key, f in NEWEST[name].schema().fields.items() if f.required}


WRONG_TYPED = sorted(name for name in WITH_REQUIRED
                     if all(isinstance(f, SCALAR_OR_LIST) for f in _required(name).values()))


@pytest.mark.parametrize("name", TOKEN_ENDPOINTS)
def test_a_call_without_a_token_is_refused(anon, name):
    reply = anon.send(name, {}, method="POST")
    assert reply.status == 401 and reply.code[0] == 401 and reply.data == {}, (name, reply.meta)


@pytest.mark.parametrize("name", WITH_REQUIRED)
def test_a_missing_required_field_is_named(api, name):
    reply = api.send(name, {}, method="POST")
    assert reply.code == (400, 11), (name, reply.meta)
    assert any(field in reply.meta["result_msg"] for field in _required(name)), (name, reply.meta["result_msg"])


@pytest.mark.parametrize("name", WRONG_TYPED)
def test_a_wrong_typed_required_field_is_named(api, name):
    required = _required(name)
    reply = api.send(name, {field: {"not": "this"} for field in required}, method="POST")
    assert reply.code == (400, 12), (name, reply.meta)
    assert any(field in reply.meta["result_msg"] for field in required), (name, reply.meta["result_msg"])
