"""The web app's own pages and answers: sign-in and sign-out, ``/app-config.json``, the single-page shell
for every route of the UI, and plotly.js."""
from __future__ import annotations

import gzip
import logging
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request
from jinja2 import TemplateNotFound

from trackside.webapp import envelope, session
from trackside.webapp.api_client import ApiCallError, ApiUnreachable
from trackside.webapp.name_login import NameLoginUnavailable, clean_name

log = logging.getLogger(__name__)
routes = Blueprint("views", __name__)
EXTENSION = "trackside.webapp"
DEFAULT_NEXT = "/projects"
# First path segments the UI owns (the reference app's routes); every GET under them is the shell.
SPA_SECTIONS = frozenset({"projects", "tasks", "models", "dashboard", "settings", "workers-and-queues",
                          "applications"})
SPA_PREFIXES = ("compare",)
WRONG_PASSWORD = "Wrong user name or password."
UNREACHABLE = "The Trackside API server is not reachable; try again in a moment."
COOKIE_MISSING = "Your browser did not send back the sign-in page's cookie: allow cookies and try again."
THROTTLED = "Too many failed sign-in attempts: try again in {seconds} s."


def webapp():
    return current_app.extensions[EXTENSION]


# -- sign-in -----------------------------------------------------------------------------------------------
@routes.get("/login")
def login_page() -> Response:
    return _login_form(next_path=safe_next(request.args.get("next")))


@routes.post("/login")
def login() -> Response:
    app = webapp()
    form = request.form
    next_path = safe_next(form.get("next"))
    username = form.get("username", "")
    if session.csrf_problem(request, allow_form_field=True):
        return _login_form(next_path, username, COOKIE_MISSING, status=403)
    try:
        mode = app.login_mode()
        if mode == "password":
            token = _password_token(username, form.get("password", ""))
        elif mode == "name":
            name = clean_name(username)
            if name is None:
                return _login_form(next_path, username, "Enter a name of 1 to 64 letters, digits or spaces.",
                                   status=400)
            token = app.name_login.token_for(name)
        else:
            return _login_form(next_path, status=503)
    except ApiUnreachable as exc:
        log.warning("sign-in failed: %s", exc)
        return _login_form(next_path, username, UNREACHABLE, status=503)
    except SignInThrottled as exc:
        response = _login_form(next_path, username, THROTTLED.format(seconds=exc.seconds), status=429)
        response.headers["Retry-After"] = str(exc.seconds)
        return response
    except NameLoginUnavailable as exc:
        log.error("name-only sign-in failed: %s", exc)
        return _login_form(next_path, username, "Sign-in is not available: " + str(exc), status=503)
    if token is None:
        return _login_form(next_path, username, WRONG_PASSWORD, status=401)
    response = redirect(next_path, code=303)
    session.start_session(response, app.settings, token)
    return response


class SignInThrottled(Exception):
    """The API's sign-in throttle refused the attempt (429) for ``seconds``."""

    def __init__(self, seconds: int):
        super().__init__(f"retry in {seconds} s")
        self.seconds = seconds


def _password_token(username: str, password: str) -> str | None:
    if not username or not password or ":" in username:
        return None
    # The browser's address after any it was forwarded through: the API believes the web app (by the proof it
    # signs, or as a trusted proxy) and reads the list from the right, so a forged entry on the left is never used.
    forwarded = ", ".join(a for a in (request.headers.get("X-Forwarded-For", ""), request.remote_addr or "") if a)
    try:
        return webapp().api.call("auth.login", basic=(username, password), forwarded_for=forwarded)["token"]
    except ApiCallError as exc:
        if exc.status == 401:
            return None
        if exc.status == 429:
            raise SignInThrottled(int((exc.meta.get("error_data") or {}).get("retry_after") or 1)) from None
        raise ApiUnreachable(str(exc)) from None


def _login_form(next_path: str, username: str = "", error: str | None = None, status: int = 200) -> Response:
    app = webapp()
    try:
        mode = app.login_mode()
        reason = "" if mode != "unavailable" else (
            "This server has no fixed users and the web app has no webserver credential "
            "(secure.conf credentials.webserver), so nobody can sign in. Ask the administrator.")
    except ApiUnreachable:
        mode, reason = "unavailable", UNREACHABLE
    # A fresh CSRF value for the form when the browser has none yet (the double-submit check of POST /login).
    csrf = session.csrf_cookie(request) or session.new_csrf_token()
    response = Response(render_template("login.html", mode=mode, unavailable_reason=reason, error=error,
                                        next=next_path, username=username, csrf_token=csrf), status=status)
    if session.csrf_cookie(request) != csrf:
        session.set_csrf_cookie(response, app.settings, csrf)
    response.cache_control.no_store = True
    return response


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or ``https://host``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return DEFAULT_NEXT  # browsers drop tabs and newlines: "/\t/evil.example" would become "//evil.example"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return DEFAULT_NEXT
    return value


