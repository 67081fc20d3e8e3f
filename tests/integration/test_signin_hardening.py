"""Sign-in hardening over HTTP: failed auth.login throttled (429 + Retry-After) per key and address, per address
and per key (known addresses spared); revoked keys and disabled or deleted users lose their tokens within the
revocation interval; the token lifetime and its maximum come from configuration; the real SDK still signs in.

One API process of this module's own with small thresholds and short windows (the session's stores);
addresses are named with X-Forwarded-For, which the API believes from 127.0.0.1 (a trusted proxy by default).
"""
from __future__ import annotations

import itertools
import time

import jwt
import pytest

from support.client import ApiClient
from support.clients import client_env, run_client_script
from support.names import unique
from support.suite import start_api, stop_in_background
from support.users import company_of
from support.waiting import wait_for

REFRESH_SEC = 1
SERVER_ENV = {
    "CLEARML__APISERVER__AUTH__TOKEN_EXPIRATION_SEC": "2",     # the default lifetime, proven below
    "CLEARML__APISERVER__AUTH__MAX_EXPIRATION_SEC": "3600",
    "CLEARML__APISERVER__AUTH__REVOCATION_REFRESH_SEC": str(REFRESH_SEC),
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_KEY_AND_ADDRESS": "3",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_ADDRESS": "6",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_KEY": "9",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__LOCK_SEC": "1",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__MAX_LOCK_SEC": "4",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FORGET_AFTER_SEC": "60",
}
LONG = 600  # the lifetime tests ask for where the 2 s default would get in the way
_addresses = (f"198.51.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def new_address() -> str:
    """An address no other test of the session uses, so no test shares counters with another."""
    return next(_addresses)


@pytest.fixture(scope="module")
def hardened(mongo_server, redis_server, tmp_path_factory):
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-signin"), redis_port=redis_server.port,
                       extra_env=SERVER_ENV)
    yield server
    stop_in_background(server.process)


@pytest.fixture(scope="module")
def admin(hardened) -> ApiClient:
    client = ApiClient(hardened.url)
    client.token = login(client, hardened.key, hardened.secret, new_address(), expiration_sec=LONG).data["token"]
    return client


def login(client: ApiClient, key: str, secret: str, address: str, **body):
    return client.send("auth.login", body or None, version=None, auth=(key, secret),
                       headers={"X-Forwarded-For": address})


def raw_login(url: str, key: str, secret: str, address: str):
    """The HTTP response itself, for its headers."""
    return ApiClient(url).session.post(f"{url}/auth.login", auth=(key, secret), headers={"X-Forwarded-For": address},
                                       timeout=30)


def bearer(client: ApiClient, token: str):
    return client.send("users.get_current_user", {}, auth=None, headers={"Authorization": f"Bearer {token}"})


def new_key(admin: ApiClient) -> tuple[str, str]:
    created = admin.ok("auth.create_credentials", label=unique("signin"))["credentials"]
    return created["access_key"], created["secret_key"]


# -- throttling --------------------------------------------------------------------------------------------
def test_failures_per_key_and_address_lock_that_pair_with_retry_after(hardened, admin):
    key, secret = new_key(admin)
    here, elsewhere = new_address(), new_address()
    for _ in range(3):
        assert login(admin, key, "wrong", here).code == (401, 22)
    locked = raw_login(hardened.url, key, secret, here)   # refused without checking, even the right secret
    meta = locked.json()["meta"]
    assert locked.status_code == 429 and (meta["result_code"], meta["result_subcode"]) == (429, 1)
    assert locked.json()["data"] == {} and "too many failed sign-in attempts" in meta["result_msg"]
    assert locked.headers["Retry-After"] == "1" and meta["error_data"] == {"retry_after": 1}
    assert login(admin, key, secret, elsewhere).code == (200, 0)          # the key from another address
    assert login(admin, "UNKNOWN" + unique("k"), "x", here).code == (401, 22)  # another key from here
    wait_for(lambda: login(admin, key, secret, here).code == (200, 0), timeout=5, what="the lock to end")


