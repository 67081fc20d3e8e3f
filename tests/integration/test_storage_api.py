"""storage.get_settings / set_settings / reset_settings: per-company cloud credentials, configuration defaults,
section replacement and reset, bad input with nothing written, secrets kept out of the log. Raw HTTP and the
real SDK.

The settings are one document per company and the suite shares one company, so each test starts from a
reset and the module runs its SDK calls last."""
from __future__ import annotations

import json

import pytest

from support.sdk_api import call, run_calls
from support.suite import start_api, stop_in_background

SECRET = "very-secret-value-0123456789"
AWS = {"key": "AKIA1", "secret": SECRET, "region": "eu-west-1",
       "buckets": [{"bucket": "b1", "host": "minio:9000", "key": "k", "secret": SECRET, "secure": False}]}


@pytest.fixture
def clean(api):
    api.ok("storage.reset_settings", keys=["aws", "google", "azure"])
    return api


def test_defaults_before_anything_is_set(clean):
    settings = clean.ok("storage.get_settings")["settings"]
    assert settings["aws"] == {"key": "", "secret": "", "token": "", "region": "", "use_credentials_chain": False,
                               "buckets": []}
    assert settings["google"] == {"project": None, "credentials_json": None, "buckets": []}
    assert settings["azure"] == {"containers": []}


def test_set_replaces_a_section_and_keeps_the_others(clean):
    assert clean.ok("storage.set_settings", aws=AWS) == {"updated": 1}
    clean.ok("storage.set_settings", azure={"containers": [{"account_name": "acc", "account_key": SECRET}]})
    settings = clean.ok("storage.get_settings")["settings"]
    aws = settings["aws"]
    assert (aws["key"], aws["secret"], aws["region"], aws["use_credentials_chain"]) == ("AKIA1", SECRET, "eu-west-1",
                                                                                        False)
    assert aws["buckets"] == [{"bucket": "b1", "subdir": "", "host": "minio:9000", "key": "k", "secret": SECRET,
                               "token": "", "multipart": True, "acl": "", "secure": False, "region": "",
                               "verify": True, "use_credentials_chain": False}]
    assert settings["azure"]["containers"] == [{"account_name": "acc", "account_key": SECRET, "container_name": None}]
    assert settings["last_update"]
    clean.ok("storage.set_settings", aws={"use_credentials_chain": True})
    aws = clean.ok("storage.get_settings")["settings"]["aws"]
    assert aws["use_credentials_chain"] is True and aws["key"] is None and aws["buckets"] == []


def test_google_credentials_must_be_json(clean):
    reply = clean.error("storage.set_settings", (400, 12), google={"project": "p", "credentials_json": SECRET})
    assert SECRET not in json.dumps(reply.body)
    good = json.dumps({"type": "service_account"})
    clean.ok("storage.set_settings", google={"project": "p", "credentials_json": good,
                                             "buckets": [{"bucket": "g", "subdir": "d"}]})
    google = clean.ok("storage.get_settings")["settings"]["google"]
    assert google == {"project": "p", "credentials_json": good,
                      "buckets": [{"bucket": "g", "subdir": "d", "project": None, "credentials_json": None}]}


def test_reset_removes_sections(clean):
    clean.ok("storage.set_settings", aws=AWS, azure={"containers": [{"account_name": "a"}]})
    assert clean.ok("storage.reset_settings", keys=["aws"]) == {"updated": 1}
    settings = clean.ok("storage.get_settings")["settings"]
    assert settings["aws"]["key"] == "" and settings["azure"]["containers"][0]["account_name"] == "a"
    assert clean.ok("storage.reset_settings") == {"updated": 1}  # no keys: touches last_update only
    clean.error("storage.reset_settings", (400, 12), keys=["dropbox"])


@pytest.mark.parametrize("body, code", [
    ({}, (400, 12)),
    ({"aws": "text"}, (400, 12)),
    ({"aws": {"buckets": [{"multipart": "sometimes"}]}}, (400, 12)),
    ({"azure": {"containers": "c"}}, (400, 12)),
])
def test_bad_settings_write_nothing(clean, body, code):
    clean.ok("storage.set_settings", azure={"containers": [{"account_name": "kept"}]})
    clean.error("storage.set_settings", code, **body)
    settings = clean.ok("storage.get_settings")["settings"]
    assert settings["azure"]["containers"][0]["account_name"] == "kept" and settings["aws"]["key"] == ""


def test_versions(clean):
    assert clean.send("storage.get_settings", {}, version="2.21").code == (404, 0)
    assert clean.send("storage.get_settings", {}, version="2.22").code == (200, 0)
    assert clean.send("storage.set_settings", {"aws": AWS}, version="2.30").code == (404, 0)
    assert clean.send("storage.reset_settings", {}, version="2.30").code == (404, 0)


def test_secrets_never_reach_the_log(clean, api_server):
    clean.ok("storage.set_settings", aws=AWS)
    clean.error("storage.set_settings", (400, 12), aws={**AWS, "buckets": [{"secret": SECRET, "verify": "x"}]})
    clean.ok("storage.get_settings")
    log = api_server.process.log_path.read_text() if api_server.process.log_path else ""
    assert SECRET not in log


@pytest.fixture(scope="module")
def configured_api(mongo_server, redis_server, tmp_path_factory):
    """An API whose configuration carries default S3 credentials, as the reference's storage_credentials.conf."""
    s3 = {"key": "CONFKEY", "secret": "CONFSECRET", "region": "r1",
          "credentials": [{"host": "localhost:9000", "key": "minioadmin", "secret": "minioadmin", "multipart": False}]}
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-storage"), redis_port=redis_server.port,
                       extra_env={"CLEARML__SERVICES__STORAGE_CREDENTIALS__AWS__S3": json.dumps(s3)})
    yield server
    stop_in_background(server.process)


def test_configuration_defaults(configured_api):
    from support.client import ApiClient
    api = ApiClient(configured_api.url, configured_api.key, configured_api.secret).login()
    api.ok("storage.reset_settings", keys=["aws"])
    aws = api.ok("storage.get_settings")["settings"]["aws"]
    assert (aws["key"], aws["secret"], aws["region"]) == ("CONFKEY", "CONFSECRET", "r1")
    assert aws["buckets"][0]["host"] == "localhost:9000" and aws["buckets"][0]["multipart"] is False


@pytest.mark.parametrize("endpoint", ["storage.get_settings", "storage.set_settings", "storage.reset_settings"])
def test_calls_without_a_token_are_refused(anon, endpoint):
    reply = anon.send(endpoint, {})
    assert reply.code == (401, 20) and reply.data == {}


def test_through_the_sdk(api_server, tmp_path):
    answers = run_calls(api_server, [
        call("storage.reset_settings", raw=True, keys=["aws", "google", "azure"]),
        call("storage.set_settings", raw=True, aws={"key": "sdk", "secret": SECRET}),
        call("storage.get_settings", raw=True, version="2.22"),
        call("storage.set_settings", raw=True),
        call("storage.set_settings", raw=True, version="2.30", aws={"key": "x"}),
    ], tmp_path / "home")
    reset, stored, read, empty, old = answers
    assert reset["ok"] and stored == {"ok": True, "data": {"updated": 1}}
    assert read["data"]["settings"]["aws"]["key"] == "sdk"
    assert empty["code"] == [400, 12] and old["code"] == [404, 0]
