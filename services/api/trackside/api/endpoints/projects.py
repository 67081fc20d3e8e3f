"""projects.*: the project tree."""
from __future__ import annotations

from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, Dict, GetAllRequest, OneOf, RequestSchema, Str, StrList


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
    return {"project": call.app.projects.get(call.identity.company, call.data["project"])}


class GetAllRequestProjects(GetAllRequest):
    basename = Str()
    description = Str()
    parent = StrList()
    user = StrList()
    shallow_search = Bool(load_default=False)


@endpoint("projects.get_all", GetAllRequestProjects)
def get_all(call: Call) -> dict:
    return {"projects": call.app.projects.get_all(call.identity.company, call.data)}


class GetAllExRequest(GetAllRequestProjects):
    include_stats = Bool(load_default=False)
    stats_for_state = Str(load_default="active")
    check_own_contents = Bool(load_default=False)


@endpoint("projects.get_all_ex", GetAllExRequest)
def get_all_ex(call: Call) -> dict:
    company = call.identity.company
    projects = call.app.projects.get_all(company, call.data)
    ids = [p["id"] for p in projects]
    children = call.app.projects.children(company, ids)
    for project in projects:
        project["sub_projects"] = children.get(project["id"], [])
    if call.data["include_stats"]:
        stats = call.app.tasks.project_stats(company, ids, call.data["stats_for_state"])
        for project in projects:
            project["stats"] = stats[project["id"]]
    if call.data["check_own_contents"]:
        for project in projects:
            counts = call.app.projects.contents(company, [project["id"]])
            project["own_tasks"], project["own_models"] = counts["tasks"], counts["models"]
    return {"projects": projects}


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


class TagsRequest(RequestSchema):
    projects = StrList()
    filter = Dict()


@endpoint("projects.get_task_tags", TagsRequest)
def get_task_tags(call: Call) -> dict:
    return call.app.projects.tags(call.identity.company, "tasks", call.data.get("projects"), call.data.get("filter"))


@endpoint("projects.get_model_tags", TagsRequest)
def get_model_tags(call: Call) -> dict:
    return call.app.projects.tags(call.identity.company, "models", call.data.get("projects"), call.data.get("filter"))


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
    owners = call.app.tasks if call.data["entity"] == "task" else call.app.models
    user_ids = owners.user_ids(company, projects)
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
    return {"metrics": call.app.events.reads.unique_metric_variants(
        company, projects, data.get("ids"), data["model_metrics"])}
