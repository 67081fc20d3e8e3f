"""auth.get_token_for_user / validate_token / logout / create_user / edit_user and login.logout: administrators
only where the reference restricts, revoked tokens after a logout, the web cookie cleared. Raw HTTP and the
real SDK."""
from __future__ import annotations

import jwt
import pytest
import requests

from support.client import ApiClient
from support.names import unique
from support.sdk_api import call, run_calls
from support.users import client_as, company_of, new_user

COOKIE = "clearml_token_basic"


def fresh_login(api_server) -> ApiClient:
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# -- get_token_for_user ------------------------------------------------------------------------------------
def test_token_for_another_user_acts_as_them(api):
    name = unique("owner")
    user, _ = new_user(api, name=name)
    reply = api.ok("auth.get_token_for_user", user=user, company=company_of(api), expiration_sec=300)
    claims = claims_of(reply["token"])
    assert claims["identity"]["user"] == user and claims["identity"]["role"] == "user"
    assert claims["exp"] - claims["iat"] == 300
    as_user = ApiClient(api.base_url)
    as_user.token = reply["token"]
    assert as_user.ok("users.get_current_user")["user"]["name"] == name
    task = as_user.ok("tasks.create", name=unique("t"), type="training")["id"]
    assert api.ok("tasks.get_by_id", task=task)["task"]["user"] == user


def test_token_for_user_refusals(api):
    user, as_user = new_user(api)
    api.error("auth.get_token_for_user", (400, 301), user="nosuchuser")
    api.error("auth.get_token_for_user", (400, 10), user=user, company="othercompany")
    api.error("auth.get_token_for_user", (400, 11))
    api.error("auth.get_token_for_user", (400, 12), user=user, expiration_sec="soon")
    me = api.ok("users.get_current_user")["user"]["id"]
    as_user.error("auth.get_token_for_user", (403, 20), user=me)


# -- validate_token ----------------------------------------------------------------------------------------
def test_validate_token(api, api_server):
    other = fresh_login(api_server)
    me = api.ok("users.get_current_user")["user"]
    assert api.ok("auth.validate_token", token=other.token) == {
        "valid": True, "user": me["id"], "company": me["company"]["id"]}
    bad = api.ok("auth.validate_token", token="not.a.token")
    assert bad["valid"] is False and bad["msg"]
    other.ok("auth.logout")
    revoked = api.ok("auth.validate_token", token=other.token)
    assert revoked["valid"] is False and revoked["user"] == me["id"]
    api.error("auth.validate_token", (400, 11))
    _, as_user = new_user(api)
    as_user.error("auth.validate_token", (403, 20), token=other.token)


# -- logout ------------------------------------------------------------------------------------------------
def test_logout_revokes_only_the_callers_token(api_server):
    leaving, staying = fresh_login(api_server), fresh_login(api_server)
    reply = leaving.send("auth.logout", {})
    assert reply.code == (200, 0) and reply.data == {}
    assert leaving.send("users.get_current_user", {}).code == (401, 30)
    assert staying.ok("users.get_current_user")["user"]["name"] == "Test User"
    assert leaving.send("auth.logout", {}).code == (401, 30)
    assert staying.send("auth.logout", {}, version="2.1").code == (404, 0)  # from 2.2 on


def test_logout_clears_the_web_cookie(api_server):
    browser = requests.Session()
    browser.get(f"{api_server.url}/auth.login", auth=(api_server.key, api_server.secret), timeout=30)
    token = browser.cookies.get(COOKIE)
    assert token
    resp = browser.get(f"{api_server.url}/v2.13/login.logout", timeout=30)
    assert resp.status_code == 200 and COOKIE in resp.headers["Set-Cookie"]
    assert "Max-Age=0" in resp.headers["Set-Cookie"] and not browser.cookies.get(COOKIE)
    stale = requests.get(f"{api_server.url}/users.get_current_user", cookies={COOKIE: token}, timeout=30)
    assert stale.json()["meta"]["result_code"] == 401
    # With the stale cookie still sent, or with nothing, logout still answers (and clears it again).
    again = requests.get(f"{api_server.url}/login.logout", cookies={COOKIE: token}, timeout=30)
    assert again.status_code == 200 and "Max-Age=0" in again.headers["Set-Cookie"]


