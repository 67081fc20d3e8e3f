"""reports.*: task-backed reports (see ``bll/reports.py``), from API 2.23.

Fields that later versions add to a request (``report_assets`` 2.24, ``model_events`` and
``single_value_metrics`` 2.25, ``last_iters_per_task_metric`` and ``include_subprojects`` 2.26, ...) are read
at every version, as the reference's handlers read them, so one implementation serves all versions.
"""
from __future__ import annotations

from marshmallow import fields, validate

from trackside.api import errors
from trackside.api.bll.event_histograms import KEYS
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, Dict, GetAllRequest, Int, OneOf, QueryList, RequestSchema, Str, StrList

SINCE = "2.23"
REPORT_STATUSES = ("created", "published")
# Report names are at least this long, as the reference checks.
MIN_NAME_LENGTH = 3


class ReportRequest(RequestSchema):
    task = Str(required=True)


class CreateRequest(RequestSchema):
    name = Str(required=True, validate=validate.Length(min=MIN_NAME_LENGTH))
    tags = StrList()
    comment = Str()
    report = Str()
    report_assets = StrList()
    project = Str()


@endpoint("reports.create", CreateRequest, min_version=SINCE)
def create(call: Call) -> dict:
    return call.app.reports.create(call.identity, call.data)


class UpdateRequest(ReportRequest):
    name = Str(validate=validate.Length(min=MIN_NAME_LENGTH))
    tags = StrList()
    comment = Str()
    report = Str()
    report_assets = StrList()


@endpoint("reports.update", UpdateRequest, min_version=SINCE)
def update(call: Call) -> dict:
    return call.app.reports.update(call.identity, call.data["task"], call.data)


class MoveRequest(ReportRequest):
    project = Str()
    project_name = Str()


@endpoint("reports.move", MoveRequest, min_version=SINCE)
def move(call: Call) -> dict:
    data = call.data
    # An explicit ``project: null`` moves the report to the root's .reports project.
    if "project" not in data and not data.get("project_name"):
        raise errors.MissingRequiredFields("missing required fields: project or project_name",
                                           fields=["project", "project_name"])
    return {"project_id": call.app.reports.move(call.identity, data["task"], data.get("project"),
                                                data.get("project_name"))}


class MessageRequest(ReportRequest):
    # The reference reads ``message``; its schema documents ``comment``: either is taken.
    message = Str()
    comment = Str()


def _message(data: dict) -> str:
    return data.get("message") or data.get("comment") or ""


@endpoint("reports.publish", MessageRequest, min_version=SINCE)
def publish(call: Call) -> dict:
    return call.app.reports.publish(call.identity, call.data["task"], _message(call.data))


@endpoint("reports.archive", MessageRequest, min_version=SINCE)
def archive(call: Call) -> dict:
    return {"archived": call.app.reports.set_archived(call.identity, call.data["task"], True, _message(call.data))}


@endpoint("reports.unarchive", MessageRequest, min_version=SINCE)
def unarchive(call: Call) -> dict:
    return {"unarchived": call.app.reports.set_archived(call.identity, call.data["task"], False,
                                                        _message(call.data))}


class DeleteRequest(ReportRequest):
    force = Bool(load_default=False)


@endpoint("reports.delete", DeleteRequest, min_version=SINCE)
def delete(call: Call) -> dict:
    return {"deleted": call.app.reports.delete(call.identity, call.data["task"], call.data["force"])}


@endpoint("reports.get_tags", RequestSchema, min_version=SINCE)
def get_tags(call: Call) -> dict:
    return {"tags": call.app.reports.tags(call.identity.company)}


# -- listing --------------------------------------------------------------------------------------------------
class GetAllExRequest(GetAllRequest):
    user = QueryList()
    status = QueryList(validate=validate.ContainsOnly(REPORT_STATUSES))
    project = QueryList()
    status_changed = QueryList()
    include_subprojects = Bool(load_default=False)
    allow_public = Bool(load_default=True)


@endpoint("reports.get_all_ex", GetAllExRequest, min_version=SINCE)
def get_all_ex(call: Call) -> dict:
    return call.app.reports.get_all_ex(call.identity.company, call.data)


# -- the data a report embeds ---------------------------------------------------------------------------------
class MetricVariantsSchema(RequestSchema):
    metric = Str(required=True)
    variants = StrList()


def MetricsList():
    return fields.List(fields.Nested(MetricVariantsSchema))


class EventsPart(RequestSchema):
    iters = Int(load_default=1, validate=validate.Range(min=1))
    metrics = MetricsList()


class PlotsPart(EventsPart):
    last_iters_per_task_metric = Bool(load_default=True)


class ScalarsPart(RequestSchema):
    samples = Int(validate=validate.Range(min=0))
    key = OneOf(KEYS, load_default="iter")
    metrics = MetricsList()


class GetTaskDataRequest(GetAllRequest):
    user = QueryList()
    status = QueryList()
    status_changed = QueryList()
    type = QueryList()
    project = QueryList()
    parent = Str()
    include_subprojects = Bool(load_default=False)
    allow_public = Bool(load_default=True)
    model_events = Bool(load_default=False)
    debug_images = fields.Nested(EventsPart)
    plots = fields.Nested(PlotsPart)
    scalar_metrics_iter_histogram = fields.Nested(ScalarsPart)
    single_value_metrics = Dict()


@endpoint("reports.get_task_data", GetTaskDataRequest, min_version=SINCE)
def get_task_data(call: Call) -> dict:
    return call.app.reports.task_data(call.identity.company, call.data)
