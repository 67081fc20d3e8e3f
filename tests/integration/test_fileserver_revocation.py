"""The file server refuses the tokens the API revoked, as the API does and within the same interval: after
``auth.revoke_credentials`` (the key's tokens), ``auth.edit_user disabled`` and ``users.delete`` (the user's
tokens), ``auth.logout`` (that token); for downloads and uploads alike. Without its stores (auth database,
Redis) it keeps serving, and its readiness names them without failing.

The session's API and file server (the default 2 s revocation interval: a module API of its own would cost
more start-up than the waits it saves), and a file server of this module's own whose stores are nowhere.
"""
from __future__ import annotations

import time

import pytest
import requests

from support.client import ApiClient
from support.files import FilesClient
from support.names import unique
from support.suite import start_fileserver, stop_in_background
from support.users import new_user
from support.waiting import wait_for
from trackside.shared.config import load_config
from trackside.shared.embedded.process import free_port
from trackside.shared.revocation import refresh_sec

REFRESH_SEC = refresh_sec(load_config({}))   # what the session's servers run with


@pytest.fixture(scope="module")
def servers(api_server, fileserver):
    return api_server, fileserver


@pytest.fixture(scope="module")
def admin(api_server) -> ApiClient:
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


@pytest.fixture(scope="module")
def storeless(api_server, tmp_path_factory):
    """A file server whose auth database and Redis are nowhere (nothing listens on their port)."""
    nowhere = free_port()
    server = start_fileserver(api_server.config_dir, tmp_path_factory.mktemp("files-no-stores"),
                              mongo_port=nowhere, redis_port=nowhere)
    yield server
    stop_in_background(server.process)


@pytest.fixture(scope="module")
def stored(servers, admin) -> str:
    """A file every test's token tries to download."""
    name = f"revocation/{unique('file')}.bin"
    assert FilesClient(servers[1].url, admin.token).upload(name, b"kept").status_code == 200
    return name


def file_codes(files_url: str, token: str, stored: str) -> tuple[int, int]:
    """(download, upload) status codes for ``token``."""
    client = FilesClient(files_url, token)
    return client.get(stored).status_code, client.upload(f"revocation/{unique('up')}.bin", b"x").status_code


def assert_refused_within_interval(files_url: str, token: str, stored: str, since: float) -> None:
    wait_for(lambda: file_codes(files_url, token, stored) == (401, 401), timeout=REFRESH_SEC + 3,
             what="the file server to refuse the revoked token")
    assert time.monotonic() - since <= REFRESH_SEC + 1
    # Each worker reloads on its own: one interval (plus a query) after the revocation, every one refuses.
    time.sleep(max(0.0, since + REFRESH_SEC + 0.5 - time.monotonic()))
    assert [file_codes(files_url, token, stored) for _ in range(4)] == [(401, 401)] * 4


def test_a_revoked_keys_tokens_are_refused(servers, admin, stored):
    api, files = servers
    created = admin.ok("auth.create_credentials", label=unique("files"))["credentials"]
    token = ApiClient(api.url, created["access_key"], created["secret_key"]).login().token
    kept = ApiClient(api.url, api.key, api.secret).login().token   # another key's token
    assert file_codes(files.url, token, stored) == (200, 200)
    admin.ok("auth.revoke_credentials", access_key=created["access_key"])
    assert_refused_within_interval(files.url, token, stored, time.monotonic())
    reply = FilesClient(files.url, token).get(stored)
    assert "revoked" in reply.text and reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert file_codes(files.url, kept, stored) == (200, 200)


@pytest.mark.parametrize("revoke", ["disable", "delete"])
def test_a_disabled_or_deleted_users_tokens_are_refused(servers, admin, stored, revoke):
    _, files = servers
    user, client = new_user(admin)
    assert file_codes(files.url, client.token, stored) == (200, 200)
    if revoke == "disable":
        admin.ok("auth.edit_user", user=user, disabled=True)
    else:
        admin.ok("users.delete", user=user)
    assert_refused_within_interval(files.url, client.token, stored, time.monotonic())
    assert file_codes(files.url, admin.token, stored) == (200, 200)   # others are untouched


def test_a_logged_out_token_is_refused_at_once(servers, admin, stored):
    api, files = servers
    leaving = ApiClient(api.url, api.key, api.secret).login()
    assert file_codes(files.url, leaving.token, stored) == (200, 200)
    leaving.ok("auth.logout")
    assert file_codes(files.url, leaving.token, stored) == (401, 401)   # a per-request check: no interval
    assert file_codes(files.url, admin.token, stored) == (200, 200)


def test_without_its_stores_the_file_server_keeps_serving(storeless, admin):
    """Nothing listens where it looks for the auth database and Redis: tokens are still checked (signature,
    expiry) and files served; readiness reports both stores down but stays 200."""
    files = storeless
    client = FilesClient(files.url, admin.token)
    started = time.monotonic()
    assert client.upload("alone/a.bin", b"served").status_code == 200
    assert client.get("alone/a.bin").content == b"served"
    assert FilesClient(files.url, "not-a-token").get("alone/a.bin").status_code == 401
    assert time.monotonic() - started < 5   # one short try of each store per worker, then none for a while
    ready = requests.get(f"{files.url}/health/ready", timeout=15)
    assert (ready.status_code, ready.json()) == (
        200, {"status": "ok", "checks": {"storage": True, "mongo": False, "redis": False}})
