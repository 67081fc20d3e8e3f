"""The web app over HTTP against a real API and file server (no browser): sign-in in both modes, the
session and CSRF cookies, the API and file proxies, sign-out, the single-page shell's routes, health."""
from __future__ import annotations

import gzip
import os
import re

import pytest
import requests

from support.client import ApiClient
from support.files import FilesClient
from support.webapp import login_form, sign_in, signed_in_session, start_webapp, start_webapp_stack

SPA_PATHS = [
    "/", "/projects", "/projects/abc/projects", "/projects/*/tasks",
    "/projects/p1/tasks/t1/output/log", "/projects/p1/tasks/t1/info-output/metrics/scalar",
    "/projects/p1/tasks/t1/artifacts/output-model/m1", "/projects/p1/models/m1/general",
    "/projects/p1/compare-tasks;ids=a,b/scalars/graph", "/dashboard", "/settings", "/workers-and-queues",
    "/tasks", "/models",
]


def _set_cookies(resp: requests.Response) -> dict[str, str]:
    """Each Set-Cookie header of the answer by cookie name (the raw header, attributes included)."""
    return {h.split("=", 1)[0]: h for h in resp.raw.headers.getlist("Set-Cookie")}


def _session(http: requests.Session) -> str:
    return http.cookies["trackside_session"]


@pytest.fixture(scope="module")
def admin(webapp_stack) -> requests.Session:
    return signed_in_session(webapp_stack.url, webapp_stack.admin_user, webapp_stack.admin_password)


@pytest.fixture(scope="module")
def api_admin(webapp_stack) -> ApiClient:
    return ApiClient(webapp_stack.api_url, webapp_stack.api_key, webapp_stack.api_secret).login()


def _anon() -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    return http


# -- sign-in with fixed users -------------------------------------------------------------------------------
def test_login_page_is_the_password_form_with_labels(webapp_stack):
    http = _anon()
    resp = http.get(f"{webapp_stack.url}/login")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert '<label for="username">User name</label>' in resp.text
    assert '<label for="password">Password</label>' in resp.text
    # The form's CSRF value is also the (script-readable) cookie: the double submit of POST /login.
    csrf = _set_cookies(resp)["trackside_csrf"]
    assert "HttpOnly" not in csrf and "SameSite=Lax" in csrf
    assert re.search(r'name="csrf_token" value="([^"]+)"', resp.text).group(1) == http.cookies["trackside_csrf"]


def test_admin_and_plain_user_sign_in_with_their_roles(webapp_stack):
    for user, password, role, name in ((webapp_stack.admin_user, webapp_stack.admin_password, "admin", "Ada Admin"),
                                       (webapp_stack.user_name, webapp_stack.user_password, "user", "Bob User")):
        http = signed_in_session(webapp_stack.url, user, password)
        config = http.get(f"{webapp_stack.url}/app-config.json").json()
        assert config["user"]["role"] == role and config["user"]["name"] == name


def test_session_cookie_flags(webapp_stack):
    http = _anon()
    resp = sign_in(http, webapp_stack.url, webapp_stack.admin_user, webapp_stack.admin_password)
    assert resp.status_code == 303 and resp.headers["Location"] == "/projects"
    cookies = _set_cookies(resp)
    session, csrf = cookies["trackside_session"], cookies["trackside_csrf"]
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in session, session
    assert "Secure" not in session  # webapp.cookies.secure is off by default (plain HTTP on 127.0.0.1)
    assert "HttpOnly" not in csrf and "SameSite=Lax" in csrf
    token = re.search(r"trackside_session=([^;]+)", session).group(1)
    assert ApiClient(webapp_stack.api_url).send("users.get_current_user", auth=None,
                                                headers={"Authorization": f"Bearer {token}"}).status == 200


def test_csrf_value_changes_at_sign_in(webapp_stack):
    http = _anon()
    before = login_form(http, webapp_stack.url)
    resp = http.post(f"{webapp_stack.url}/login", allow_redirects=False, data={
        "csrf_token": before, "username": webapp_stack.admin_user, "password": webapp_stack.admin_password})
    assert resp.status_code == 303
    assert http.cookies["trackside_csrf"] != before


