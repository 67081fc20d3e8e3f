"""auth.*: log in with an access key (or fixed user), log out, manage database-kept credentials; tokens and
users for administrators (get_token_for_user, validate_token, create_user, edit_user). login.*: web login."""
import re

from flask import request
from marshmallow import fields, validate

from trackside.api import errors
from trackside.api.bll.users import ADMIN_ROLES, ROLES
from trackside.api.context import Call
from trackside.api.registry import AUTH_LOGIN, AUTH_NONE, endpoint
from trackside.api.schema import Bool, Int, OneOf, RequestSchema, Str
from trackside.shared.ids import new_id

SYSTEM_ROLES = frozenset({"system", "root"})
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class LoginRequest(RequestSchema):
    expiration_sec = Int()


@endpoint("auth.login", LoginRequest, auth=AUTH_LOGIN)
def login(call: Call) -> dict:
    token = call.app.auth.login_token(call.identity, call.data.get("expiration_sec"))
    call.cookies.append(call.app.auth.cookie_for(token))
    return {"token": token}


@endpoint("auth.fixed_users_mode", RequestSchema, auth=AUTH_NONE)
def fixed_users_mode(call: Call) -> dict:
    return {"enabled": call.app.auth.fixed_users_enabled, "guest": {"enabled": False}, "server_errors": {}}


class CreateCredentialsRequest(RequestSchema):
    label = Str()


@endpoint("auth.create_credentials", CreateCredentialsRequest)
def create_credentials(call: Call) -> dict:
    return {"credentials": call.app.auth.create_credentials(call.identity, call.data.get("label"))}


@endpoint("auth.get_credentials", RequestSchema)
def get_credentials(call: Call) -> dict:
    return {"credentials": call.app.auth.list_credentials(call.identity)}


class EditCredentialsRequest(RequestSchema):
    access_key = Str(required=True)
    label = Str()


@endpoint("auth.edit_credentials", EditCredentialsRequest)
def edit_credentials(call: Call) -> dict:
    return {"updated": call.app.auth.edit_credentials(call.identity, call.data["access_key"], call.data.get("label"))}


class RevokeCredentialsRequest(RequestSchema):
    access_key = Str(required=True)


@endpoint("auth.revoke_credentials", RevokeCredentialsRequest)
def revoke_credentials(call: Call) -> dict:
    return {"revoked": call.app.auth.revoke_credentials(call.identity, call.data["access_key"])}


@endpoint("login.supported_modes", RequestSchema, auth=AUTH_NONE)
def supported_modes(call: Call) -> dict:
    fixed = call.app.auth.fixed_users_enabled
    return {
        "authenticated": call.identity is not None,
        "basic": {"enabled": fixed, "guest": {"enabled": False}},
        "sso": {}, "sso_providers": [], "server_errors": {"missed_es_upgrade": False, "es_connection_error": False},
    }


def _logout(call: Call) -> dict:
    token = call.app.auth.request_token(request)
    if token:
        call.app.auth.revoke(token)
    call.cookies.append(call.app.auth.cookie_clearing())
    return {}


@endpoint("auth.logout", RequestSchema, min_version="2.2")
def logout(call: Call) -> dict:
    """The caller's token stops working (revoked until it would have expired) and the web cookie is cleared."""
    return _logout(call)


@endpoint("login.logout", RequestSchema, min_version="2.13", auth=AUTH_NONE)
def login_logout(call: Call) -> dict:
    """As auth.logout, but also answers a caller without credentials (the web app's logout button)."""
    return _logout(call)


class GetTokenForUserRequest(RequestSchema):
    user = Str(required=True)
    company = Str()
    expiration_sec = Int()


