"""workers.*: agents register, report status and machine statistics, and carry runtime properties
(see ``bll/workers.py``). The agent calls these unversioned; every one exists since 2.4."""
from __future__ import annotations

from marshmallow import fields, validate

from trackside.api import errors
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, Dict, Float, Int, OneOf, RequestSchema, Str, StrictInt, StrList
from trackside.api.bll.worker_stats import AGGREGATIONS

# Epoch times: up to the year 9999 in seconds (dates) or milliseconds (report timestamps).
MAX_EPOCH_SEC = 253_402_300_799
# Timeouts, expiries and look-back periods, in seconds: about 31 years, within what Redis and dates accept.
MAX_PERIOD_SEC = 10**9
STAT_KEYS = (
    "cpu_usage", "cpu_temperature", "memory_used", "memory_free", "gpu_usage", "gpu_temperature", "gpu_fraction",
    "gpu_memory_free", "gpu_memory_used", "network_tx", "network_rx", "disk_free_home", "disk_free_temp",
    "disk_read", "disk_write",
)


def WorkerId(**kw):
    return Str(required=True, validate=validate.Length(min=1, max=1024), **kw)


class WorkerRequest(RequestSchema):
    worker = WorkerId()


# -- registration and reports ------------------------------------------------------------------------------
class RegisterRequest(WorkerRequest):
    timeout = Int(validate=validate.Range(max=MAX_PERIOD_SEC))
    queues = StrList()
    tags = StrList()
    system_tags = StrList()
    resources = Dict()  # 2.34 (queue resource hints): accepted, not used


@endpoint("workers.register", RegisterRequest, min_version="2.4")
def register(call: Call) -> dict:
    data = call.data
    call.app.workers.register(call.identity, data["worker"], call.client_address, data.get("timeout"), data.get("queues") or [],
                              data.get("tags") or [], data.get("system_tags") or [])
    return {}


@endpoint("workers.unregister", WorkerRequest, min_version="2.4")
def unregister(call: Call) -> dict:
    call.app.workers.unregister(call.identity.company, call.data["worker"])
    return {}


def _numbers(**kw):
    return fields.List(fields.Float(allow_nan=False), **kw)


class MachineStatsSchema(RequestSchema):
    cpu_usage = _numbers()
    cpu_temperature = _numbers()
    gpu_usage = _numbers()
    gpu_temperature = _numbers()
    gpu_memory_free = _numbers()
    gpu_memory_used = _numbers()
    memory_used = Float(allow_nan=False)
    memory_free = Float(allow_nan=False)
    network_tx = Float(allow_nan=False)
    network_rx = Float(allow_nan=False)
    disk_free_home = Float(allow_nan=False)
    disk_free_temp = Float(allow_nan=False)
    disk_read = Float(allow_nan=False)
    disk_write = Float(allow_nan=False)


class StatusReportRequest(WorkerRequest):
    timestamp = Int(required=True, validate=validate.Range(min=0, max=MAX_EPOCH_SEC * 1000 + 999))
    task = Str()
    queue = Str()
    queues = StrList()
    machine_stats = fields.Nested(MachineStatsSchema)
    tags = StrList()
    system_tags = StrList()


@endpoint("workers.status_report", StatusReportRequest, min_version="2.4")
def status_report(call: Call) -> dict:
    call.app.workers.status_report(call.identity, call.data["worker"], call.client_address, call.data)
    return {}


# -- listing -----------------------------------------------------------------------------------------------
class GetAllRequest(RequestSchema):
    last_seen = Int(load_default=3600, validate=validate.Range(min=0, max=MAX_PERIOD_SEC))
    tags = StrList()
    system_tags = StrList()
    worker_pattern = Str()


@endpoint("workers.get_all", GetAllRequest, min_version="2.4")
def get_all(call: Call) -> dict:
    data = call.data
    return {"workers": call.app.workers.get_all(call.identity.company, data["last_seen"], data.get("tags"),
                                                data.get("system_tags"), data.get("worker_pattern"))}


class GetCountRequest(GetAllRequest):
    last_seen = Int(load_default=0, validate=validate.Range(min=0, max=MAX_PERIOD_SEC))