def test_login_logout_versions_and_bearer(api_server, anon):
    assert anon.send("login.logout", {}, version="2.12").code == (404, 0)
    assert anon.send("login.logout", {}, version="2.13").code == (200, 0)
    client = fresh_login(api_server)
    assert client.send("login.logout", {}).code == (200, 0)
    assert client.send("users.get_current_user", {}).code == (401, 30)


# -- create_user and edit_user -----------------------------------------------------------------------------
def test_create_user(api):
    name, company = unique("made"), company_of(api)
    reply = api.ok("auth.create_user", name=name, company=company, email=f"{name}@example.com",
                   role="annotator", given_name="G", family_name="F")
    user = api.ok("users.get_by_id", user=reply["id"])["user"]
    assert (user["name"], user["role"], user["given_name"], user["family_name"]) == (name, "annotator", "G", "F")
    assert claims_of(client_as(api, reply["id"]).token)["identity"]["role"] == "annotator"
    default = api.ok("auth.create_user", name=unique("d"), company=company, email=f"{unique('d')}@example.com")
    assert api.ok("users.get_by_id", user=default["id"])["user"]["role"] == "user"
    api.error("auth.create_user", (400, 801), name="dup", company=company, email=f"{name}@example.com")


@pytest.mark.parametrize("body, code, field", [
    ({"name": "x", "company": "C", "email": "not-an-email"}, (400, 800), "email"),
    ({"name": "x", "company": "C", "email": "a@example.com", "role": "system"}, (400, 12), "role"),
    ({"name": "x", "company": "C"}, (400, 11), "email"),
    ({"name": 5, "company": "C", "email": "a@example.com"}, (400, 12), "name"),
])
def test_create_user_bad_input(api, body, code, field):
    body = {**body, "company": company_of(api)}
    reply = api.error("auth.create_user", code, **body)
    assert field in reply.meta["result_msg"]


def test_create_user_elsewhere_or_by_a_user_is_refused(api):
    api.error("auth.create_user", (400, 10), name="x", company="othercompany", email=f"{unique('o')}@example.com")
    _, as_user = new_user(api)
    as_user.error("auth.create_user", (403, 20), name="x", company=company_of(api), email="z@example.com")


def test_edit_user_role_applies_to_new_tokens_and_keys(api):
    user, as_user = new_user(api)
    key = as_user.ok("auth.create_credentials")["credentials"]
    assert api.ok("auth.edit_user", user=user, role="admin") == {"updated": 1, "fields": {"role": "admin"}}
    assert api.ok("auth.edit_user", user=user, role="admin") == {"updated": 0, "fields": {"role": "admin"}}
    assert api.ok("users.get_by_id", user=user)["user"]["role"] == "admin"
    token = api.send("auth.login", None, version=None, auth=(key["access_key"], key["secret_key"])).data["token"]
    assert claims_of(token)["identity"]["role"] == "admin"
    api.error("auth.edit_user", (400, 12), user=user, role="system")
    api.error("auth.edit_user", (400, 301), user="nosuchuser", role="user")
    api.error("auth.edit_user", (400, 11), role="user")
    _, plain = new_user(api)
    plain.error("auth.edit_user", (403, 20), user=user, role="user")


# -- no credentials ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["auth.get_token_for_user", "auth.validate_token", "auth.logout",
                                      "auth.create_user", "auth.edit_user"])
def test_calls_without_a_token_are_refused(anon, endpoint):
    reply = anon.send(endpoint, {})
    assert reply.code == (401, 20) and reply.data == {}


# -- the real SDK ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdk_answers(api_server, tmp_path_factory):
    admin = fresh_login(api_server)
    user, _ = new_user(admin)
    return user, run_calls(api_server, [
        call("auth.edit_user", user=user, role="superuser"),
        call("auth.get_token_for_user", raw=True, user=user),
        call("auth.validate_token", raw=True, version="2.1", token="bad"),
        call("auth.create_user", raw=True, name="sdk", company="othercompany", email="sdk@example.com"),
        call("auth.logout", raw=True, version="2.2"),
    ], tmp_path_factory.mktemp("sdk-auth"))


def test_through_the_sdk(sdk_answers):
    user, (edited, token, validated, elsewhere, logout) = sdk_answers
    assert edited["ok"] and edited["data"]["updated"] == 1
    assert claims_of(token["data"]["token"])["identity"] == {**claims_of(token["data"]["token"])["identity"],
                                                           "user": user, "role": "superuser"}
    assert validated["data"]["valid"] is False
    assert elsewhere["code"] == [400, 10]
    assert logout == {"ok": True, "data": {}}
