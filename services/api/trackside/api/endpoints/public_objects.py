"""make_public / make_private (2.9) for tasks, models and projects.

A public document has company "" and keeps its owner in ``company_origin``: every company reads it through
get_all / get_all_ex (unless ``allow_public: false``) and get_by_id, nobody else writes it (writes filter on
the caller's company), and only the owner makes it private again. Any user of the company may do either, as
in the reference (it has no role rule for these).
"""
from __future__ import annotations

from marshmallow import validate

from trackside.api import errors
from trackside.api.bll.common import set_public
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import RequestSchema, StrList
from trackside.shared.project_counters import ProjectCounters


class MakePublicRequest(RequestSchema):
    ids = StrList(required=True, validate=validate.Length(min=1))


def _register(service: str, collection, not_found: type[errors.APIError]) -> None:
    for action, public in (("make_public", True), ("make_private", False)):
        def handler(call: Call, public=public) -> dict:
            coll = collection(call)
            result = set_public(coll, call.identity, call.data["ids"], not_found, public)
            if coll.name == "tasks":  # the owner is part of a project counter's key
                ProjectCounters(coll.database).reconcile_many(call.data["ids"])
            return result
        handler.__name__ = f"{service}_{action}"
        endpoint(f"{service}.{action}", MakePublicRequest, min_version="2.9")(handler)


_register("tasks", lambda call: call.app.tasks.coll, errors.InvalidTaskId)
_register("models", lambda call: call.app.models.coll, errors.InvalidModelId)
_register("projects", lambda call: call.app.projects.coll, errors.InvalidProjectId)
