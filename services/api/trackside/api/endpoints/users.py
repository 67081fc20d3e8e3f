"""users.*: the caller, user look-ups and listings, profiles, preferences; creating and deleting users (admins)."""
from trackside.api import errors
from trackside.api.bll.users import ADMIN_ROLES
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Dict, GetAllRequest, RequestSchema, Str, StrList

# The reference's default answer (apiserver.getting_started_info), naming our agent.
GETTING_STARTED = {
    "agentName": "trackside-agent",
    "configure": "clearml-init",
    "install": "pip install clearml",
    "packageName": "clearml",
}


@endpoint("users.get_current_user", RequestSchema)
def get_current_user(call: Call) -> dict:
    # One shape at every version (2.1, 2.20 getting_started and user.created, 2.26 settings, 2.31
    # created_in_version): the reference's single handler answers all of them alike.
    config = call.app.config
    return {
        "user": call.app.users.current(call.identity),
        "getting_started": config.get("apiserver.getting_started_info", GETTING_STARTED),
        "settings": {
            "max_download_items": int(config.get("services.organization.download.max_download_items", 50000)),
        },
    }


class UserRequest(RequestSchema):
    user = Str(required=True)


@endpoint("users.get_by_id", UserRequest)
def get_by_id(call: Call) -> dict:
    return {"user": call.app.users.get(call.identity.company, call.data["user"])}


class GetAllUsersRequest(GetAllRequest):
    pass


@endpoint("users.get_all", GetAllUsersRequest)
def get_all(call: Call) -> dict:
    return {"users": call.app.users.get_all(call.identity.company, call.data)}


@endpoint("users.get_all_ex", GetAllUsersRequest)
def get_all_ex(call: Call) -> dict:
    return {"users": call.app.users.get_all(call.identity.company, call.data)}


class GetAllExRequest(GetAllUsersRequest):
    active_in_projects = StrList()


@endpoint("users.get_all_ex", GetAllExRequest, min_version="2.8")
def get_all_ex_2_8(call: Call) -> dict:
    """``active_in_projects``: only users who own those projects or tasks and models in them (subprojects
    included); an empty list means any project."""
    data, company = dict(call.data), call.identity.company
    projects = data.pop("active_in_projects", None)
    if projects is not None:
        active = _active_users(call, company, projects, data.get("id"))
        if not active:
            return {"users": []}
        data["id"] = active
    return {"users": call.app.users.get_all(company, data)}


def _active_users(call: Call, company: str, project_ids: list[str], user_ids: list[str] | None) -> list[str]:
    if project_ids:
        project_ids = [p for pid in project_ids for p in call.app.projects.subtree_ids(company, pid)]
    query: dict = {"company": company, **({"_id": {"$in": project_ids}} if project_ids else {})}
    active = {u for u in call.app.projects.coll.distinct("user", query) if u}
    active.update(call.app.tasks.user_ids(company, project_ids or None))
    active.update(call.app.models.user_ids(company, project_ids or None))
    if user_ids:
        active &= set(user_ids)
    return sorted(active)


class UpdateRequest(RequestSchema):
    user = Str(required=True)
    name = Str()
    given_name = Str()
    family_name = Str()
    avatar = Str()


@endpoint("users.update", UpdateRequest)
def update(call: Call) -> dict:
    identity, user_id = call.identity, call.data["user"]
    # The reference lets anyone edit anyone; here only the user and administrators may.
    if user_id != identity.user and identity.role not in ADMIN_ROLES:
        raise errors.RoleNotAllowed("only administrators may update other users", user=user_id)
    updated, fields = call.app.users.update(identity.company, user_id, call.data)
    return {"updated": updated, "fields": fields}


@endpoint("users.get_preferences", RequestSchema)
def get_preferences(call: Call) -> dict:
    return {"preferences": call.app.users.preferences(call.identity)}


class SetPreferencesRequest(RequestSchema):
    preferences = Dict(required=True, allow_none=False)


@endpoint("users.set_preferences", SetPreferencesRequest)
def set_preferences(call: Call) -> dict:
    return call.app.users.set_preferences(call.identity, call.data["preferences"])


class CreateRequest(RequestSchema):
    id = Str(required=True)
    company = Str(required=True)
    name = Str(required=True)
    given_name = Str()
    family_name = Str()
    avatar = Str()


@endpoint("users.create", CreateRequest, roles=tuple(ADMIN_ROLES))
def create(call: Call) -> dict:
    data = call.data
    _check_company(call, data["company"])
    call.app.users.create(data["id"], data["company"], data)
    return {}


@endpoint("users.delete", UserRequest, roles=tuple(ADMIN_ROLES))
def delete(call: Call) -> dict:
    call.app.users.delete(call.identity.company, call.data["user"])
    call.app.auth.revoked_access.revoke_user(call.data["user"])  # tokens already issued stop working
    return {}


def _check_company(call: Call, company: str) -> None:
    """This server has one company: users elsewhere could never log in or be listed."""
    if company != call.identity.company:
        raise errors.InvalidId(f"cannot create a user in another company: {company}", company=company)
