"""tasks.*: the task lifecycle (see ``bll/tasks.py``, ``task_transitions.py`` and ``task_contents.py``)."""
from __future__ import annotations

from marshmallow import fields

from trackside.api import errors
from trackside.api.bll import task_compat
from trackside.api.bll.batch import run_batch
from trackside.api.bll.common import require_ids, scroll_reply
from trackside.api.bll.references import TASK_REFERENCES
from trackside.api.bll.task_documents import INPUT, OUTPUT
from trackside.api.bll.task_params import REPLACE_ALL, REPLACE_NONE, REPLACE_SECTION
from trackside.api.bll.task_status import FAILED, STOPPED, TASK_STATUSES, TASK_TYPES
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import (
    Bool, Dict, GetAllRequest, Int, ManyRequest, OneOf, QueryList, Raw, RequestSchema, Str, StrList, load_lines,
)


# -- sub-document schemas (unknown keys are dropped, as for every request) ---------------------------------
class ScriptSchema(RequestSchema):
    binary = Str()
    repository = Str()
    tag = Str()
    branch = Str()
    version_num = Str()
    entry_point = Str()
    working_dir = Str()
    requirements = Dict()
    diff = Str()


class ArtifactIdSchema(RequestSchema):
    key = Str(required=True)
    mode = OneOf((INPUT, OUTPUT))


class ArtifactSchema(ArtifactIdSchema):
    type = Str(required=True)
    uri = Str()
    hash = Str()
    content_size = Int()
    timestamp = Int()
    type_data = Dict()
    display_data = Raw()


class ExecutionSchema(RequestSchema):
    queue = Str()
    parameters = Dict()
    model = Str()
    model_desc = Dict()
    model_labels = Dict(keys=fields.String(), values=fields.Integer(strict=True))
    framework = Str()
    docker_cmd = Str()
    artifacts = fields.List(fields.Nested(ArtifactSchema))


class OutputSchema(RequestSchema):
    destination = Str()
    model = Str()
    result = Str()
    error = Str()


class ModelRefSchema(RequestSchema):
    name = Str(required=True)
    model = Str(required=True)


class ModelsSchema(RequestSchema):
    input = fields.List(fields.Nested(ModelRefSchema))
    output = fields.List(fields.Nested(ModelRefSchema))


class ParamKeySchema(RequestSchema):
    section = Str(required=True)
    name = Str()


class ParamItemSchema(RequestSchema):
    section = Str()
    name = Str()
    value = Str()
    type = Str()
    description = Str()


class ParamEditSchema(ParamItemSchema):
    section = Str(required=True)
    name = Str(required=True)


class ConfigItemSchema(RequestSchema):
    name = Str()
    value = Str()
    type = Str()
    description = Str()


class ConfigEditSchema(ConfigItemSchema):
    name = Str(required=True)


def HyperParams(**kw):
    return fields.Dict(keys=fields.String(), values=fields.Dict(
        keys=fields.String(), values=fields.Nested(ParamItemSchema)), **kw)


def Configuration(**kw):
    return fields.Dict(keys=fields.String(), values=fields.Nested(ConfigItemSchema), **kw)


def Container(**kw):
    return fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), **kw)


# -- common request shapes -------------------------------------------------------------------------------
class TaskRequest(RequestSchema):
    task = Str(required=True)


class StatusChangeRequest(TaskRequest):
    force = Bool(load_default=False)
    status_reason = Str()
    status_message = Str()


class ManyStatusChangeRequest(ManyRequest):
    force = Bool(load_default=False)
    status_reason = Str()
    status_message = Str()


def _change(data: dict) -> dict:
    """The options every status-change request carries, as the transition methods take them."""
    return {"force": data.get("force", False), "reason": data.get("status_reason"),
            "message": data.get("status_message")}


def _many(call: Call, operation) -> dict:
    return run_batch(call.data["ids"], operation)


# -- reading -----------------------------------------------------------------------------------------------
def _as_read(call: Call, tasks: list[dict]) -> list[dict]:
    """Tasks as the caller's API version shows them (old clients read legacy fields)."""
    return [task_compat.for_version(task, call.api_version) for task in tasks]


def _as_saved(call: Call, data: dict, edited_task: str | None = None) -> dict:
    """Request data with old-version fields moved to today's; an edit of legacy parameters keeps the others."""
    execution = data.get("execution") or {}
    previous = None
    if edited_task and ("parameters" in execution or "model_desc" in execution):
        previous = call.app.tasks.get(call.identity.company, edited_task)
    return task_compat.prepare_for_save(data, call.api_version, previous)


