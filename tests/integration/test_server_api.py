"""server.config / endpoints / get_stats / report_stats_option / info: what a browser app needs (never a
secret), the served endpoint list, the usage report computed but never sent. Raw HTTP and the real SDK."""
from __future__ import annotations

import json
import time

import pytest

from support.names import unique
from support.sdk_api import call, run_calls
from support.suite import start_api, stop_in_background
from support.users import new_user


def test_config_for_a_logged_in_caller(api):
    conf = api.ok("server.config")
    assert conf["version"] and conf["api_version"] == "2.31" and conf["feature_set"] == "basic"
    assert conf["login"]["basic"]["enabled"] is False and conf["login"]["sso_providers"] == []
    assert conf["features"]["storage_settings"] is True and conf["features"]["webhooks"] in (True, False)
    assert conf["files_server"].startswith("http")
    assert conf["ui_actions"] == {"project": [], "task": [], "model": [], "queue": []}
    assert conf["events_store"] in ("mongo", "elastic")
    assert api.ok("server.config", path="login.basic") == {"enabled": False, "guest": {"enabled": False}}
    assert api.ok("server.config", path="version") == {"value": conf["version"]}
    api.error("server.config", (400, 16), path="secure")
    api.error("server.config", (400, 12), path=5)


def test_config_never_carries_a_secret(api, api_server):
    text = json.dumps(api.ok("server.config"))
    assert api_server.secret not in text and api_server.key not in text
    assert "token_secret" not in text and "secure" not in text


def test_config_without_credentials_has_what_the_login_page_needs(anon):
    conf = anon.ok("server.config")
    assert conf["version"] and "login" in conf and "ui_actions" not in conf and "events_store" not in conf


@pytest.fixture(scope="module")
def configured_api(mongo_server, redis_server, tmp_path_factory):
    """An API with UI actions set through the environment, as an operator would."""
    task_actions = [{"name": "Notify", "tooltip": "tell", "action": {
        "method": "POST", "url": "http://127.0.0.1:9/hook/${id}", "payload": {"id": "${id}"}, "headers": {}}}]
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-ui-actions"), redis_port=redis_server.port,
                       extra_env={"CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__TASK": json.dumps(task_actions),
                                  "CLEARML__HOSTS__FILESERVER": '"http://files.example:8081"'})
    yield server, task_actions
    stop_in_background(server.process)


def test_config_carries_configured_ui_actions(configured_api):
    from support.client import ApiClient
    server, task_actions = configured_api
    conf = ApiClient(server.url, server.key, server.secret).login().ok("server.config")
    assert conf["ui_actions"]["task"] == task_actions and conf["ui_actions"]["model"] == []
    assert conf["files_server"] == "http://files.example:8081"


def test_endpoints_lists_every_version_newest_first(api):
    served = api.ok("server.endpoints")
    assert served["models"] == {}
    info = served["endpoints"]["server.info"]
    assert [e["min_version"] for e in info] == ["2.12", "2.8", "1.0"]
    by_id = served["endpoints"]["users.get_by_id"][0]
    assert by_id["required_fields"] == ["user"] and by_id["auth"] == "token"
    assert served["endpoints"]["users.create"][0]["roles"] == ["admin", "root", "system"]
    assert "auth.login" in served["endpoints"] and "storage.set_settings" in served["endpoints"]


@pytest.mark.parametrize("version, keys", [
    ("2.1", {"version", "build", "commit"}),
    ("2.8", {"version", "build", "commit", "uid"}),
    ("2.12", {"version", "build", "commit", "uid", "api_version"}),
])
def test_info_at_each_version(anon, version, keys):
    assert set(anon.send("server.info", {}, version=version).data) == keys


def test_get_stats(api):
    worker = unique("statworker")
    task = api.ok("tasks.create", name=unique("stats"), type="training")["id"]
    api.ok("workers.register", worker=worker, queues=[])
    api.ok("workers.status_report", worker=worker, task=task, timestamp=int(time.time() * 1000), machine_stats={
        "cpu_usage": [10.0, 30.0], "memory_used": 1000, "memory_free": 3000})
    api.ok("tasks.started", task=task)
    stats = api.ok("server.get_stats", interval=60)
    server = stats["server"]
    assert stats["company_id"] and stats["time"]
    assert server["version"] and server["deployment"] and server["queues"]["count"] >= 1
    assert server["users"]["count"] >= 1 and server["resources"]["num_cores"] >= 1
    assert set(server["resources"]["cpu_usage"]) == {"min", "max", "avg"}
    assert server["experiments"]["count"] >= 1
    agent = next(a for a in stats["agents"] if a["uuid"] == worker)
    assert agent["resources"]["num_cores"] == 2
    assert agent["resources"]["cpu_usage"] == {"min": 10.0, "max": 30.0, "avg": 20.0}
    assert agent["resources"]["mem_used_gb"]["max"] == 1000
    assert agent["experiments"]["count"] >= 1 and agent["experiments"]["last_activity_time"] > 0


def test_get_stats_is_for_admins(api):
    _, as_user = new_user(api)
    as_user.error("server.get_stats", (403, 20))
    api.error("server.get_stats", (400, 12), interval="often")


def test_report_stats_option_is_never_supported(api):
    assert api.ok("server.report_stats_option") == {"supported": False}
    assert api.ok("server.report_stats_option", enabled=True) == {"supported": False}
    assert api.ok("server.report_stats_option") == {"supported": False}  # nothing was stored
    assert api.send("server.report_stats_option", {}, version="2.3").code == (404, 0)
    api.error("server.report_stats_option", (400, 12), enabled="perhaps")


@pytest.mark.parametrize("endpoint", ["server.endpoints", "server.get_stats", "server.report_stats_option"])
def test_calls_without_a_token_are_refused(anon, endpoint):
    reply = anon.send(endpoint, {})
    assert reply.code == (401, 20) and reply.data == {}


@pytest.fixture(scope="module")
def sdk_answers(api_server, tmp_path_factory):
    return run_calls(api_server, [
        call("server.config", raw=True, version="2.1"),
        call("server.info", raw=True, version="2.8"),
        call("server.report_stats_option", raw=True, version="2.4", enabled=False),
        call("server.endpoints", raw=True),
        call("server.get_stats", raw=True),
    ], tmp_path_factory.mktemp("sdk-server"))


def test_through_the_sdk(sdk_answers):
    conf, info, option, served, stats = sdk_answers
    assert conf["ok"] and "ui_actions" in conf["data"]
    assert info["data"]["uid"]
    assert option == {"ok": True, "data": {"supported": False}}
    assert "users.set_preferences" in served["data"]["endpoints"]
    assert stats["ok"] and stats["data"]["server"]["users"]["count"] >= 1