def test_wrong_password_is_a_clear_error_and_no_session(webapp_stack):
    http = _anon()
    resp = sign_in(http, webapp_stack.url, webapp_stack.admin_user, "not-the-password")
    assert resp.status_code == 401
    assert '<p class="login-error" role="alert" id="login-error">Wrong user name or password.</p>' in resp.text
    assert f'value="{webapp_stack.admin_user}"' in resp.text  # the name stays filled in
    assert "trackside_session" not in _set_cookies(resp)
    for user, password in (("nobody", "x"), (webapp_stack.admin_user, ""), ("", "x")):
        resp = sign_in(http, webapp_stack.url, user, password)
        assert resp.status_code == 401 and "Wrong user name or password." in resp.text
        assert "trackside_session" not in _set_cookies(resp)


def test_sign_in_without_the_forms_csrf_value_is_refused(webapp_stack):
    http = _anon()
    resp = http.post(f"{webapp_stack.url}/login", allow_redirects=False, data={
        "username": webapp_stack.admin_user, "password": webapp_stack.admin_password})
    assert resp.status_code == 403 and "cookie" in resp.text
    assert "trackside_session" not in _set_cookies(resp)
    http.get(f"{webapp_stack.url}/login")  # the cookie, but a forged form without the value
    resp = http.post(f"{webapp_stack.url}/login", allow_redirects=False, data={
        "csrf_token": "forged", "username": webapp_stack.admin_user, "password": webapp_stack.admin_password})
    assert resp.status_code == 403 and "trackside_session" not in _set_cookies(resp)


@pytest.mark.parametrize("next_path, expected", [
    ("/projects/p1/tasks/t1/output/log", "/projects/p1/tasks/t1/output/log"),
    ("/projects/*/tasks?order=-last_update", "/projects/*/tasks?order=-last_update"),
    ("//evil.example/x", "/projects"),
    ("https://evil.example/", "/projects"),
    ("/\\evil.example", "/projects"),
    ("/\t/evil.example", "/projects"),
    ("javascript:alert(1)", "/projects"),
    ("projects", "/projects"),
    ("/login", "/projects"),
    ("", "/projects"),
])
def test_next_accepts_local_paths_only(webapp_stack, next_path, expected):
    http = _anon()
    page = http.get(f"{webapp_stack.url}/login", params={"next": next_path})
    assert re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&") == expected
    resp = sign_in(http, webapp_stack.url, webapp_stack.admin_user, webapp_stack.admin_password, next_path)
    assert resp.status_code == 303 and resp.headers["Location"] == expected


# -- the API proxy ------------------------------------------------------------------------------------------
def test_proxy_without_a_session_is_401(webapp_stack):
    resp = _anon().post(f"{webapp_stack.url}/api/projects.get_all", json={}, headers={"X-CSRF-Token": "x"})
    assert resp.status_code == 401
    meta = resp.json()["meta"]
    assert (meta["result_code"], meta["result_subcode"]) == (401, 20) and resp.json()["data"] == {}


def test_proxy_needs_the_csrf_header(webapp_stack, admin):
    url = f"{webapp_stack.url}/api/users.get_current_user"
    missing = requests.post(url, json={}, cookies=admin.cookies)
    assert missing.status_code == 403
    assert "missing CSRF token" in missing.json()["meta"]["result_msg"]
    wrong = requests.post(url, json={}, cookies=admin.cookies, headers={"X-CSRF-Token": "guessed"})
    assert wrong.status_code == 403 and "mismatch" in wrong.json()["meta"]["result_msg"]
    no_cookie = requests.post(url, json={}, cookies={"trackside_session": _session(admin)},
                              headers={"X-CSRF-Token": admin.cookies["trackside_csrf"]})
    assert no_cookie.status_code == 403 and "missing CSRF cookie" in no_cookie.json()["meta"]["result_msg"]
    right = admin.post(url, json={})
    assert right.status_code == 200 and right.json()["data"]["user"]["name"] == "Ada Admin"