@endpoint("tasks.get_by_id", TaskRequest)
def get_by_id(call: Call) -> dict:
    task = call.app.tasks.get(call.identity.company, call.data["task"], allow_public=True)
    return {"task": _as_read(call, [task])[0]}


class GetAllTasksRequest(GetAllRequest):
    # Filter keys that cannot be declared one by one (see query.QuerySpec wildcards).
    query_prefixes = ("hyperparams.", "last_metrics.", "runtime.", "execution.queue", "models.input.model")

    project = QueryList()
    status = QueryList()
    type = QueryList()
    user = QueryList()
    parent = QueryList()
    comment = Str()
    report = Str()
    # Ranges [min, max] and date conditions (">=2024-01-01"), checked by the query layer.
    created = Raw()
    started = Raw()
    active_duration = Raw()
    last_iteration = Raw()
    status_changed = Raw()
    last_update = Raw()
    last_change = Raw()
    include_subprojects = Bool(load_default=False)


def _tasks_page(call: Call, join: bool = False) -> dict:
    """A page of tasks; ``join``: references in only_fields (``project.name``...) resolved, as get_all_ex does."""
    company, data = call.identity.company, call.data
    references = call.app.references.plan(data.get("only_fields"), TASK_REFERENCES) if join else None
    if references:
        data = {**data, "only_fields": references.only_fields}
    tasks = call.app.tasks.get_all(company, data)
    if references:
        references.apply(company, tasks)
    return {"tasks": _as_read(call, tasks), **scroll_reply(call.data, len(tasks))}


@endpoint("tasks.get_all", GetAllTasksRequest)
def get_all(call: Call) -> dict:
    return _tasks_page(call)


class GetAllExRequest(GetAllTasksRequest):
    allow_public = Bool(load_default=True)


@endpoint("tasks.get_all_ex", GetAllExRequest)
def get_all_ex(call: Call) -> dict:
    return _tasks_page(call, join=True)


class GetByIdExRequest(GetAllTasksRequest):
    id = QueryList(required=True)


@endpoint("tasks.get_by_id_ex", GetByIdExRequest)
def get_by_id_ex(call: Call) -> dict:
    return {"tasks": _tasks_page(call, join=True)["tasks"]}


class GetTypesRequest(RequestSchema):
    projects = StrList()


@endpoint("tasks.get_types", GetTypesRequest)
def get_types(call: Call) -> dict:
    return {"types": call.app.tasks.types(call.identity.company, call.data.get("projects"))}


# -- creating and editing ----------------------------------------------------------------------------------
class TaskDefinition(RequestSchema):
    """The writable fields shared by tasks.create and tasks.edit."""

    name = Str()
    type = OneOf(TASK_TYPES)
    comment = Str()
    parent = Str()
    project = Str()
    tags = StrList()
    system_tags = StrList()
    output_dest = Str()
    output = fields.Nested(OutputSchema)
    script = fields.Nested(ScriptSchema)
    execution = fields.Nested(ExecutionSchema)
    hyperparams = HyperParams()
    configuration = Configuration()
    models = fields.Nested(ModelsSchema)
    container = Container()
    runtime = Dict()


class CreateRequest(TaskDefinition):
    name = Str(required=True)
    type = OneOf(TASK_TYPES, required=True)


@endpoint("tasks.create", CreateRequest)
def create(call: Call) -> dict:
    return {"id": call.app.tasks.create(call.identity, _as_saved(call, call.data))}


class EditRequest(TaskDefinition):
    task = Str(required=True)
    force = Bool(load_default=False)


@endpoint("tasks.edit", EditRequest)
def edit(call: Call) -> dict:
    task = call.data["task"]
    return call.app.tasks.edit(call.identity, task, _as_saved(call, call.data, task), call.data["force"])


class UpdateRequest(TaskRequest):
    name = Str()
    comment = Str()
    tags = StrList()
    system_tags = StrList()
    project = Str()
    output__error = Str()


@endpoint("tasks.update", UpdateRequest)
def update(call: Call) -> dict:
    return call.app.tasks.update(call.identity, call.data["task"], call.data)


class CloneRequest(TaskRequest):
    new_task_name = Str()
    new_task_comment = Str()
    new_task_tags = StrList()
    new_task_system_tags = StrList()
    new_task_parent = Str()
    new_task_project = Str()
    new_task_hyperparams = HyperParams()
    new_task_configuration = Configuration()
    new_task_container = Container()
    new_task_input_models = fields.List(fields.Nested(ModelRefSchema))
    execution_overrides = fields.Nested(ExecutionSchema)
    new_project_name = Str()


