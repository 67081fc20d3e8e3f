"""serving.*: what clearml-serving containers report and what the UI shows of it (see ``bll/serving.py``), 2.31."""
from __future__ import annotations

from marshmallow import fields, validate

from trackside.api import errors
from trackside.api.bll.serving import CHARTS
from trackside.api.context import Call
from trackside.api.endpoints.workers import MachineStatsSchema
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, Float, Int, OneOf, RequestSchema, Str, StrList

SINCE = "2.31"
REFERENCE_TYPES = ("app_id", "app_instance", "model", "task", "url")


class TextOrNumber(fields.String):
    """Text, or a number taken as its text (as the reference reads ``input_size``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class ReferenceItemSchema(RequestSchema):
    type = OneOf(REFERENCE_TYPES, required=True)
    value = Str(required=True)


class ServingModelReport(RequestSchema):
    container_id = Str(required=True)
    endpoint_name = Str(required=True)
    # Not known yet while the container loads its model.
    endpoint_url = Str()
    model_name = Str(required=True)
    model_source = Str()
    model_version = Str()
    preprocess_artifact = Str()
    input_type = Str()
    input_size = TextOrNumber()
    tags = StrList()
    system_tags = StrList()
    reference = fields.List(fields.Nested(ReferenceItemSchema))


class RegisterRequest(ServingModelReport):
    # Seconds without a report before the container is gone (default: services.serving config).
    # Seconds; at most ten years (Redis refuses an expiry past its range: that was a 500).
    timeout = Int(validate=validate.Range(min=1, max=10 * 365 * 86400))


@endpoint("serving.register_container", RegisterRequest, min_version=SINCE)
def register_container(call: Call) -> dict:
    call.app.serving.register(call.identity.company, call.data, call.client_address)
    return {}


class UnregisterRequest(RequestSchema):
    container_id = Str(required=True)


@endpoint("serving.unregister_container", UnregisterRequest, min_version=SINCE)
def unregister_container(call: Call) -> dict:
    call.app.serving.unregister(call.identity.company, call.data["container_id"])
    return {}


class StatusReportRequest(ServingModelReport):
    uptime_sec = Int()
    requests_num = Int()
    requests_min = Float(allow_nan=False)
    latency_ms = Int()
    machine_stats = fields.Nested(MachineStatsSchema)


@endpoint("serving.container_status_report", StatusReportRequest, min_version=SINCE)
def container_status_report(call: Call) -> dict:
    if not call.data.get("endpoint_url"):
        # The reference answers a missing url with a validation error (400/12), not 400/11.
        raise errors.ValidationError("missing required field endpoint_url", field="endpoint_url")
    call.app.serving.status_report(call.identity.company, call.data, call.client_address)
    return {}


@endpoint("serving.get_endpoints", RequestSchema, min_version=SINCE)
def get_endpoints(call: Call) -> dict:
    return {"endpoints": call.app.serving.endpoints(call.identity.company)}


@endpoint("serving.get_loading_instances", RequestSchema, min_version=SINCE)
def get_loading_instances(call: Call) -> dict:
    return {"instances": call.app.serving.loading_instances(call.identity.company)}


class EndpointRequest(RequestSchema):
    endpoint_url = Str(required=True)


@endpoint("serving.get_endpoint_details", EndpointRequest, min_version=SINCE)
def get_endpoint_details(call: Call) -> dict:
    return call.app.serving.endpoint_details(call.identity.company, call.data["endpoint_url"])


class MetricsHistoryRequest(EndpointRequest):
    from_date = Float(required=True, allow_nan=False, validate=validate.Range(min=0))
    to_date = Float(required=True, allow_nan=False, validate=validate.Range(min=0))
    interval = Int(required=True, validate=validate.Range(min=1))
    metric_type = OneOf(CHARTS, load_default="requests")
    instance_charts = Bool(load_default=True)


@endpoint("serving.get_endpoint_metrics_history", MetricsHistoryRequest, min_version=SINCE)
def get_endpoint_metrics_history(call: Call) -> dict:
    data = call.data
    return call.app.serving.metrics_history(call.identity.company, data["endpoint_url"], data["from_date"],
                                            data["to_date"], data["interval"], data["metric_type"],
                                            data["instance_charts"])