@pytest.mark.parametrize("endpoint, body", [
    ("tasks.get_by_id", {"task": "no-such-task"}),            # 400/101
    ("tasks.get_by_id", {}),                                   # validation error
    ("tasks.no_such_action", {}),                              # unknown endpoint
    ("projects.update", {"project": "no-such-project", "name": "y"}),
    ("server.info", {}),
    ("v2.13/server.info", {}),                                 # a version in the path, as the API takes it
    ("v9.99/server.info", {}),
])
def test_proxy_passes_the_api_answer_through_unchanged(webapp_stack, admin, api_admin, endpoint, body):
    proxied = admin.post(f"{webapp_stack.url}/api/{endpoint}", json=body)
    direct = requests.post(f"{webapp_stack.api_url}/{endpoint}", json=body,
                           headers={"Authorization": f"Bearer {api_admin.token}"})
    assert proxied.status_code == direct.status_code
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
    strip = lambda envelope: {**envelope, "meta": {k: v for k, v in envelope["meta"].items() if k not in ("id", "trx")}}
    assert strip(proxied.json()) == strip(direct.json())
    assert proxied.headers["Cache-Control"] == "no-store"


def test_proxy_sends_the_body_as_it_is(webapp_stack, admin):
    not_json = admin.post(f"{webapp_stack.url}/api/projects.get_all", data=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["meta"]["result_code"] == 400


def test_proxy_refuses_what_is_not_an_endpoint_name(webapp_stack, admin):
    for path in ("..%2Fdebug.ping", "tasks", "Tasks.GET_ALL", "v2/tasks.get_all", "tasks.get_all/extra"):
        resp = admin.post(f"{webapp_stack.url}/api/{path}", json={})
        assert resp.status_code in (400, 404), path
        if resp.status_code == 400:
            assert resp.json()["meta"]["result_code"] == 400
    assert admin.get(f"{webapp_stack.url}/api/server.info").status_code == 404  # POST only


def test_proxy_never_hands_a_token_to_scripts(webapp_stack, admin):
    for endpoint in ("auth.login", "auth.get_token_for_user"):
        resp = admin.post(f"{webapp_stack.url}/api/{endpoint}", json={"user": "x"})
        assert resp.status_code == 403 and "token" not in resp.json()["data"]


def test_proxy_drops_the_apis_cookies(webapp_stack):
    http = signed_in_session(webapp_stack.url, webapp_stack.user_name, webapp_stack.user_password)
    resp = http.post(f"{webapp_stack.url}/api/login.logout", json={})  # the API clears its own web cookie
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers


def test_a_rejected_token_ends_the_session(webapp_stack):
    http = _anon()
    http.cookies.set("trackside_session", "not-a-token")
    http.cookies.set("trackside_csrf", "c")
    resp = http.post(f"{webapp_stack.url}/api/projects.get_all", json={}, headers={"X-CSRF-Token": "c"})
    assert resp.status_code == 401 and resp.json()["meta"]["result_code"] == 401
    assert "Max-Age=0" in _set_cookies(resp)["trackside_session"]
    config = http.get(f"{webapp_stack.url}/app-config.json")
    assert config.status_code == 401


# -- sign-out ---------------------------------------------------------------------------------------------
def test_logout_revokes_the_token_and_clears_the_cookies(webapp_stack):
    http = signed_in_session(webapp_stack.url, webapp_stack.admin_user, webapp_stack.admin_password)
    token, csrf = _session(http), http.cookies["trackside_csrf"]
    refused = http.post(f"{webapp_stack.url}/logout", headers={"X-CSRF-Token": "wrong"}, allow_redirects=False)
    assert refused.status_code == 403
    assert http.post(f"{webapp_stack.url}/api/users.get_current_user", json={}).status_code == 200

    resp = http.post(f"{webapp_stack.url}/logout", data={"csrf_token": csrf}, headers={"X-CSRF-Token": None},
                     allow_redirects=False)  # the sign-out button is a plain form
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    cleared = _set_cookies(resp)
    assert "Max-Age=0" in cleared["trackside_session"] and "Max-Age=0" in cleared["trackside_csrf"]
    assert "trackside_session" not in http.cookies

    replay = requests.post(f"{webapp_stack.url}/api/users.get_current_user", json={},
                           cookies={"trackside_session": token, "trackside_csrf": csrf},
                           headers={"X-CSRF-Token": csrf})
    assert replay.status_code == 401 and replay.json()["meta"]["result_msg"] == "revoked token"


def test_logout_without_a_session_goes_to_the_login_page(webapp_stack):
    http = _anon()
    csrf = login_form(http, webapp_stack.url)
    resp = http.post(f"{webapp_stack.url}/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"


# -- the file proxy ---------------------------------------------------------------------------------------
def test_files_are_streamed_with_the_users_token(webapp_stack, admin, api_admin):
    data = os.urandom(3 * 1024 * 1024 + 17)
    files = FilesClient(webapp_stack.files_url, api_admin.token)
    assert files.upload("webapp-tests/t1/artifacts/blob.bin", data).status_code == 200
    assert files.upload("webapp-tests/t1/debug/page.html", b"<script>alert(1)</script>").status_code == 200

    resp = admin.get(f"{webapp_stack.url}/files/webapp-tests/t1/artifacts/blob.bin", stream=True)
    assert resp.status_code == 200 and int(resp.headers["Content-Length"]) == len(data)
    assert b"".join(resp.iter_content(65536)) == data
    # Served sandboxed: a stored HTML file's scripts run without this site's origin.
    assert resp.headers["Content-Security-Policy"].startswith("sandbox")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"

    ranged = admin.get(f"{webapp_stack.url}/files/webapp-tests/t1/artifacts/blob.bin",
                       headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(data)}"

    html = admin.get(f"{webapp_stack.url}/files/webapp-tests/t1/debug/page.html")
    assert html.status_code == 200 and "text/html" in html.headers["Content-Type"]
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert "allow-same-origin" not in html.headers["Content-Security-Policy"]

    assert admin.get(f"{webapp_stack.url}/files/webapp-tests/t1/missing.bin").status_code == 404
    assert _anon().get(f"{webapp_stack.url}/files/webapp-tests/t1/artifacts/blob.bin").status_code == 401


# -- the shell and what it loads ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SPA_PATHS)
def test_spa_routes_return_the_shell_with_a_session(webapp_stack, admin, path):
    resp = admin.get(f"{webapp_stack.url}{path}", allow_redirects=False)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert 'id="view"' in resp.text and "js/main.js" in resp.text


@pytest.mark.parametrize("path", ["/projects/p1/tasks/t1/output/log", "/projects/*/tasks?a=1&b=2", "/"])
def test_spa_routes_redirect_to_login_without_a_session(webapp_stack, path):
    resp = _anon().get(f"{webapp_stack.url}{path}", allow_redirects=False)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith("/login?next=")
    assert requests.utils.unquote(location.split("next=", 1)[1]) == path


def test_reference_experiment_links_redirect_to_tasks(webapp_stack, admin):
    resp = admin.get(f"{webapp_stack.url}/projects/p1/experiments/t1/output/log?x=1", allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"] == "/projects/p1/tasks/t1/output/log?x=1"


def test_unknown_paths_are_404(webapp_stack, admin):
    for path in ("/nothing-here", "/api", "/files", "/wp-admin/setup.php"):
        assert admin.get(f"{webapp_stack.url}{path}", allow_redirects=False).status_code == 404, path


def test_static_and_plotly(webapp_stack):
    http = _anon()
    assert http.get(f"{webapp_stack.url}/static/js/main.js").status_code == 200
    plain = http.get(f"{webapp_stack.url}/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.headers["Content-Type"].startswith("text/javascript")
    assert b"plotly.js v2.35.2" in plain.content[:2000]
    zipped = http.get(f"{webapp_stack.url}/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = zipped.raw.read(decode_content=False)
    assert zipped.headers["Content-Encoding"] == "gzip" and len(raw) < len(plain.content) / 2
    assert gzip.decompress(raw) == plain.content
    again = http.get(f"{webapp_stack.url}/vendor/plotly.min.js",
                     headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304


def test_app_config(webapp_stack, admin):
    assert _anon().get(f"{webapp_stack.url}/app-config.json").status_code == 401
    config = admin.get(f"{webapp_stack.url}/app-config.json").json()
    assert config["user"]["name"] == "Ada Admin" and config["user"]["role"] == "admin" and config["user"]["id"]
    assert re.fullmatch(r"2\.\d+", config["api_version"])
    assert webapp_stack.files_url in config["files_hosts"]
    assert config["files_proxy"] == "/files/" and config["fixed_users"] is True


def test_health(webapp_stack):
    assert requests.get(f"{webapp_stack.url}/health/live").json() == {"status": "ok"}
    ready = requests.get(f"{webapp_stack.url}/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"api": True, "fileserver": True}}


def test_pages_carry_the_security_headers(webapp_stack, admin):
    for path in ("/login", "/projects", "/app-config.json"):
        resp = admin.get(f"{webapp_stack.url}{path}")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert resp.headers["Referrer-Policy"] == "same-origin"


# -- name-only sign-in (an API without fixed users) -------------------------------------------------------
@pytest.fixture(scope="module")
def name_only_stack(mongo_server, redis_server, tmp_path_factory):
    stack = start_webapp_stack(mongo_server.port, redis_server.port, tmp_path_factory.mktemp("webapp-names"),
                               fixed_users=False)
    yield stack
    stack.stop_in_background()


def test_name_only_sign_in(name_only_stack):
    url = name_only_stack.url
    page = _anon().get(f"{url}/login")
    assert '<label for="username">Your name</label>' in page.text and 'type="password"' not in page.text

    first = signed_in_session(url, "Grace Hopper")
    config = first.get(f"{url}/app-config.json").json()
    assert config["user"]["name"] == "Grace Hopper" and config["user"]["role"] == "user"
    assert config["fixed_users"] is False
    again = signed_in_session(url, "  Grace   Hopper ").get(f"{url}/app-config.json").json()
    assert again["user"]["id"] == config["user"]["id"]  # the same name is the same user
    other = signed_in_session(url, "Alan Turing").get(f"{url}/app-config.json").json()
    assert other["user"]["id"] != config["user"]["id"]
    created = first.post(f"{url}/api/projects.create", json={"name": "name-only-project", "description": ""})
    assert created.status_code == 200, created.text


def test_name_only_never_reaches_configured_users(name_only_stack):
    """The admin key's display name is "Test User": signing in with it gives a new plain user, not the admin."""
    config = signed_in_session(name_only_stack.url, "Test User").get(f"{name_only_stack.url}/app-config.json").json()
    assert config["user"]["role"] == "user"
    admin = ApiClient(name_only_stack.api_url, name_only_stack.api_key, name_only_stack.api_secret).login()
    assert config["user"]["id"] != admin.ok("users.get_current_user")["user"]["id"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "bad\x00name"])
def test_name_only_refuses_names_that_cannot_be_user_names(name_only_stack, name):
    resp = sign_in(_anon(), name_only_stack.url, name)
    assert resp.status_code == 400 and 'role="alert"' in resp.text
    assert "trackside_session" not in _set_cookies(resp)


def test_name_only_mode_ignores_a_password_field(name_only_stack):
    resp = sign_in(_anon(), name_only_stack.url, "Ada Lovelace", password="anything")
    assert resp.status_code == 303


def test_without_fixed_users_or_webserver_credential_nobody_can_sign_in(name_only_stack, tmp_path):
    """A web app without the webserver credential in front of an API without fixed users says why."""
    web = start_webapp(name_only_stack.api_url, name_only_stack.files_url, name_only_stack.api.config_dir, tmp_path)
    try:
        page = _anon().get(f"{web.url}/login")
        assert page.status_code == 200 and "credentials.webserver" in page.text and "<form" not in page.text
        http = _anon()
        csrf = http.get(f"{web.url}/login").cookies["trackside_csrf"]
        resp = http.post(f"{web.url}/login", data={"csrf_token": csrf, "username": "Eve"}, allow_redirects=False)
        assert resp.status_code == 503 and "trackside_session" not in _set_cookies(resp)
    finally:
        web.process.stop()