@endpoint("tasks.clone", CloneRequest)
def clone(call: Call) -> dict:
    data = call.data
    overrides = {
        "name": data.get("new_task_name"), "comment": data.get("new_task_comment"),
        "tags": data.get("new_task_tags"), "system_tags": data.get("new_task_system_tags"),
        "parent": data.get("new_task_parent"), "project": data.get("new_task_project"),
        "hyperparams": data.get("new_task_hyperparams"), "configuration": data.get("new_task_configuration"),
        "container": data.get("new_task_container"), "input_models": data.get("new_task_input_models"),
        "execution": data.get("execution_overrides"),
    }
    if overrides["execution"]:
        source = call.app.tasks.get(call.identity.company, data["task"])
        overrides = task_compat.clone_overrides(overrides, source, call.api_version)
    return call.app.tasks.clone(call.identity, data["task"], overrides, data.get("new_project_name"))


class SetRequirementsRequest(TaskRequest):
    requirements = Dict(required=True)


@endpoint("tasks.set_requirements", SetRequirementsRequest)
def set_requirements(call: Call) -> dict:
    return call.app.tasks.contents.set_requirements(call.identity, call.data["task"], call.data["requirements"])


@endpoint("tasks.ping", TaskRequest)
def ping(call: Call) -> dict:
    call.app.tasks.ping(call.identity, call.data["task"])
    return {}


# -- status transitions ------------------------------------------------------------------------------------
@endpoint("tasks.started", StatusChangeRequest)
def started(call: Call) -> dict:
    return call.app.tasks.transitions.started(call.identity, call.data["task"], **_change(call.data))


@endpoint("tasks.stopped", StatusChangeRequest)
def stopped(call: Call) -> dict:
    return call.app.tasks.transitions.finished(call.identity, call.data["task"], STOPPED, **_change(call.data))


@endpoint("tasks.failed", StatusChangeRequest)
def failed(call: Call) -> dict:
    return call.app.tasks.transitions.finished(call.identity, call.data["task"], FAILED, **_change(call.data))


class CompletedRequest(StatusChangeRequest):
    publish = Bool(load_default=False)


@endpoint("tasks.completed", CompletedRequest)
def completed(call: Call) -> dict:
    return call.app.tasks.transitions.completed(call.identity, call.data["task"], publish=call.data["publish"],
                                                **_change(call.data))


@endpoint("tasks.close", StatusChangeRequest)
def close(call: Call) -> dict:
    return call.app.tasks.transitions.close(call.identity, call.data["task"], **_change(call.data))


class PublishRequest(StatusChangeRequest):
    publish_model = Bool(load_default=True)


@endpoint("tasks.publish", PublishRequest)
def publish(call: Call) -> dict:
    return call.app.tasks.transitions.publish(call.identity, call.data["task"],
                                              publish_model=call.data["publish_model"] is not False,
                                              **_change(call.data))


class PublishManyRequest(ManyStatusChangeRequest):
    publish_model = Bool(load_default=True)


@endpoint("tasks.publish_many", PublishManyRequest)
def publish_many(call: Call) -> dict:
    transitions, data = call.app.tasks.transitions, call.data
    return _many(call, lambda task_id: transitions.publish(call.identity, task_id,
                                                           publish_model=data["publish_model"] is not False,
                                                           **_change(data)))


class StopRequest(StatusChangeRequest):
    include_pipeline_steps = Bool(load_default=False)


@endpoint("tasks.stop", StopRequest)
def stop(call: Call) -> dict:
    data = call.data
    return call.app.tasks.transitions.stop(call.identity, data["task"], data["force"], data.get("status_reason"),
                                           data["include_pipeline_steps"])


class StopManyRequest(ManyStatusChangeRequest):
    include_pipeline_steps = Bool(load_default=False)


@endpoint("tasks.stop_many", StopManyRequest)
def stop_many(call: Call) -> dict:
    transitions, data = call.app.tasks.transitions, call.data
    return _many(call, lambda task_id: transitions.stop(call.identity, task_id, data["force"],
                                                        data.get("status_reason"), data["include_pipeline_steps"]))


