"""webhooks.*: signed HTTP deliveries of the domain events (ours only, from 2.31; bll/webhooks.py).

The secret is answered only by ``create`` and ``rotate_secret``. Delivery itself is the webhooks service's
(services/webhooks); ``test`` and ``redeliver`` hand it a delivery.
"""
from __future__ import annotations

from marshmallow import fields, validate

from trackside.api.bll.common import scroll_reply
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, Int, OneOf, RequestSchema, Str, StrList
from trackside.shared import domain_events
from trackside.shared.webhooks import store

SINCE = "2.31"
DELIVERY_STATES = (store.PENDING, store.RETRYING, store.SUCCEEDED, store.FAILED)


class CreateRequest(RequestSchema):
    name = Str(required=True)
    url = Str(required=True)
    event_types = StrList(required=True)
    projects = StrList()
    statuses = StrList()
    payload_template = Str()
    enabled = Bool(load_default=True)


@endpoint("webhooks.create", CreateRequest, min_version=SINCE)
def create(call: Call) -> dict:
    return call.app.webhooks.create(call.identity, call.data)


class GetAllRequest(RequestSchema):
    id = StrList()
    enabled = Bool()


@endpoint("webhooks.get_all", GetAllRequest, min_version=SINCE)
def get_all(call: Call) -> dict:
    return {"webhooks": call.app.webhooks.get_all(call.identity.company, call.data.get("id"), call.data.get("enabled"))}


class WebhookRequest(RequestSchema):
    webhook = Str(required=True)


class UpdateRequest(WebhookRequest):
    name = Str()
    url = Str()
    event_types = StrList()
    projects = StrList()
    statuses = StrList()
    payload_template = Str()
    enabled = Bool()


@endpoint("webhooks.update", UpdateRequest, min_version=SINCE)
def update(call: Call) -> dict:
    return call.app.webhooks.update(call.identity, call.data["webhook"], call.data)


@endpoint("webhooks.delete", WebhookRequest, min_version=SINCE)
def delete(call: Call) -> dict:
    return call.app.webhooks.delete(call.identity, call.data["webhook"])


@endpoint("webhooks.rotate_secret", WebhookRequest, min_version=SINCE)
def rotate_secret(call: Call) -> dict:
    return call.app.webhooks.rotate_secret(call.identity, call.data["webhook"])


@endpoint("webhooks.test", WebhookRequest, min_version=SINCE)
def test(call: Call) -> dict:
    return call.app.webhooks.test(call.identity, call.data["webhook"])


class GetDeliveriesRequest(WebhookRequest):
    status = fields.List(OneOf(DELIVERY_STATES))
    size = Int(load_default=50, validate=validate.Range(min=1, max=500))
    scroll_id = Str()


@endpoint("webhooks.get_deliveries", GetDeliveriesRequest, min_version=SINCE)
def get_deliveries(call: Call) -> dict:
    data = call.data
    page = call.app.webhooks.get_deliveries(call.identity.company, data["webhook"], data.get("status"),
                                            data["size"], data.get("scroll_id"))
    return {"deliveries": page, **scroll_reply({"scroll_id": data.get("scroll_id")}, len(page))}


class RedeliverRequest(RequestSchema):
    delivery = Str(required=True)


@endpoint("webhooks.redeliver", RedeliverRequest, min_version=SINCE)
def redeliver(call: Call) -> dict:
    return call.app.webhooks.redeliver(call.identity, call.data["delivery"])


@endpoint("webhooks.get_event_types", RequestSchema, min_version=SINCE)
def get_event_types(call: Call) -> dict:
    return {"event_types": [{"type": name, "description": text} for name, text in domain_events.EVENT_TYPES.items()]}
