"""models.*: the model registry."""
from __future__ import annotations


from marshmallow import ValidationError as SchemaError, fields, validate

from trackside.api import errors
from trackside.api.bll.batch import run_batch
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.bll.common import scroll_reply
from trackside.api.schema import (
    Bool, Dict, GetAllRequest, Int, ManyRequest, QueryList, Raw, RequestSchema, Str, StrList,
)


class MetadataItem(RequestSchema):
    # Stored as metadata.<key>: an empty key is no field name (it was a 500 on write).
    key = Str(required=True, validate=validate.Length(min=1))
    type = Str()
    value = Str()


class MetadataField(fields.Field):
    """Metadata items as a list, or keyed by their keys as models show them (``{key: {key, type, value}}``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            value = [{"key": key, **item} if isinstance(item, dict) else item for key, item in value.items()]
        if not isinstance(value, list):
            raise SchemaError("expected a list of {key, type, value} items, or an object of them")
        return MetadataItem(many=True).load(value)


def Labels(**kw):
    return Dict(keys=fields.String(), values=Int(), **kw)


class ModelFields(RequestSchema):
    """The fields models.create and models.edit can set."""

    uri = Str()
    name = Str()
    comment = Str()
    tags = StrList()
    system_tags = StrList()
    framework = Str()
    design = Dict()
    labels = Labels()
    ready = Bool()
    project = Str()
    parent = Str()
    task = Str()
    ui_cache = Dict()
    metadata = MetadataField()


class ModelRequest(RequestSchema):
    model = Str(required=True)


# -- reading ---------------------------------------------------------------------------------------------
@endpoint("models.get_by_id", ModelRequest)
def get_by_id(call: Call) -> dict:
    return {"model": call.app.models.get(call.identity.company, call.data["model"], allow_public=True)}


class TaskRequest(RequestSchema):
    task = Str(required=True)


@endpoint("models.get_by_task_id", TaskRequest)
def get_by_task_id(call: Call) -> dict:
    return {"model": call.app.models.get_by_task(call.identity.company, call.data["task"])}


class GetAllModelsRequest(GetAllRequest):
    query_prefixes = ("metadata.", "last_metrics.")

    comment = Str()
    ready = Bool()
    framework = QueryList()
    uri = QueryList()
    user = QueryList()
    project = QueryList()
    task = QueryList()
    parent = QueryList()
    # Ranges [min, max] and date conditions (">=2024-01-01"), checked by the query layer.
    created = Raw()
    last_iteration = Raw()
    last_update = Raw()
    last_change = Raw()
    include_subprojects = Bool(load_default=False)


@endpoint("models.get_all", GetAllModelsRequest)
def get_all(call: Call) -> dict:
    models = call.app.models.get_all(call.identity.company, call.data)
    return {"models": models, **scroll_reply(call.data, len(models))}


class GetAllExRequest(GetAllModelsRequest):
    include_stats = Bool(load_default=False)
    allow_public = Bool(load_default=True)


@endpoint("models.get_all_ex", GetAllExRequest)
def get_all_ex(call: Call) -> dict:
    models = call.app.models.get_all_ex(call.identity.company, call.data)
    return {"models": models, **scroll_reply(call.data, len(models))}


class GetByIdExRequest(GetAllModelsRequest):
    id = QueryList(required=True)
    include_stats = Bool(load_default=False)


@endpoint("models.get_by_id_ex", GetByIdExRequest)
def get_by_id_ex(call: Call) -> dict:
    return {"models": call.app.models.get_all_ex(call.identity.company, call.data)}


class FrameworksRequest(RequestSchema):
    projects = StrList()


@endpoint("models.get_frameworks", FrameworksRequest)
def get_frameworks(call: Call) -> dict:
    return {"frameworks": call.app.models.frameworks(call.identity.company, call.data.get("projects"))}


# -- writing ---------------------------------------------------------------------------------------------
class CreateRequest(ModelFields):
    uri = Str(required=True)
    name = Str(required=True)
    ready = Bool(load_default=False)
    public = Bool()  # accepted and ignored: there is a single tenant


@endpoint("models.create", CreateRequest)
def create(call: Call) -> dict:
    return {"id": call.app.models.create(call.identity, call.data), "created": True}


class EditRequest(ModelFields, ModelRequest):
    iteration = Int()


@endpoint("models.edit", EditRequest)
def edit(call: Call) -> dict:
    return _updated(call)


class UpdateRequest(ModelRequest):
    name = Str()
    comment = Str()
    tags = StrList()
    system_tags = StrList()
    ready = Bool()
    created = fields.DateTime()
    ui_cache = Dict()
    project = Str()
    task = Str()
    iteration = Int()
    metadata = MetadataField()


@endpoint("models.update", UpdateRequest)
def update(call: Call) -> dict:
    return _updated(call)


def _updated(call: Call) -> dict:
    data = call.data
    changed = call.app.models.update(call.identity, data["model"], data, data.get("iteration"))
    return {"updated": 1 if changed else 0, "fields": changed}


class UpdateForTaskRequest(TaskRequest):
    uri = Str()
    name = Str()
    comment = Str()
    tags = StrList()
    system_tags = StrList()
    override_model_id = Str()
    iteration = Int()


@endpoint("models.update_for_task", UpdateForTaskRequest)
def update_for_task(call: Call) -> dict:
    return call.app.models.update_for_task(call.identity, call.data["task"], call.data)


@endpoint("models.update_for_task", UpdateForTaskRequest, min_version="2.14")
def update_for_task_moved(call: Call) -> dict:
    # Clients of 2.13 and later record output models with tasks.add_or_update_model, as the reference says.
    raise errors.NotSupportedForVersion("models.update_for_task is served up to 2.13: use tasks.add_or_update_model")


class SetReadyRequest(ModelRequest):
    force_publish_task = Bool(load_default=False)
    publish_task = Bool(load_default=True)


def _task_publisher(call: Call, publish: bool):
    """Publishes a model's creating task (without its models: the model is published by the caller)."""
    if not publish:
        return None
    force = call.data["force_publish_task"]
    return lambda task_id: call.app.tasks.transitions.publish(call.identity, task_id, force, None, None,
                                                              publish_model=False)