class CleanupOptions(RequestSchema):
    """What tasks.reset/delete (and their *_many forms) do with the task's outputs (2.13, 2.21)."""

    return_file_urls = Bool(load_default=False)
    delete_output_models = Bool(load_default=True)
    # We have no asynchronous file deletion: accepted, and the caller removes the files from ``urls``.
    delete_external_artifacts = Bool(load_default=True)


class ResetRequest(StatusChangeRequest, CleanupOptions):
    clear_all = Bool(load_default=False)


def _reset(call: Call, task_id: str) -> dict:
    data = call.data
    return call.app.tasks.transitions.reset(call.identity, task_id, data["force"], data["clear_all"],
                                            delete_output_models=data["delete_output_models"],
                                            return_file_urls=data["return_file_urls"])


@endpoint("tasks.reset", ResetRequest)
def reset(call: Call) -> dict:
    return _reset(call, call.data["task"])


class ResetManyRequest(ManyStatusChangeRequest, CleanupOptions):
    clear_all = Bool(load_default=False)


@endpoint("tasks.reset_many", ResetManyRequest)
def reset_many(call: Call) -> dict:
    def reset_one(task_id: str) -> dict:
        result = _reset(call, task_id)
        result.pop("events", None)  # the batch items report only whether each task left its queue
        return {**result, "dequeued": bool(result["dequeued"].get("removed"))}

    return _many(call, reset_one)


# -- queues ------------------------------------------------------------------------------------------------
class EnqueueRequest(StatusChangeRequest):
    queue = Str()
    queue_name = Str()
    verify_watched_queue = Bool(load_default=False)


@endpoint("tasks.enqueue", EnqueueRequest)
def enqueue(call: Call) -> dict:
    data = call.data
    result = call.app.tasks.transitions.enqueue(call.identity, data["task"], data.get("queue"),
                                                data.get("queue_name"), **_change(data))
    if data["verify_watched_queue"]:
        result["queue_watched"] = _queue_watched(call, result)
    return result


def _queue_watched(call: Call, enqueued: dict) -> bool:
    """Whether a live worker listens on the queue the task went to (asked with verify_watched_queue)."""
    return call.app.workers.queue_watched(call.identity.company, enqueued["fields"]["execution.queue"])


class EnqueueManyRequest(ManyStatusChangeRequest):
    queue = Str()
    queue_name = Str()
    verify_watched_queue = Bool(load_default=False)


@endpoint("tasks.enqueue_many", EnqueueManyRequest)
def enqueue_many(call: Call) -> dict:
    transitions, data = call.app.tasks.transitions, call.data

    def enqueue_one(task_id: str) -> dict:
        result = transitions.enqueue(call.identity, task_id, data.get("queue"), data.get("queue_name"),
                                     **_change(data))
        return {**result, "queued": bool(result["queued"])}

    response = _many(call, enqueue_one)
    if data["verify_watched_queue"] and response["succeeded"]:
        response["queue_watched"] = _queue_watched(call, response["succeeded"][0])
    return response


class DequeueRequest(StatusChangeRequest):
    new_status = OneOf(TASK_STATUSES)
    remove_from_all_queues = Bool(load_default=False)


@endpoint("tasks.dequeue", DequeueRequest)
def dequeue(call: Call) -> dict:
    data = call.data
    return call.app.tasks.transitions.dequeue(
        call.identity, data["task"], data.get("new_status"), data.get("status_reason"), data.get("status_message"),
        all_queues=data["remove_from_all_queues"],
    )


class DequeueManyRequest(ManyStatusChangeRequest):
    new_status = OneOf(TASK_STATUSES)
    remove_from_all_queues = Bool(load_default=False)


@endpoint("tasks.dequeue_many", DequeueManyRequest)
def dequeue_many(call: Call) -> dict:
    transitions, data = call.app.tasks.transitions, call.data

    def dequeue_one(task_id: str) -> dict:
        result = transitions.dequeue(call.identity, task_id, data.get("new_status"), data.get("status_reason"),
                                     data.get("status_message"), all_queues=data["remove_from_all_queues"])
        return {**result, "dequeued": bool(result["dequeued"])}

    return _many(call, dequeue_one)


# -- deleting, archiving, moving, tagging ------------------------------------------------------------------
class DeleteRequest(TaskRequest, CleanupOptions):
    force = Bool(load_default=False)
    status_reason = Str()  # accepted as the reference does; a deleted task keeps no status
    status_message = Str()
    include_pipeline_steps = Bool(load_default=False)  # 2.30
    # Tasks are always deleted for good: a trash nobody can read back is not kept.
    move_to_trash = Bool(load_default=False)


