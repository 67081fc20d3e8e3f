"""auth.*: login and its token, credential management, and the configured identities (secure.conf keys,
dynamic environment overrides, fixed users)."""
from __future__ import annotations

import base64
import time

import bcrypt
import jwt
import pymongo
import pytest
import requests

from support.client import ApiClient
from support.suite import start_api, stop_in_background


def login(client: ApiClient, key: str, secret: str, **body):
    return client.send("auth.login", body or None, version=None, auth=(key, secret))


def claims_of(token: str) -> dict:
    # Clients decode without verifying the signature; so does this test.
    return jwt.decode(token, options={"verify_signature": False})


def bearer(client: ApiClient, token: str, name: str = "users.get_current_user"):
    return client.send(name, {}, auth=None, headers={"Authorization": f"Bearer {token}"})


# -- login and the token -----------------------------------------------------------------------------------
def test_login_token_is_a_jwt_carrying_the_version_negotiation(api_server, anon):
    reply = login(anon, api_server.key, api_server.secret)
    assert reply.code == (200, 0)
    claims = claims_of(reply.data["token"])
    assert claims["api_version"] == "2.31"
    assert claims["server_version"]
    assert claims["feature_set"] == "basic"
    assert claims["exp"] > time.time() + 3600
    assert {"user", "company", "role"} <= set(claims["identity"])
    assert claims["identity"]["user_name"] == "Test User"


def test_login_token_works_as_bearer(api_server, anon):
    token = login(anon, api_server.key, api_server.secret).data["token"]
    reply = bearer(anon, token)
    assert reply.code == (200, 0) and reply.data["user"]["name"] == "Test User"


def test_login_with_a_bearer_token_issues_a_new_one(api_server, anon):
    """The SDK's CLEARML_AUTH_TOKEN path: auth.login called with the token instead of keys."""
    token = login(anon, api_server.key, api_server.secret).data["token"]
    reply = anon.send("auth.login", None, version=None, auth=None, headers={"Authorization": f"Bearer {token}"})
    assert reply.code == (200, 0)
    assert claims_of(reply.data["token"])["identity"] == claims_of(token)["identity"]


def test_login_expiration_from_body_and_query_string(api_server, anon):
    claims = claims_of(login(anon, api_server.key, api_server.secret, expiration_sec=120).data["token"])
    assert claims["exp"] - claims["iat"] == 120
    reply = anon.send("auth.login?expiration_sec=90", None, version=None, auth=(api_server.key, api_server.secret))
    claims = claims_of(reply.data["token"])
    assert claims["exp"] - claims["iat"] == 90


def test_login_sets_the_web_cookie_that_authenticates(api_server):
    session = requests.Session()
    resp = session.get(f"{api_server.url}/auth.login", auth=(api_server.key, api_server.secret), timeout=30)
    assert resp.status_code == 200 and session.cookies.get("clearml_token_basic")
    again = session.get(f"{api_server.url}/users.get_current_user", timeout=30)
    assert again.status_code == 200 and again.json()["data"]["user"]["name"] == "Test User"


# -- rejected credentials and tokens -----------------------------------------------------------------------
def test_wrong_secret(api_server, anon):
    assert login(anon, api_server.key, api_server.secret + "x").code == (401, 22)


def test_unknown_key(anon):
    reply = login(anon, "NOSUCHKEY", "whatever")
    assert reply.code == (401, 22) and reply.status == 401 and reply.data == {}


@pytest.mark.parametrize("header", [
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic " + base64.b64encode(b":secret-without-key").decode(),
])
def test_malformed_basic(anon, header):
    reply = anon.send("auth.login", None, version=None, auth=None, headers={"Authorization": header})
    assert reply.code == (401, 21)


def test_no_authorization(anon):
    assert anon.send("auth.login", None, version=None, auth=None).code == (401, 20)
    assert anon.send("projects.get_all", {}).code == (401, 20)


@pytest.mark.parametrize("token", [
    "garbage",
    "a.b.c",
    jwt.encode({"identity": {"user": "u", "company": "c", "role": "admin"}, "exp": time.time() + 600},
               "not-the-server-secret-but-long-enough-for-hs256", algorithm="HS256"),
    jwt.encode({"identity": {"user": "u", "company": "c", "role": "admin"}, "exp": time.time() + 600},
               None, algorithm="none"),
])
def test_invalid_bearer_token(anon, token):
    reply = bearer(anon, token)
    assert reply.code == (401, 30) and reply.data == {}


def test_expired_token(api_server, anon):
    token = login(anon, api_server.key, api_server.secret, expiration_sec=1).data["token"]
    time.sleep(2)
    assert bearer(anon, token).code == (401, 30)


def test_basic_on_a_non_login_endpoint(api_server, anon):
    reply = anon.send("projects.get_all", {}, auth=(api_server.key, api_server.secret))
    assert reply.code == (401, 10)


# -- credentials kept in the database ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def auth_db(mongo_server):
    client = pymongo.MongoClient("127.0.0.1", mongo_server.port, directConnection=True)
    yield client["auth"]
    client.close()


def test_created_credentials_log_in(api, anon):
    created = api.ok("auth.create_credentials", label="ci")["credentials"]
    assert created["access_key"] and created["secret_key"] and created["label"] == "ci"
    reply = login(anon, created["access_key"], created["secret_key"])
    assert reply.code == (200, 0)
    assert claims_of(reply.data["token"])["identity"]["user"] == claims_of(api.token)["identity"]["user"]


