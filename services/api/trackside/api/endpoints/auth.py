"""auth.*: log in with an access key (or fixed user), and manage database-kept credentials."""
from trackside.api.context import Call
from trackside.api.registry import AUTH_LOGIN, AUTH_NONE, endpoint
from trackside.api.schema import Int, RequestSchema, Str


class LoginRequest(RequestSchema):
    expiration_sec = Int()


@endpoint("auth.login", LoginRequest, auth=AUTH_LOGIN)
def login(call: Call) -> dict:
    token = call.app.auth.issue_token(call.identity, call.data.get("expiration_sec"))
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