def _delete(call: Call, task_id: str) -> dict:
    data = call.data
    return call.app.tasks.delete(call.identity, task_id, data["force"],
                                 delete_output_models=data["delete_output_models"],
                                 return_file_urls=data["return_file_urls"],
                                 include_pipeline_steps=data["include_pipeline_steps"])


@endpoint("tasks.delete", DeleteRequest)
def delete(call: Call) -> dict:
    return _delete(call, call.data["task"])


class DeleteManyRequest(ManyRequest, CleanupOptions):
    force = Bool(load_default=False)
    status_reason = Str()
    status_message = Str()
    include_pipeline_steps = Bool(load_default=False)
    move_to_trash = Bool(load_default=False)


@endpoint("tasks.delete_many", DeleteManyRequest)
def delete_many(call: Call) -> dict:
    def delete_one(task_id: str) -> dict:
        result = _delete(call, task_id)
        result.pop("events", None)
        return result

    return _many(call, delete_one)


class ArchiveRequest(RequestSchema):
    tasks = StrList(required=True)
    status_reason = Str()
    status_message = Str()


@endpoint("tasks.archive", ArchiveRequest)
def archive(call: Call) -> dict:
    data = call.data
    archived = sum(call.app.tasks.archive(call.identity, task_id, data.get("status_reason"),
                                          data.get("status_message")) for task_id in data["tasks"])
    return {"archived": archived}


@endpoint("tasks.archive_many", ManyStatusChangeRequest)
def archive_many(call: Call) -> dict:
    tasks, data = call.app.tasks, call.data
    return _many(call, lambda task_id: {"archived": bool(tasks.archive(
        call.identity, task_id, data.get("status_reason"), data.get("status_message")))})


@endpoint("tasks.unarchive_many", ManyStatusChangeRequest)
def unarchive_many(call: Call) -> dict:
    tasks, data = call.app.tasks, call.data
    return _many(call, lambda task_id: {"unarchived": bool(tasks.unarchive(
        call.identity, task_id, data.get("status_reason"), data.get("status_message")))})


class MoveRequest(ManyRequest):
    project = Str()
    project_name = Str()


@endpoint("tasks.move", MoveRequest)
def move(call: Call) -> dict:
    data = call.data
    # An explicit ``project: null`` moves the tasks to the root.
    if "project" not in data and not data.get("project_name"):
        raise errors.MissingRequiredFields("missing required fields: project or project_name",
                                           fields=["project", "project_name"])
    project_id = call.app.tasks.move(call.identity, data["ids"], data.get("project"), data.get("project_name"))
    return {"project_id": project_id}


class UpdateTagsRequest(ManyRequest):
    add_tags = StrList()
    remove_tags = StrList()


@endpoint("tasks.update_tags", UpdateTagsRequest)
def update_tags(call: Call) -> dict:
    data = call.data
    return {"updated": call.app.tasks.update_tags(call.identity, data["ids"], data.get("add_tags"),
                                                  data.get("remove_tags"))}


# -- hyper-parameters and configuration --------------------------------------------------------------------
class TasksRequest(RequestSchema):
    tasks = StrList(required=True)


@endpoint("tasks.get_hyper_params", TasksRequest)
def get_hyper_params(call: Call) -> dict:
    return {"params": call.app.tasks.contents.get_params(call.identity.company, call.data["tasks"])}


class EditHyperParamsRequest(TaskRequest):
    hyperparams = fields.List(fields.Nested(ParamEditSchema), required=True)
    replace_hyperparams = OneOf((REPLACE_NONE, REPLACE_SECTION, REPLACE_ALL), load_default=REPLACE_NONE)
    force = Bool(load_default=False)


@endpoint("tasks.edit_hyper_params", EditHyperParamsRequest)
def edit_hyper_params(call: Call) -> dict:
    data = call.data
    replace = data["replace_hyperparams"] or REPLACE_NONE
    return {"updated": call.app.tasks.contents.edit_params(call.identity, data["task"], data["hyperparams"],
                                                           replace, data["force"])}


class DeleteHyperParamsRequest(TaskRequest):
    hyperparams = fields.List(fields.Nested(ParamKeySchema), required=True)
    force = Bool(load_default=False)


@endpoint("tasks.delete_hyper_params", DeleteHyperParamsRequest)
def delete_hyper_params(call: Call) -> dict:
    data = call.data
    return {"deleted": call.app.tasks.contents.delete_params(call.identity, data["task"], data["hyperparams"],
                                                             data["force"])}


