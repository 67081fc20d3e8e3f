"""The web app's pure parts: where sign-in may send the browser, names for name-only sign-in, the CSRF
check, endpoint names the proxy forwards, settings."""
from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask
from pyhocon import ConfigFactory

from trackside.shared.config import ConfigError
from trackside.webapp import session
from trackside.webapp.name_login import clean_name, user_id_for
from trackside.webapp.proxy import ENDPOINT_PATH
from trackside.webapp.settings import read_settings
from trackside.webapp.views import DEFAULT_NEXT, safe_next


@pytest.mark.parametrize("value", [
    "/projects", "/projects/p/tasks/t/output/log", "/projects/*/tasks?q=a&b=c", "/projects/p/compare-tasks;ids=a,b",
])
def test_safe_next_keeps_local_paths(value):
    assert safe_next(value) == value


@pytest.mark.parametrize("value", [
    None, "", "projects", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
    "https://evil.example/projects", "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example",
    "/\x7f", "/login", "/logout", " /projects",
])
def test_safe_next_refuses_anything_else(value):
    assert safe_next(value) == DEFAULT_NEXT


@pytest.mark.parametrize("raw, clean", [
    ("Grace Hopper", "Grace Hopper"), ("  Grace \t Hopper ", "Grace Hopper"), ("Zoë", "Zoë"), ("x" * 64, "x" * 64),
    ("", None), ("   ", None), ("x" * 65, None), ("a\x00b", None), ("a\u200bb", None),
])
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_user_ids_are_stable_per_company_and_name():
    assert user_id_for("c1", "Grace") == user_id_for("c1", "Grace")
    assert len({user_id_for("c1", "Grace"), user_id_for("c2", "Grace"), user_id_for("c1", "grace")}) == 3
    assert len(user_id_for("c1", "Grace")) == 32


def _request(headers=None, cookies=None, form=None):
    app = Flask("t")
    builder_cookies = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    return app.test_request_context("/", method="POST", data=form,
                                    headers={**(headers or {}), **({"Cookie": builder_cookies} if cookies else {})})


@pytest.mark.parametrize("headers, cookies, form, problem", [
    ({"X-CSRF-Token": "abc"}, {"trackside_csrf": "abc"}, None, None),
    ({}, {"trackside_csrf": "abc"}, {"csrf_token": "abc"}, "form-only"),
    ({}, {"trackside_csrf": "abc"}, None, "missing CSRF token"),
    ({"X-CSRF-Token": "abd"}, {"trackside_csrf": "abc"}, None, "mismatch"),
    ({"X-CSRF-Token": "abc"}, {}, None, "missing CSRF cookie"),
])
def test_csrf_problem(headers, cookies, form, problem):
    with _request(headers, cookies, form) as ctx:
        found = session.csrf_problem(ctx.request)
        with_form = session.csrf_problem(ctx.request, allow_form_field=True)
    if problem is None:
        assert found is None and with_form is None
    elif problem == "form-only":
        assert "missing CSRF token" in found and with_form is None  # the proxy wants the header
    else:
        assert problem in found and problem in with_form


@pytest.mark.parametrize("path, ok", [
    ("tasks.get_all_ex", True), ("v2.31/tasks.get_all_ex", True), ("events.scalar_metrics_iter_raw", True),
    ("tasks", False), ("../tasks.get_all", False), ("tasks.get_all/x", False), ("v2/tasks.get_all", False),
    ("Tasks.get_all", False), ("tasks.get-all", False), ("", False),
])
def test_endpoint_names(path, ok):
    assert bool(ENDPOINT_PATH.fullmatch(path)) is ok


def test_settings_defaults_and_files_hosts():
    config = ConfigFactory.parse_string('hosts { fileserver: "http://files.example:8081/" } '
                                        'webapp { files_hosts: ["http://10.0.0.5:8081"] }')
    settings = read_settings(config)
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.api_url == "http://127.0.0.1:8008"
    assert settings.files_url == "http://files.example:8081"
    assert settings.files_hosts == ("http://files.example:8081", "http://10.0.0.5:8081")
    assert settings.name_login_key is None and settings.cookie_secure is False


def test_settings_webserver_credential_needs_both_parts():
    half = ConfigFactory.parse_string('secure.credentials.webserver { user_key: "K", user_secret: "" }')
    assert read_settings(half).name_login_key is None
    whole = ConfigFactory.parse_string('secure.credentials.webserver { user_key: "K", user_secret: "S" }')
    assert (read_settings(whole).name_login_key, read_settings(whole).name_login_secret) == ("K", "S")


@pytest.mark.parametrize("text", ['webapp.api_url: "ftp://x"', 'webapp.files_url: "not a url"',
                                  'webapp.listen.port: "eighty"'])
def test_bad_settings_are_config_errors(text):
    with pytest.raises(ConfigError, match="webapp"):
        read_settings(ConfigFactory.parse_string(text))


def test_server_stops_on_a_bad_setting_with_one_line(tmp_path):
    env = {"CLEARML_CONFIG_DIR": str(tmp_path), "CLEARML__WEBAPP__API_URL": '"ftp://x"', "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "trackside.webapp"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip() == "trackside-webapp: configuration error: webapp.api_url: expected an http(s) URL, got 'ftp://x'"
