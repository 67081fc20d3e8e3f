"""projects.*: the project tree."""
from __future__ import annotations

from marshmallow import fields

from trackside.api.bll.project_stats import ACTIVE, STATES
from trackside.api.context import Call
from trackside.api.registry import endpoint, parse_version
from trackside.api.bll.common import scroll_reply
from trackside.api.bll.listing_reads import entity_collection
from trackside.api.bll.projects import tags_filter
from trackside.api.schema import Bool, Dict, GetAllRequest, Int, OneOf, QueryList, Raw, RequestSchema, Str, StrList

CHILDREN_TYPES = ("pipeline", "report", "dataset")


def state_or_default(data: dict, key: str) -> str | None:
    """A state option: absent means active, an explicit null means every state (so no load_default here,
    which would turn the null into the default)."""
    return data[key] if key in data else ACTIVE


def merged_tags(call: Call, projects):
    """Before 2.3 the reference returned system tags inside ``tags``."""
    if parse_version(call.version) < (2, 3):
        for project in [projects] if isinstance(projects, dict) else projects:
            if project.get("system_tags"):
                project["tags"] = sorted(set(project.get("tags") or []) | set(project["system_tags"]))
    return projects


class CreateRequest(RequestSchema):
    name = Str(required=True)
    description = Str()
    tags = StrList()
    system_tags = StrList()
    default_output_destination = Str()


@endpoint("projects.create", CreateRequest)
def create(call: Call) -> dict:
    data = call.data
    return {"id": call.app.projects.create(call.identity, data["name"], data)}


class ProjectRequest(RequestSchema):
    project = Str(required=True)


@endpoint("projects.get_by_id", ProjectRequest)
def get_by_id(call: Call) -> dict:
    project = call.app.projects.get(call.identity.company, call.data["project"], allow_public=True)
    return {"project": merged_tags(call, project)}


class GetAllRequestProjects(GetAllRequest):
    basename = Str()
    description = Str()
    parent = QueryList()
    user = QueryList()
    last_update = Raw()
    shallow_search = Bool(load_default=False)


@endpoint("projects.get_all", GetAllRequestProjects)
def get_all(call: Call) -> dict:
    projects = call.app.projects.get_all(call.identity.company, call.data)
    return {"projects": merged_tags(call, projects), **scroll_reply(call.data, len(projects))}


class GetAllExRequest(GetAllRequestProjects):
    include_stats = Bool(load_default=False)
    stats_for_state = OneOf(STATES)
    non_public = Bool()
    active_users = StrList()
    check_own_contents = Bool(load_default=False)
    stats_with_children = Bool(load_default=True)
    include_stats_filter = Dict()
    include_dataset_stats = Bool(load_default=False)
    allow_public = Bool()
    children_type = OneOf(CHILDREN_TYPES)
    children_tags = StrList()
    children_tags_filter = Dict()


@endpoint("projects.get_all_ex", GetAllExRequest, min_version="2.1")
def get_all_ex(call: Call) -> dict:
    data = {**call.data, "stats_for_state": state_or_default(call.data, "stats_for_state")}
    projects = call.app.projects.get_all_ex(call.identity.company, data)
    return {"projects": merged_tags(call, projects), **scroll_reply(data, len(projects))}


class UpdateRequest(ProjectRequest):
    name = Str()
    description = Str()
    tags = StrList()
    system_tags = StrList()
    default_output_destination = Str()


@endpoint("projects.update", UpdateRequest)
def update(call: Call) -> dict:
    fields = call.app.projects.update(call.identity, call.data["project"], call.data)
    return {"updated": 1 if fields else 0, "fields": fields}


class DeleteRequest(ProjectRequest):
    force = Bool(load_default=False)
    delete_contents = Bool(load_default=False)


@endpoint("projects.delete", DeleteRequest)
def delete(call: Call) -> dict:
    data = call.data
    return call.app.projects.delete(call.identity, data["project"], data["force"], data["delete_contents"])


@endpoint("projects.validate_delete", ProjectRequest)
def validate_delete(call: Call) -> dict:
    company = call.identity.company
    call.app.projects.get(company, call.data["project"])
    return call.app.projects.contents(company, call.app.projects.subtree_ids(company, call.data["project"]))


class MoveRequest(ProjectRequest):
    new_location = Str()


@endpoint("projects.move", MoveRequest)
def move(call: Call) -> dict:
    return {"moved": call.app.projects.move(call.identity, call.data["project"], call.data.get("new_location"))}


class MergeRequest(ProjectRequest):
    destination_project = Str(required=True)


@endpoint("projects.merge", MergeRequest)
def merge(call: Call) -> dict:
    return call.app.projects.merge(call.identity, call.data["project"], call.data["destination_project"])


class TagsFilter(RequestSchema):
    tags = StrList()
    system_tags = StrList()


class TagsRequest(RequestSchema):
    include_system = Bool(load_default=False)
    projects = StrList()
    filter = fields.Nested(TagsFilter)