class GetConfigurationsRequest(TasksRequest):
    names = StrList()


@endpoint("tasks.get_configurations", GetConfigurationsRequest)
def get_configurations(call: Call) -> dict:
    data = call.data
    return {"configurations": call.app.tasks.contents.get_configurations(call.identity.company, data["tasks"],
                                                                         data.get("names"))}


class GetConfigurationNamesRequest(TasksRequest):
    skip_empty = Bool(load_default=True)


@endpoint("tasks.get_configuration_names", GetConfigurationNamesRequest)
def get_configuration_names(call: Call) -> dict:
    data = call.data
    return {"configurations": call.app.tasks.contents.get_configuration_names(
        call.identity.company, data["tasks"], data["skip_empty"] is not False)}


class EditConfigurationRequest(TaskRequest):
    configuration = fields.List(fields.Nested(ConfigEditSchema), required=True)
    replace_configuration = Bool(load_default=False)
    force = Bool(load_default=False)


@endpoint("tasks.edit_configuration", EditConfigurationRequest)
def edit_configuration(call: Call) -> dict:
    data = call.data
    return {"updated": call.app.tasks.contents.edit_configuration(
        call.identity, data["task"], data["configuration"], bool(data["replace_configuration"]), data["force"])}


class DeleteConfigurationRequest(TaskRequest):
    configuration = StrList(required=True)
    force = Bool(load_default=False)


@endpoint("tasks.delete_configuration", DeleteConfigurationRequest)
def delete_configuration(call: Call) -> dict:
    data = call.data
    return {"deleted": call.app.tasks.contents.delete_configuration(call.identity, data["task"],
                                                                    data["configuration"], data["force"])}


# -- artifacts and models ----------------------------------------------------------------------------------
class ArtifactsRequest(TaskRequest):
    artifacts = fields.List(fields.Nested(ArtifactSchema), required=True)


@endpoint("tasks.add_or_update_artifacts", ArtifactsRequest)
def add_or_update_artifacts(call: Call) -> dict:
    return {"updated": call.app.tasks.contents.add_or_update_artifacts(call.identity, call.data["task"],
                                                                       call.data["artifacts"])}


class DeleteArtifactsRequest(TaskRequest):
    artifacts = fields.List(fields.Nested(ArtifactIdSchema), required=True)


@endpoint("tasks.delete_artifacts", DeleteArtifactsRequest)
def delete_artifacts(call: Call) -> dict:
    return {"deleted": call.app.tasks.contents.delete_artifacts(call.identity, call.data["task"],
                                                                call.data["artifacts"])}


class AddOrUpdateModelRequest(TaskRequest):
    name = Str(required=True)
    model = Str(required=True)
    type = OneOf((INPUT, OUTPUT), required=True)
    iteration = Int()


@endpoint("tasks.add_or_update_model", AddOrUpdateModelRequest)
def add_or_update_model(call: Call) -> dict:
    data = call.data
    return {"updated": call.app.tasks.contents.add_or_update_model(
        call.identity, data["task"], data["type"], data["name"], data["model"], data.get("iteration"))}


class ModelKeySchema(RequestSchema):
    name = Str(required=True)
    type = OneOf((INPUT, OUTPUT), required=True)


class DeleteModelsRequest(TaskRequest):
    models = fields.List(fields.Nested(ModelKeySchema), required=True)


@endpoint("tasks.delete_models", DeleteModelsRequest)
def delete_models(call: Call) -> dict:
    return {"updated": call.app.tasks.contents.delete_models(call.identity, call.data["task"], call.data["models"])}


# -- validation without writing, batched updates ---------------------------------------------------------------
@endpoint("tasks.validate", CreateRequest)
def validate_task(call: Call) -> dict:
    call.app.tasks.validate(call.identity, _as_saved(call, call.data))
    return {}


@endpoint("tasks.update_batch", batch=True)
def update_batch(call: Call) -> dict:
    """JSON lines, each a tasks.update body; every task must exist before any is changed (the reference's
    rule), and a later line for the same task replaces an earlier one."""
    items = {item["task"]: item for item in load_lines(call.data, UpdateRequest)}
    tasks = call.app.tasks
    require_ids(tasks.coll, call.identity.company, list(items), errors.InvalidTaskId)
    updated = sum(tasks.update(call.identity, task_id, data)["updated"] for task_id, data in items.items())
    return {"updated": updated}
