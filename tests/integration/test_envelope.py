"""The response envelope and request forms every client depends on (wire protocol sections 1.1-1.5, 6)."""
from __future__ import annotations

import re
import uuid

import pytest

from support.names import unique
from support.objects import create_project

HEX_ID = re.compile(r"^[0-9a-f]{32}$")
META_KEYS = {
    "id", "trx", "endpoint", "result_code", "result_subcode", "result_msg", "error_stack", "error_data",
}


def assert_full_meta(reply, name: str) -> dict:
    """The whole meta block, with HTTP status == result_code: the SDK fails on a partial one."""
    meta = reply.meta
    assert set(meta) >= META_KEYS
    assert HEX_ID.match(meta["id"]) and meta["trx"]
    assert meta["endpoint"]["name"] == name
    assert meta["endpoint"]["actual_version"]
    assert "requested_version" in meta["endpoint"]
    assert reply.status == meta["result_code"]
    assert isinstance(meta["result_subcode"], int) and isinstance(meta["result_msg"], str)
    assert isinstance(meta["error_data"], dict)
    return meta


# -- the envelope ------------------------------------------------------------------------------------------
def test_success_envelope(api):
    reply = api.send("projects.get_all", {"page_size": 1})
    meta = assert_full_meta(reply, "projects.get_all")
    assert (meta["result_code"], meta["result_subcode"], meta["result_msg"]) == (200, 0, "OK")
    assert meta["error_stack"] is None and meta["error_data"] == {}
    assert meta["endpoint"]["requested_version"] == "2.31"
    assert isinstance(reply.data["projects"], list)


def test_error_envelope_has_full_meta_and_empty_data(api):
    missing = uuid.uuid4().hex
    reply = api.send("projects.get_by_id", {"project": missing})
    meta = assert_full_meta(reply, "projects.get_by_id")
    assert (reply.status, meta["result_code"], meta["result_subcode"]) == (400, 400, 401)
    assert missing in meta["result_msg"]
    assert reply.data == {}


def test_unauthorized_error_envelope(anon):
    reply = anon.send("projects.get_all", {})
    assert_full_meta(reply, "projects.get_all")
    assert reply.code == (401, 20) and reply.status == 401 and reply.data == {}


def test_each_response_has_its_own_id(api):
    first, second = api.send("projects.get_all", {"page_size": 1}), api.send("projects.get_all", {"page_size": 1})
    assert first.meta["id"] != second.meta["id"]


# -- request forms -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_json_body_on_every_method(api, method):
    project = create_project(api, unique("envelope"))
    reply = api.send("projects.get_by_id", {"project": project}, method=method)
    assert reply.code == (200, 0) and reply.data["project"]["id"] == project


@pytest.mark.parametrize("version", ["2.1", "2.5", "2.9", "2.13", "2.14", "2.15", "2.20", "2.23", "2.31"])
def test_versioned_paths(api, version):
    reply = api.send("projects.get_all", {"page_size": 1}, version=version)
    meta = assert_full_meta(reply, "projects.get_all")
    assert reply.code == (200, 0)
    assert meta["endpoint"]["requested_version"] == version


def test_unversioned_path_means_the_max_version(api):
    reply = api.send("projects.get_all", {"page_size": 1}, version=None)
    meta = assert_full_meta(reply, "projects.get_all")
    assert reply.code == (200, 0) and meta["endpoint"]["requested_version"] == "2.31"


def test_version_above_the_max_is_served(api):
    reply = api.send("projects.get_all", {"page_size": 1}, version="2.99")
    meta = assert_full_meta(reply, "projects.get_all")
    assert reply.code == (200, 0) and meta["endpoint"]["requested_version"] == "2.99"


@pytest.mark.parametrize("version", ["2.31", None])
def test_unknown_endpoint_is_a_404_envelope(api, version):
    # (workers.get_runtime_properties was the example here until the workers stage built it.)
    reply = api.send("workers.cluster_report", {"worker": "vm:0"}, version=version)
    meta = assert_full_meta(reply, "workers.cluster_report")
    assert reply.code == (404, 0) and reply.data == {}
    assert meta["endpoint"]["actual_version"] == "2.31"


def test_unknown_path_is_a_404_envelope(api):
    reply = api.send("not-an-endpoint", {})
    assert reply.code == (404, 0) and reply.status == 404 and reply.data == {}
    assert reply.meta["endpoint"]["actual_version"]


def test_unknown_body_keys_are_ignored(api):
    project = create_project(api, unique("envelope"))
    reply = api.send("projects.get_by_id", {"project": project, "method": "get", "no_such_key": [1, 2]})
    assert reply.code == (200, 0) and reply.data["project"]["id"] == project


def test_empty_body_is_an_empty_request(api):
    reply = api.send("projects.get_all", None)
    assert reply.code == (200, 0)


@pytest.mark.parametrize("body", ["{not json", '["a", "list"]', '"text"'])
def test_body_that_is_not_a_json_object(api, body):
    reply = api.send("projects.get_all", body=body, headers={"Content-Type": "application/json"})
    assert_full_meta(reply, "projects.get_all")
    assert reply.code == (400, 12) and reply.data == {}


def test_query_string_is_merged_into_the_body(api):
    create_project(api, unique("envelope"))
    create_project(api, unique("envelope"))
    assert len(api.ok("projects.get_all?page_size=1")["projects"]) == 1
    # Numbers and booleans are converted; the body wins over the query string.
    assert len(api.send("projects.get_all?page_size=1", {"page_size": 2}).data["projects"]) == 2
    hidden = api.send("projects.get_all?search_hidden=true&page_size=1", {})
    assert hidden.code == (200, 0)


def test_login_needs_no_body_and_no_version(api_server, api):
    reply = api.send("auth.login", None, version=None, auth=(api_server.key, api_server.secret))
    meta = assert_full_meta(reply, "auth.login")
    assert reply.code == (200, 0) and reply.data["token"]
    assert meta["endpoint"]["requested_version"] == "2.31"