@endpoint("models.set_ready", SetReadyRequest)
def set_ready(call: Call) -> dict:
    updated, published_task = call.app.models.publish(call.identity, call.data["model"],
                                                      _task_publisher(call, call.data["publish_task"]))
    return {"updated": updated, **({"published_task": published_task} if published_task else {})}


class PublishManyRequest(ManyRequest):
    force_publish_task = Bool(load_default=False)
    # The schema names it publish_tasks, the reference reads publish_task: either one turns it off.
    publish_tasks = Bool(load_default=True)
    publish_task = Bool(load_default=True)


@endpoint("models.publish_many", PublishManyRequest, min_version="2.13")
def publish_many(call: Call) -> dict:
    publisher = _task_publisher(call, call.data["publish_tasks"] and call.data["publish_task"])

    def publish_one(model_id: str) -> dict:
        updated, published_task = call.app.models.publish(call.identity, model_id, publisher)
        return {"updated": bool(updated), "published_task": published_task}

    return run_batch(call.data["ids"], publish_one)


@endpoint("models.archive_many", ManyRequest, min_version="2.13")
def archive_many(call: Call) -> dict:
    models = call.app.models
    return run_batch(call.data["ids"], lambda i: {"archived": models.set_archived(call.identity, i, True)})


@endpoint("models.unarchive_many", ManyRequest, min_version="2.13")
def unarchive_many(call: Call) -> dict:
    models = call.app.models
    return run_batch(call.data["ids"], lambda i: {"unarchived": models.set_archived(call.identity, i, False)})


class DeleteRequest(ModelRequest):
    force = Bool(load_default=False)
    delete_external_artifacts = Bool(load_default=True)  # no asynchronous file deletion here: accepted


def _delete(call: Call, model_id: str) -> dict:
    result = call.app.models.delete(call.identity, model_id, call.data["force"])
    # The model's own events (reported with model_event) go with it.
    call.app.events.store.delete_for_tasks(call.identity.company, [model_id], model_events=True)
    return result


@endpoint("models.delete", DeleteRequest)
def delete(call: Call) -> dict:
    return _delete(call, call.data["model"])


class DeleteManyRequest(ManyRequest):
    force = Bool(load_default=False)
    delete_external_artifacts = Bool(load_default=True)


@endpoint("models.delete_many", DeleteManyRequest, min_version="2.13")
def delete_many(call: Call) -> dict:
    return run_batch(call.data["ids"], lambda model_id: _delete(call, model_id))


class AddOrUpdateMetadataRequest(ModelRequest):
    metadata = fields.List(fields.Nested(MetadataItem), required=True, validate=validate.Length(min=1))
    replace_metadata = Bool(load_default=False)


@endpoint("models.add_or_update_metadata", AddOrUpdateMetadataRequest, min_version="2.13")
def add_or_update_metadata(call: Call) -> dict:
    data = call.data
    return {"updated": call.app.models.add_or_update_metadata(
        call.identity, data["model"], data["metadata"], data["replace_metadata"]
    )}


class DeleteMetadataRequest(ModelRequest):
    # Keys name stored fields (metadata.<key>): an empty one is refused, as MetadataItem's.
    keys = fields.List(Str(validate=validate.Length(min=1)), required=True, validate=validate.Length(min=1))


@endpoint("models.delete_metadata", DeleteMetadataRequest, min_version="2.13")
def delete_metadata(call: Call) -> dict:
    return {"updated": call.app.models.delete_metadata(call.identity, call.data["model"], call.data["keys"])}


class MoveRequest(ManyRequest):
    project = Str()
    project_name = Str()


@endpoint("models.move", MoveRequest, min_version="2.12")
def move(call: Call) -> dict:
    data = call.data
    # An explicit "project": null moves to the root; leaving both out is an error.
    if "project" not in data and not data.get("project_name"):
        raise errors.MissingRequiredFields("project or project_name is required", fields=["project", "project_name"])
    project = call.app.models.move(call.identity, data["ids"], data.get("project"), data.get("project_name"))
    return {"project_id": project}


class UpdateTagsRequest(ManyRequest):
    add_tags = StrList()
    remove_tags = StrList()


@endpoint("models.update_tags", UpdateTagsRequest, min_version="2.27")
def update_tags(call: Call) -> dict:
    data = call.data
    if not data["ids"]:
        raise errors.ValidationError("no model ids given", field="ids")
    if not (data.get("add_tags") or data.get("remove_tags")):
        raise errors.ValidationError("add_tags or remove_tags is required", fields=["add_tags", "remove_tags"])
    updated = call.app.models.update_tags(
        call.identity, data["ids"], data.get("add_tags") or [], data.get("remove_tags") or []
    )
    return {"updated": updated}