@routes.post("/logout")
def logout() -> Response:
    app = webapp()
    problem = session.csrf_problem(request, allow_form_field=True)
    if problem:
        return envelope.error(envelope.FORBIDDEN, problem, "logout")
    token = session.session_token(request)
    if token:
        try:
            app.api.call("auth.logout", token=token)  # revoked: the token stops working in the API
        except (ApiCallError, ApiUnreachable) as exc:
            log.warning("auth.logout failed (the cookie is cleared anyway): %s", exc)
    response = redirect("/login", code=303)
    session.end_session(response, app.settings)
    return response


# -- what the UI needs to know -----------------------------------------------------------------------------
@routes.get("/app-config.json")
def app_config() -> Response:
    app = webapp()
    token = session.session_token(request)
    if token is None:
        return envelope.error(envelope.MISSING_CREDENTIALS, "not signed in", "app-config")
    try:
        user = app.api.call("users.get_current_user", token=token)["user"]
        info = app.server_info()
        fixed_users = app.login_mode() == "password"
    except ApiCallError as exc:
        response = envelope.error((exc.status, exc.code[1]), exc.meta.get("result_msg", str(exc)), "app-config")
        if exc.status == 401:
            session.end_session(response, app.settings)
        return response
    except ApiUnreachable:
        return envelope.error(envelope.UNREACHABLE, "the API server is not reachable", "app-config")
    body = {
        "user": {"id": user.get("id"), "name": user.get("name"), "role": user.get("role")},
        "api_version": info.get("api_version"),
        "server_version": info.get("version"),
        "files_hosts": list(app.settings.files_hosts),
        "files_proxy": "/files/",
        # The addresses this web app reaches the API and file server at (settings: clearml.conf snippets).
        "api_url": app.settings.api_url,
        "files_url": app.settings.files_url,
        "fixed_users": fixed_users,
    }
    response = current_app.json.response(body)
    response.cache_control.no_store = True
    return response


# -- the single-page app ----------------------------------------------------------------------------------
@routes.get("/")
@routes.get("/<path:path>")
def shell(path: str = "") -> Response:
    section = path.split("/", 1)[0]
    if path and section not in SPA_SECTIONS and not section.startswith(SPA_PREFIXES):
        return Response("404 Not Found\n", status=404, mimetype="text/plain")
    segments = path.split("/")
    if "experiments" in segments:  # the reference's older links: experiments are tasks now
        fixed = "/" + "/".join("tasks" if s == "experiments" else s for s in segments)
        return redirect(fixed + (f"?{request.query_string.decode()}" if request.query_string else ""), code=302)
    if session.session_token(request) is None:
        target = request.full_path if request.query_string else request.path
        return redirect(f"/login?next={quote(target, safe='/')}", code=302)
    try:
        html = render_template("shell.html")
    except TemplateNotFound:
        html = "<!doctype html><title>Trackside</title><main id=view>Trackside</main>"
    response = Response(html, mimetype="text/html")
    response.cache_control.no_store = True
    return response


@routes.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    path: Path = webapp().settings.plotly_js
    try:
        stat = path.stat()
    except OSError:
        return Response("404 plotly.js is not installed: run `make setup` (npm ci in services/webapp/frontend)\n",
                        status=404, mimetype="text/plain")
    body, encoding = _plotly_bytes(str(path), stat.st_mtime_ns, "gzip" in request.headers.get("Accept-Encoding", ""))
    etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}-{encoding or 'identity'}"
    response = Response(body, mimetype="text/javascript")
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 86400  # the file changes only with its pinned npm version
    return response.make_conditional(request)


def warm_plotly(path: Path) -> None:
    try:
        _plotly_bytes(str(path), path.stat().st_mtime_ns, True)
    except OSError:
        pass  # not installed: the route says so


@lru_cache(maxsize=4)
def _plotly_bytes(path: str, mtime_ns: int, gzipped: bool) -> tuple[bytes, str | None]:
    """The file, compressed once per worker: 4.6 MB becomes about 1.4 MB on the wire."""
    data = Path(path).read_bytes()
    return (gzip.compress(data, compresslevel=6, mtime=0), "gzip") if gzipped else (data, None)
