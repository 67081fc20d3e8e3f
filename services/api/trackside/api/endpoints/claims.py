"""dispatch.*: what subscribed agents call (ARCHITECTURE.md, "Dispatch design").

- ``dispatch.subscribe``: the Redis address, agent ACL user, group and stream names for the given queues;
- ``dispatch.claim``: the head of the first eligible queue (priority order), leased to the worker;
- ``dispatch.start``: start a claimed task while its lease holds;
- ``dispatch.release``: give a claimed task back to the head of its queue.
"""
from __future__ import annotations

from marshmallow import validate

from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, RequestSchema, Str, StrList


class SubscribeRequest(RequestSchema):
    worker = Str(required=True, validate=validate.Length(min=1))
    queues = StrList(required=True, validate=validate.Length(min=1))


@endpoint("dispatch.subscribe", SubscribeRequest)
def subscribe(call: Call) -> dict:
    return call.app.claims.subscription(call.identity.company, call.data["queues"])


class ClaimRequest(SubscribeRequest):
    # The agent's own working-hours schedule says it may work now (the weakest gate).
    schedule_active = Bool(load_default=True)
    # The queues whose tokens woke the agent: those not taken from are handed on to another agent.
    tokens = StrList(load_default=list)


@endpoint("dispatch.claim", ClaimRequest)
def claim(call: Call) -> dict:
    data = call.data
    return call.app.claims.claim(call.identity, data["worker"], data["queues"], data["schedule_active"],
                                 [q for q in data["tokens"] if q])


class LeaseRequest(RequestSchema):
    task = Str(required=True)
    lease = Str(required=True)


class StartRequest(LeaseRequest):
    status_reason = Str()
    status_message = Str()


@endpoint("dispatch.start", StartRequest)
def start(call: Call) -> dict:
    data = call.data
    return call.app.claims.start(call.identity, data["task"], data["lease"], data.get("status_reason"),
                                 data.get("status_message"))


@endpoint("dispatch.release", LeaseRequest)
def release(call: Call) -> dict:
    return call.app.claims.release(call.identity, call.data["task"], call.data["lease"])
