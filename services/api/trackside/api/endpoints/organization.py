"""organization.*: company-wide tags, users and entity counts, and the CSV export of a get_all_ex query."""
from __future__ import annotations

from flask import Response
from marshmallow import INCLUDE, fields, validate

from trackside.api import errors
from trackside.api.context import Call
from trackside.api.registry import REGISTRY, endpoint, parse_version
from trackside.api.bll.ui_actions import TARGETS as UI_ACTION_TARGETS
from trackside.api.schema import Bool, Dict, OneOf, Raw, RequestSchema, Str, StrList

# Request keys of the export itself, not of the entity query.
EXPORT_KEYS = ("entity_type", "field_mappings", "allow_public", "scroll_id", "size", "refresh_scroll", "start")


class TagsFilter(RequestSchema):
    tags = StrList()
    system_tags = StrList()


class TagsRequest(RequestSchema):
    include_system = Bool(load_default=False)
    filter = fields.Nested(TagsFilter)


@endpoint("organization.get_tags", TagsRequest, min_version="2.8")
def get_tags(call: Call) -> dict:
    data = call.data
    return call.app.organization.tags(call.identity.company, data["include_system"], data.get("filter"))


@endpoint("organization.get_user_companies", RequestSchema, min_version="2.12")
def get_user_companies(call: Call) -> dict:
    return call.app.organization.user_companies(call.identity)


class EntitiesCountRequest(RequestSchema):
    projects = Dict()
    tasks = Dict()
    models = Dict()
    pipelines = Dict()
    datasets = Dict()


class EntitiesCountRequest222(EntitiesCountRequest):
    search_hidden = Bool(load_default=False)
    active_users = StrList()


class EntitiesCountRequest223(EntitiesCountRequest222):
    reports = Dict()
    allow_public = Bool(load_default=True)


def _entities_count(call: Call) -> dict:
    data = call.data
    return call.app.organization.entities_count(
        call.identity.company, data, active_users=data.get("active_users"),
        search_hidden=data.get("search_hidden", False), allow_public=data.get("allow_public", True))


# One behaviour; each version knows its own request keys (later keys are ignored at earlier versions).
endpoint("organization.get_entities_count", EntitiesCountRequest, min_version="2.20")(_entities_count)
endpoint("organization.get_entities_count", EntitiesCountRequest222, min_version="2.22")(_entities_count)
endpoint("organization.get_entities_count", EntitiesCountRequest223, min_version="2.23")(_entities_count)


# -- CSV export --------------------------------------------------------------------------------------------
class ValueMapping(RequestSchema):
    key = Raw(required=True, allow_none=True)
    value = Raw(required=True, allow_none=True)


class FieldMapping(RequestSchema):
    field = Str(required=True)
    name = Str()
    values = fields.List(fields.Nested(ValueMapping))


class PrepareDownloadRequest(RequestSchema):
    class Meta:
        # The rest of the body is the get_all_ex query to export: kept as it is.
        unknown = INCLUDE

    entity_type = OneOf(("task", "model"), required=True)
    only_fields = StrList(required=True, validate=validate.Length(min=1))
    field_mappings = fields.List(fields.Nested(FieldMapping), required=True, validate=validate.Length(min=1))
    allow_public = Bool(load_default=True)
    search_hidden = Bool(load_default=False)


def _check_unique_mappings(field_mappings: list[dict]) -> None:
    names = set()
    for mapping in field_mappings:
        name = mapping.get("name") or mapping["field"]
        if name in names:
            raise errors.ValidationError(f"Field_name appears more than once in field_mappings: {name}",
                                         field="field_mappings")
        names.add(name)
        keys: list = []
        for value in mapping.get("values") or ():
            if value["key"] in keys:
                raise errors.ValidationError(f"Value key appears more than once in field_mappings: {value['key']}",
                                             field="field_mappings")
            keys.append(value["key"])


def _page_fetcher(call: Call, request: dict):
    """A function (page, page_size) -> entities that runs the stored query through our own get_all_ex."""
    from trackside.api.dispatch import _validated  # the request path's own validation and error codes

    entity = request["entity_type"]
    query = {k: v for k, v in request.items() if k not in EXPORT_KEYS}
    get_all_ex = REGISTRY.resolve(f"{entity}s.get_all_ex", parse_version(call.version))
    if get_all_ex is None:
        raise errors.ValidationError(f"Unsupported entity type: {entity}", field="entity_type")

    def fetch(page: int, page_size: int) -> list[dict]:
        data = _validated(get_all_ex, {**query, "page": page, "page_size": page_size})
        inner = Call(get_all_ex.name, call.version, data, call.identity, call.app, call.headers)
        return get_all_ex.handler(inner)[f"{entity}s"]

    return fetch


@endpoint("organization.prepare_download_for_get_all", PrepareDownloadRequest, min_version="2.26")
def prepare_download_for_get_all(call: Call) -> dict:
    request = call.data
    _check_unique_mappings(request["field_mappings"])
    _page_fetcher(call, request)(0, 1)  # a bad query fails here, not in the download
    return {"prepare_id": call.app.organization.prepare_download(request)}


class DownloadRequest(RequestSchema):
    prepare_id = Str(required=True)


@endpoint("organization.download_for_get_all", DownloadRequest, min_version="2.26")
def download_for_get_all(call: Call) -> Response:
    org = call.app.organization
    request = org.prepared(call.data["prepare_id"])
    try:
        request = PrepareDownloadRequest().load(request)
    except Exception as exc:  # stored by an older server or tampered with
        raise errors.DataError("failed parsing prepared data", ex=str(exc)) from None
    lines = org.csv_lines(request["field_mappings"], _page_fetcher(call, request))
    filename = org.download_name(call.identity.company, request)
    return Response(lines, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- custom context-menu actions (ours only, 2.31; bll/ui_actions.py) ------------------------------------------
@endpoint("organization.get_ui_actions", RequestSchema, min_version="2.31")
def get_ui_actions(call: Call) -> dict:
    return call.app.ui_actions.for_browser()


class RunUiActionRequest(RequestSchema):
    type = OneOf(UI_ACTION_TARGETS, required=True)
    name = Str(required=True)
    ids = StrList(required=True, validate=validate.Length(min=1, max=100))


@endpoint("organization.run_ui_action", RunUiActionRequest, min_version="2.31")
def run_ui_action(call: Call) -> dict:
    data = call.data
    return {"results": call.app.ui_actions.run(call.identity.company, data["type"], data["name"], data["ids"])}
