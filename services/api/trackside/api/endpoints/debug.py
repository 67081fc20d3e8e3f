"""debug.ping: liveness, without authentication."""
from trackside.api.context import Call
from trackside.api.registry import AUTH_NONE, endpoint
from trackside.api.schema import RequestSchema


@endpoint("debug.ping", RequestSchema, auth=AUTH_NONE)
def ping(call: Call) -> dict:
    return {"msg": "ClearML server"}