def _entity_tags(call: Call, coll_name: str) -> dict:
    data, company = call.data, call.identity.company
    if tags_filter(data.get("filter")):  # a filter needs the documents; without one the summaries answer
        return call.app.projects.tags(company, coll_name, data.get("projects"), data.get("filter"),
                                      include_system=data["include_system"])
    projects = call.app.projects.ids_with_children(company, data["projects"]) if data.get("projects") else None
    return call.app.organization.listings.tags([coll_name], company, projects, data["include_system"])


@endpoint("projects.get_task_tags", TagsRequest, min_version="2.8")
def get_task_tags(call: Call) -> dict:
    return _entity_tags(call, "tasks")


@endpoint("projects.get_model_tags", TagsRequest, min_version="2.8")
def get_model_tags(call: Call) -> dict:
    return _entity_tags(call, "models")


@endpoint("projects.get_project_tags", TagsRequest, min_version="2.17")
def get_project_tags(call: Call) -> dict:
    data = call.data
    return call.app.projects.project_tags(call.identity.company, data["include_system"], data.get("projects"),
                                          data.get("filter"))


class UserNamesRequest(RequestSchema):
    projects = StrList()
    include_subprojects = Bool(load_default=True)
    entity = OneOf(("task", "model"), load_default="task")


@endpoint("projects.get_user_names", UserNamesRequest)
def get_user_names(call: Call) -> dict:
    company = call.identity.company
    projects = call.data.get("projects")
    if projects and call.data["include_subprojects"]:
        projects = [p for pid in projects for p in call.app.projects.subtree_ids(company, pid)]
    user_ids = call.app.organization.listings.user_ids(entity_collection(call.data["entity"] == "model"), company,
                                                       projects or None)
    return {"users": call.app.users.names(company, user_ids)}


class UniqueMetricsRequest(RequestSchema):
    project = Str()
    include_subprojects = Bool(load_default=True)
    model_metrics = Bool(load_default=False)
    ids = StrList()


@endpoint("projects.get_unique_metric_variants", UniqueMetricsRequest)
def get_unique_metric_variants(call: Call) -> dict:
    """Metric/variant pairs of a project's tasks (or models); an unknown project has none."""
    company, data = call.identity.company, call.data
    projects = None
    if data.get("project"):
        projects = ([data["project"]] if not data["include_subprojects"]
                    else call.app.projects.subtree_ids(company, data["project"]))
    if data.get("ids"):
        return {"metrics": call.app.events.reads.unique_metric_variants(
            company, projects, data.get("ids"), data["model_metrics"])}
    return {"metrics": call.app.organization.listings.metric_variants(
        entity_collection(data["model_metrics"]), company, projects)}


# -- reads across a project's tasks and models -------------------------------------------------------------
class TaskParentsRequest(RequestSchema):
    projects = StrList()
    tasks_state = OneOf(STATES)
    include_subprojects = Bool(load_default=True)
    task_name = Str()


@endpoint("projects.get_task_parents", TaskParentsRequest, min_version="2.12")
def get_task_parents(call: Call) -> dict:
    data = call.data
    state = state_or_default(data, "tasks_state")
    return {"parents": call.app.projects.queries.task_parents(
        call.identity.company, data.get("projects"), data["include_subprojects"], state, data.get("task_name"))}


class PagedRequest(RequestSchema):
    page = Int(load_default=0)
    page_size = Int(load_default=500)
    include_subprojects = Bool(load_default=True)


class HyperParametersRequest(PagedRequest):
    project = Str(required=True)


@endpoint("projects.get_hyper_parameters", HyperParametersRequest, min_version="2.9")
def get_hyper_parameters(call: Call) -> dict:
    data = call.data
    return call.app.projects.queries.hyper_parameters(
        call.identity.company, [data["project"]] if data["project"] else None, data["include_subprojects"],
        data["page"], data["page_size"])


class HyperparamValuesRequest(PagedRequest):
    projects = StrList()
    section = Str(required=True)
    name = Str(required=True)
    allow_public = Bool(load_default=True)
    pattern = Str()


@endpoint("projects.get_hyperparam_values", HyperparamValuesRequest, min_version="2.13")
def get_hyperparam_values(call: Call) -> dict:
    data = call.data
    return call.app.projects.queries.hyperparam_values(
        call.identity.company, data.get("projects"), data["section"], data["name"], data["include_subprojects"],
        data["allow_public"], data.get("pattern"), data["page"], data["page_size"])


@endpoint("projects.get_model_metadata_keys", HyperParametersRequest, min_version="2.17")
def get_model_metadata_keys(call: Call) -> dict:
    data = call.data
    return call.app.projects.queries.metadata_keys(
        call.identity.company, [data["project"]] if data["project"] else None, data["include_subprojects"],
        data["page"], data["page_size"])


class MetadataValuesRequest(PagedRequest):
    projects = StrList()
    key = Str(required=True)
    allow_public = Bool(load_default=True)


@endpoint("projects.get_model_metadata_values", MetadataValuesRequest, min_version="2.17")
def get_model_metadata_values(call: Call) -> dict:
    data = call.data
    return call.app.projects.queries.metadata_values(
        call.identity.company, data.get("projects"), data["key"], data["include_subprojects"],
        data["allow_public"], data["page"], data["page_size"])
