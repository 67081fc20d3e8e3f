"""pipelines.*: starting a pipeline run from its controller and deleting runs (see ``bll/pipelines.py``).

``verify_watched_queue`` (2.28) is read at every version, as the reference's handler reads it, so one
implementation of start_pipeline serves 2.17 and 2.28.
"""
from __future__ import annotations

from marshmallow import fields, validate

from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, RequestSchema, Str, StrList


class ArgSchema(RequestSchema):
    # A blank name cannot be a parameter: refused here, before any run is cloned.
    name = Str(required=True, validate=validate.Regexp(r".*\S", error="a parameter name may not be blank"))
    value = Str(required=True)


class StartPipelineRequest(RequestSchema):
    task = Str(required=True)
    # Optional in the reference's schema, required by its handler: a run needs a queue to start from.
    queue = Str(required=True)
    args = fields.List(fields.Nested(ArgSchema))
    verify_watched_queue = Bool(load_default=False)


@endpoint("pipelines.start_pipeline", StartPipelineRequest, min_version="2.17")
def start_pipeline(call: Call) -> dict:
    data = call.data
    return call.app.pipelines.start(call.identity, data["task"], data["queue"], data.get("args") or [],
                                    data["verify_watched_queue"])


class DeleteRunsRequest(RequestSchema):
    project = Str(required=True)
    ids = StrList(required=True, validate=validate.Length(min=1))


@endpoint("pipelines.delete_runs", DeleteRunsRequest, min_version="2.26")
def delete_runs(call: Call) -> dict:
    return call.app.pipelines.delete_runs(call.identity, call.data["project"], call.data["ids"])