def test_a_lock_grows_with_each_failure_past_the_threshold(hardened, admin):
    key, _ = new_key(admin)
    here = new_address()
    for _ in range(3):
        login(admin, key, "wrong", here)
    assert raw_login(hardened.url, key, "wrong", here).headers["Retry-After"] == "1"
    wait_for(lambda: login(admin, key, "wrong", here).code == (401, 22), timeout=5, what="the first lock to end")
    assert raw_login(hardened.url, key, "wrong", here).headers["Retry-After"] == "2"


def test_failures_per_address_lock_every_key_from_it_and_a_success_resets_them(hardened, admin):
    key, secret = new_key(admin)
    here = new_address()
    for _ in range(5):
        assert login(admin, unique("NOKEY"), "x", here).code == (401, 22)
    assert login(admin, key, secret, here).code == (200, 0)   # clears the address's count
    for _ in range(5):
        assert login(admin, unique("NOKEY"), "x", here).code == (401, 22)
    assert login(admin, unique("NOKEY"), "x", here).code == (401, 22)   # the 6th failure since the success
    assert login(admin, key, secret, here).code == (429, 1)
    assert login(admin, key, secret, new_address()).code == (200, 0)


def test_failures_per_key_spare_the_addresses_it_signed_in_from(hardened, admin):
    key, secret = new_key(admin)
    home = new_address()
    assert login(admin, key, secret, home).code == (200, 0)
    for _ in range(9):   # one guess from each of many addresses: only the key's own counter reaches its limit
        assert login(admin, key, "guess", new_address()).code == (401, 22)
    assert login(admin, key, secret, new_address()).code == (429, 1)
    assert login(admin, key, secret, home).code == (200, 0)


# -- revocation --------------------------------------------------------------------------------------------
def test_revoking_a_key_refuses_the_tokens_it_issued_within_the_interval(hardened, admin):
    key, secret = new_key(admin)
    token = login(admin, key, secret, new_address(), expiration_sec=LONG).data["token"]
    refreshed = admin.send("auth.login", {"expiration_sec": LONG}, version=None, auth=None,
                           headers={"Authorization": f"Bearer {token}"}).data["token"]   # the SDK's token path
    other_key, other_secret = new_key(admin)
    kept = login(admin, other_key, other_secret, new_address(), expiration_sec=LONG).data["token"]
    assert bearer(admin, token).code == (200, 0)
    admin.ok("auth.revoke_credentials", access_key=key)
    revoked = time.monotonic()
    wait_for(lambda: bearer(admin, token).code == (401, 30) and bearer(admin, refreshed).code == (401, 30),
             timeout=REFRESH_SEC + 3, what="the revoked key's tokens to be refused")
    assert time.monotonic() - revoked <= REFRESH_SEC + 1
    assert admin.ok("auth.validate_token", token=token)["valid"] is False
    assert bearer(admin, kept).code == (200, 0)   # the user's other key is untouched
    assert login(admin, key, secret, new_address()).code == (401, 22)


def new_user_with_key(admin: ApiClient) -> tuple[str, str, str, str]:
    """A new user, their token from auth.get_token_for_user and a database key of their own."""
    name = unique("signin-user")
    user = admin.ok("auth.create_user", name=name, company=company_of(admin), email=f"{name}@example.com")["id"]
    client = ApiClient(admin.base_url)
    client.token = admin.ok("auth.get_token_for_user", user=user, expiration_sec=LONG)["token"]
    created = client.ok("auth.create_credentials")["credentials"]
    return user, client.token, created["access_key"], created["secret_key"]