@endpoint("auth.get_token_for_user", GetTokenForUserRequest, roles=tuple(ADMIN_ROLES))
def get_token_for_user(call: Call) -> dict:
    """A token acting as another user (the agent's ``--use-owner-token`` runs tasks with their owner's).
    The reference allows only its internal system roles; administrators here, within their own company."""
    identity, data = call.identity, call.data
    company = data.get("company") or identity.company
    if identity.role not in SYSTEM_ROLES and company != identity.company:
        raise errors.InvalidId("cannot generate token in another company", company=company)
    user = call.app.users.find(data["user"], company)
    if user is None:
        raise errors.InvalidUserId(f"invalid user id: {data['user']}", id=data["user"], company=company)
    if user.get("disabled"):
        raise errors.FieldsValueError(f"user is disabled: {data['user']}", user=data["user"])
    token = call.app.auth.issue_token(call.app.auth.identity_for_user(user), data.get("expiration_sec"))
    return {"token": token}


class ValidateTokenRequest(RequestSchema):
    token = Str(required=True)


@endpoint("auth.validate_token", ValidateTokenRequest, roles=tuple(ADMIN_ROLES))
def validate_token(call: Call) -> dict:
    return call.app.auth.validate(call.data["token"])


class CreateUserRequest(RequestSchema):
    name = Str(required=True)
    company = Str(required=True)
    email = Str(required=True)
    role = OneOf(("admin", "superuser", "user", "annotator"), load_default="user")
    given_name = Str()
    family_name = Str()
    avatar = Str()


@endpoint("auth.create_user", CreateUserRequest, roles=tuple(ADMIN_ROLES))
def create_user(call: Call) -> dict:
    data = call.data
    if not EMAIL.fullmatch(data["email"]):   # the reference's document validation: 400/800
        raise errors.DataValidationError(f"invalid email address: {data['email']!r}", email=data["email"])
    if call.identity.role not in SYSTEM_ROLES and data["company"] != call.identity.company:
        raise errors.InvalidId("cannot create user in another company", company=data["company"])
    if data["company"] != call.app.company_id:
        raise errors.InvalidId(f"invalid company: {data['company']}", company=data["company"])
    user_id = call.app.users.create(new_id(), data["company"], data, role=data["role"], email=data["email"])
    return {"id": user_id}


class EditUserRequest(RequestSchema):
    user = Str(required=True)
    role = fields.String(validate=validate.OneOf(ROLES))
    # Ours (the reference has no way to disable a user): a disabled user's keys stop signing in and the
    # tokens already issued to them stop working within apiserver.auth.revocation_refresh_sec.
    disabled = Bool()


@endpoint("auth.edit_user", EditUserRequest, roles=tuple(ADMIN_ROLES))
def edit_user(call: Call) -> dict:
    """The role (it applies from the user's next login: tokens carry their role) and ``disabled``."""
    data = call.data
    fields_ = {"role": data["role"]} if data.get("role") else {}
    if "disabled" in data:
        return _set_disabled(call, data["user"], data["disabled"], fields_)
    if not fields_:
        if call.app.users.find(data["user"], call.identity.company) is None:
            raise errors.InvalidUserId(f"invalid user id: {data['user']}", id=data["user"])
        return {"updated": 0, "fields": {}}
    updated = call.app.users.set_role(call.identity.company, data["user"], data["role"])
    return {"updated": updated, "fields": fields_}


def _set_disabled(call: Call, user: str, disabled: bool, fields_: dict) -> dict:
    if call.app.auth.is_configured_user(user):
        raise errors.FieldsValueError(
            f"user {user} is defined in configuration (secure.conf or fixed_users): remove it there", user=user)
    if user == call.identity.user and disabled:
        raise errors.FieldsValueError("cannot disable the calling user", user=user)
    updated = call.app.users.set_disabled(call.identity.company, user, disabled)
    if fields_:
        call.app.users.set_role(call.identity.company, user, fields_["role"])
    if disabled:
        call.app.auth.revoked_access.revoke_user(user)
    return {"updated": 1 if updated or fields_ else 0, "fields": {**fields_, "disabled": disabled}}