def test_get_credentials_lists_keys_without_secrets(api):
    created = api.ok("auth.create_credentials")["credentials"]
    listed = api.ok("auth.get_credentials")["credentials"]
    mine = [c for c in listed if c["access_key"] == created["access_key"]]
    assert len(mine) == 1
    assert "secret_key" not in mine[0] and created["secret_key"] not in str(listed)


def test_edit_credentials_label(api):
    key = api.ok("auth.create_credentials", label="before")["credentials"]["access_key"]
    assert api.ok("auth.edit_credentials", access_key=key, label="after")["updated"] == 1
    labels = {c["access_key"]: c["label"] for c in api.ok("auth.get_credentials")["credentials"]}
    assert labels[key] == "after"
    api.error("auth.edit_credentials", (400, 75), access_key="NOSUCHKEY", label="x")


def test_revoked_credentials_no_longer_log_in(api, anon):
    created = api.ok("auth.create_credentials")["credentials"]
    assert login(anon, created["access_key"], created["secret_key"]).code == (200, 0)
    assert api.ok("auth.revoke_credentials", access_key=created["access_key"])["revoked"] == 1
    assert login(anon, created["access_key"], created["secret_key"]).code == (401, 22)
    api.error("auth.revoke_credentials", (400, 75), access_key=created["access_key"])


def test_credentials_bad_input(api, anon):
    api.error("auth.edit_credentials", (400, 11), label="x")
    api.error("auth.revoke_credentials", (400, 12), access_key=5)
    assert anon.send("auth.create_credentials", {}).code == (401, 20)


def test_secret_is_stored_only_as_a_bcrypt_hash(api, auth_db):
    created = api.ok("auth.create_credentials")["credentials"]
    doc = auth_db["credentials"].find_one({"_id": created["access_key"]})
    assert doc is not None
    assert doc["secret_hash"].startswith("$2b$")
    assert bcrypt.checkpw(created["secret_key"].encode(), doc["secret_hash"].encode())
    assert created["secret_key"] not in str(doc)


# -- identities from configuration -------------------------------------------------------------------------
def configured_api(mongo_server, tmp_path_factory, name: str, env: dict):
    """Another API process on the suite's database with ``env`` added to its environment, for a fixture to
    ``yield from``: it is stopped when the fixture ends."""
    server = start_api(mongo_server.port, tmp_path_factory.mktemp(name), extra_env=env)
    yield server
    stop_in_background(server.process)


FIXED_USER, FIXED_PASSWORD = "jane", "correct horse battery staple"


@pytest.fixture(scope="module")
def fixed_users_server(mongo_server, tmp_path_factory):
    """A second API process with apiserver.auth.fixed_users on and a base64-of-bcrypt password."""
    hashed = base64.b64encode(bcrypt.hashpw(FIXED_PASSWORD.encode(), bcrypt.gensalt(4))).decode()
    yield from configured_api(mongo_server, tmp_path_factory, "api-fixed-users", {
        "CLEARML__APISERVER__AUTH__FIXED_USERS__ENABLED": "true",
        "CLEARML__APISERVER__AUTH__FIXED_USERS__PASS_HASHED": "true",
        "CLEARML__APISERVER__AUTH__FIXED_USERS__USERS":
            f'[{{username: "{FIXED_USER}", password: "{hashed}", name: "Jane Doe"}}]',
    })


def test_fixed_user_logs_in_with_username_and_password(fixed_users_server):
    client = ApiClient(fixed_users_server.url)
    reply = login(client, FIXED_USER, FIXED_PASSWORD)
    assert reply.code == (200, 0)
    user = bearer(client, reply.data["token"]).data["user"]
    assert user["name"] == "Jane Doe"


def test_fixed_user_wrong_password(fixed_users_server):
    assert login(ApiClient(fixed_users_server.url), FIXED_USER, "wrong").code == (401, 22)


def test_supported_modes_report_basic_login(fixed_users_server, api_server):
    reply = ApiClient(fixed_users_server.url).send("login.supported_modes", {})
    assert reply.code == (200, 0) and reply.data["basic"]["enabled"] is True
    assert ApiClient(fixed_users_server.url).send("auth.fixed_users_mode", {}).data["enabled"] is True
    # The main test server has no fixed users: web login is off and the user is unknown there.
    assert ApiClient(api_server.url).send("login.supported_modes", {}).data["basic"]["enabled"] is False
    assert login(ApiClient(api_server.url), FIXED_USER, FIXED_PASSWORD).code == (401, 22)


DOC_KEY, DOC_SECRET = "MYNEWACCESSKEY0123456789", "my-new-secret"


@pytest.fixture(scope="module")
def env_credentials_server(mongo_server, tmp_path_factory):
    """A third API process whose apiserver key comes from the documented environment override."""
    yield from configured_api(mongo_server, tmp_path_factory, "api-env-credentials", {
        "CLEARML__SECURE__CREDENTIALS__APISERVER__USER_KEY": DOC_KEY,
        "CLEARML__SECURE__CREDENTIALS__APISERVER__USER_SECRET": DOC_SECRET,
    })


def test_documented_environment_override_sets_the_apiserver_secret(env_credentials_server):
    client = ApiClient(env_credentials_server.url)
    reply = login(client, DOC_KEY, DOC_SECRET)
    assert reply.code == (200, 0)
    assert claims_of(reply.data["token"])["identity"]["role"] == "system"
    assert login(client, DOC_KEY, "my-old-secret").code == (401, 22)
    # The secure.conf key of the same process still works beside it.
    assert login(client, env_credentials_server.key, env_credentials_server.secret).code == (200, 0)