def test_disabling_a_user_refuses_their_tokens_and_keys_until_enabled(hardened, admin):
    user, token, key, secret = new_user_with_key(admin)
    keyed = login(admin, key, secret, new_address(), expiration_sec=LONG).data["token"]
    reply = admin.ok("auth.edit_user", user=user, disabled=True)
    assert reply == {"updated": 1, "fields": {"disabled": True}}
    started = time.monotonic()
    wait_for(lambda: bearer(admin, token).code == (401, 30) and bearer(admin, keyed).code == (401, 30),
             timeout=REFRESH_SEC + 3, what="the disabled user's tokens to be refused")
    assert time.monotonic() - started <= REFRESH_SEC + 1
    assert login(admin, key, secret, new_address()).code == (401, 22)
    admin.error("auth.get_token_for_user", (400, 16), user=user)
    time.sleep(1)   # tokens are stamped in whole seconds: a new one must be issued after the disabling second
    admin.ok("auth.edit_user", user=user, disabled=False)
    fresh = login(admin, key, secret, new_address(), expiration_sec=LONG).data["token"]
    assert bearer(admin, fresh).code == (200, 0)
    assert bearer(admin, token).code == (401, 30)   # what was issued before stays refused


def test_deleting_a_user_refuses_their_tokens(hardened, admin):
    user, token, _, _ = new_user_with_key(admin)
    admin.ok("users.delete", user=user)
    wait_for(lambda: bearer(admin, token).code == (401, 30), timeout=REFRESH_SEC + 3,
             what="the deleted user's token to be refused")


@pytest.mark.parametrize("body, code", [
    ({"user": "no-such-user", "disabled": True}, (400, 301)),   # invalid user id
    ({"user": "x", "disabled": "maybe"}, (400, 12)),
    ({"disabled": True}, (400, 11)),
])
def test_edit_user_disabled_bad_input(admin, body, code):
    reply = admin.send("auth.edit_user", body)
    assert reply.code == code, reply.meta


def test_configured_users_and_the_caller_cannot_be_disabled(hardened, admin):
    me = admin.ok("users.get_current_user")["user"]["id"]
    reply = admin.send("auth.edit_user", {"user": me, "disabled": True})
    assert reply.code == (400, 16) and "configuration" in reply.meta["result_msg"]


def test_edit_user_disabled_needs_an_admin(hardened, admin):
    _, token, _, _ = new_user_with_key(admin)
    client = ApiClient(hardened.url)
    client.token = token
    assert client.send("auth.edit_user", {"user": "x", "disabled": True}).code == (403, 20)
    assert ApiClient(hardened.url).send("auth.edit_user", {"user": "x", "disabled": True}).code == (401, 20)


# -- lifetime ----------------------------------------------------------------------------------------------
def test_default_lifetime_comes_from_configuration(hardened, admin):
    token = login(admin, hardened.key, hardened.secret, new_address()).data["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2
    assert bearer(admin, token).code == (200, 0)
    wait_for(lambda: bearer(admin, token).code == (401, 30), timeout=5, what="the token to expire")


def test_a_lifetime_above_the_maximum_is_refused(hardened, admin):
    reply = login(admin, hardened.key, hardened.secret, new_address(), expiration_sec=3601)
    assert reply.code == (400, 12) and "expiration_sec" in reply.meta["result_msg"]
    assert reply.meta["error_data"] == {"fields": ["expiration_sec"]}
    me = admin.ok("users.get_current_user")["user"]["id"]
    admin.error("auth.get_token_for_user", (400, 12), user=me, expiration_sec=7200)
    assert login(admin, hardened.key, hardened.secret, new_address(), expiration_sec=3600).code == (200, 0)


# -- the real SDK --------------------------------------------------------------------------------------------
def test_the_clearml_sdk_signs_in_through_the_throttle(api_server, tmp_path):
    """The session's API (default throttle and lifetime): a plain SDK session signs in and calls."""
    run = run_client_script("sdk_signin.py", [], client_env(api_server.url, api_server.key, api_server.secret,
                                                             tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.result == {"token": True, "status": 200}
    assert run.complaints() == []
