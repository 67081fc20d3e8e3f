"""users.*, server.*, debug.*, login.*: answers, bad input and unauthenticated calls."""
import pytest


def test_current_user_is_the_credentials_owner(api):
    data = api.ok("users.get_current_user")
    user = data["user"]
    assert user["name"] == "Test User" and user["role"] == "admin"
    assert len(user["id"]) == 32
    assert user["company"]["id"] and user["company"]["name"]


def test_users_get_all_lists_names(api):
    me = api.ok("users.get_current_user")["user"]["id"]
    users = api.ok("users.get_all", id=[me])["users"]
    # The reference answers whole user objects (never their preferences).
    assert [(u["id"], u["name"]) for u in users] == [(me, "Test User")] and "preferences" not in users[0]


def test_users_get_all_wrong_type(api):
    # A single string is a one-item list (the reference's query coercion); a number is not.
    assert api.ok("users.get_all", id="not-an-id")["users"] == []
    reply = api.error("users.get_all", (400, 12), id=5)
    assert "id" in reply.meta["result_msg"]


def test_server_info(api):
    info = api.ok("server.info")
    assert info["api_version"] == "2.31" and info["version"]


def test_server_info_needs_no_token(anon):
    # As in the reference (authorize: false).
    assert anon.ok("server.info")["version"]


def test_debug_ping_needs_no_token(anon):
    assert anon.ok("debug.ping")["msg"]


def test_login_supported_modes_needs_no_token(anon):
    modes = anon.ok("login.supported_modes")
    assert modes["authenticated"] is False and "basic" in modes


@pytest.mark.parametrize("endpoint", ["users.get_current_user", "users.get_all", "server.get_stats"])
def test_calls_without_a_token_are_refused(anon, endpoint):
    reply = anon.send(endpoint, {})
    assert reply.status == 401 and reply.code == (401, 20) and reply.data == {}