@endpoint("workers.get_count", GetCountRequest, min_version="2.26")
def get_count(call: Call) -> dict:
    data = call.data
    return {"count": call.app.workers.count(call.identity.company, data["last_seen"], data.get("tags"),
                                            data.get("system_tags"), data.get("worker_pattern"))}


# -- statistics --------------------------------------------------------------------------------------------
class MetricKeysRequest(RequestSchema):
    worker_ids = StrList()


@endpoint("workers.get_metric_keys", MetricKeysRequest, min_version="2.4")
def get_metric_keys(call: Call) -> dict:
    categories = call.app.workers.stats.metric_keys(call.identity.company, call.data.get("worker_ids"))
    return {"categories": [{"name": name, "metric_keys": keys} for name, keys in categories.items()]}


def _epoch(**kw):
    return Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=MAX_EPOCH_SEC), **kw)


class StatsRangeRequest(RequestSchema):
    from_date = _epoch()
    to_date = _epoch()
    interval = StrictInt(required=True, validate=validate.Range(min=1))  # JSON-schema checked: "5" is refused


class StatItemSchema(RequestSchema):
    key = OneOf(STAT_KEYS, required=True)
    aggregation = OneOf(AGGREGATIONS, load_default="avg")


class GetStatsRequest(StatsRangeRequest):
    worker_ids = StrList()
    items = fields.List(fields.Nested(StatItemSchema), required=True, validate=validate.Length(min=1))
    split_by_variant = Bool(load_default=False)
    split_by_resource = Bool(load_default=False)  # newer servers: per-GPU series of gpu_* metrics


@endpoint("workers.get_stats", GetStatsRequest, min_version="2.4")
def get_stats(call: Call) -> dict:
    data = call.data
    return {"workers": call.app.workers.stats.series(
        call.identity.company, data.get("worker_ids"), data["from_date"], data["to_date"], data["interval"],
        data["items"], data["split_by_resource"], data["split_by_variant"],
    )}


@endpoint("workers.get_activity_report", StatsRangeRequest, min_version="2.4")
def get_activity_report(call: Call) -> dict:
    data = call.data
    return call.app.workers.stats.activity(call.identity.company, data["from_date"], data["to_date"],
                                           data["interval"])


# -- runtime properties (not in the open-source reference; the agent's schedule override) ------------------
class RuntimePropertySchema(RequestSchema):
    key = Str(required=True, validate=validate.Length(min=1, max=256))
    value = Str()
    # Seconds to live; 0 deletes the property; none keeps it until replaced.
    expiry = Int(validate=validate.Range(min=0, max=MAX_PERIOD_SEC))


class SetRuntimePropertiesRequest(WorkerRequest):
    runtime_properties = fields.List(fields.Nested(RuntimePropertySchema), required=True)


@endpoint("workers.set_runtime_properties", SetRuntimePropertiesRequest, min_version="2.4")
def set_runtime_properties(call: Call) -> dict:
    properties = call.data["runtime_properties"]
    missing = [p["key"] for p in properties if p.get("value") is None and p.get("expiry") != 0]
    if missing:
        raise errors.MissingRequiredFields(f"runtime properties without a value: {missing}",
                                           fields=["runtime_properties.value"])
    # ``force`` overrides the worker's working hours at every claim: a typo must not silently do nothing.
    bad = [p["value"] for p in properties if p["key"] == "force" and p.get("expiry") != 0
           and p["value"].lower() not in ("on", "off")]
    if bad:
        raise errors.ValidationError(f"runtime property force must be 'on' or 'off', not {bad[0]!r}",
                                     field="runtime_properties.value")
    company, worker = call.identity.company, call.data["worker"]
    call.app.workers.set_runtime_properties(company, worker, properties)
    if any(p["key"] == "force" for p in properties):  # the claim gate may have opened: look again now
        call.app.claims.gate_changed(company, call.app.workers.queues_of(company, worker))
    return {}


@endpoint("workers.get_runtime_properties", WorkerRequest, min_version="2.4")
def get_runtime_properties(call: Call) -> dict:
    return {"runtime_properties": call.app.workers.runtime_properties(call.identity.company, call.data["worker"])}
