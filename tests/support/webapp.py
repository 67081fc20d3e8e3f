"""Start the web app for tests, in front of a real API and file server (``start_webapp_stack``), and sign in
to it over HTTP the way a browser's form does (``signed_in_session``)."""
from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests

from trackside.shared.embedded.process import ServerProcess, free_port
from support.suite import ApiServer, FileServer, start_api, start_fileserver, stop_in_background, stop_together

ADMIN_USER, PLAIN_USER = "ada", "bob"


@dataclass
class WebApp:
    url: str
    env: dict
    process: ServerProcess = field(repr=False)


@dataclass
class WebAppStack:
    """A web app with its own API and file server. ``api_key``/``api_secret``: an admin access key for the
    SDK and the tests' ApiClient. The fixed users (``admin_user``, ``user_name``) exist only when the stack
    was started with them; the name-only stack has ``webserver`` credentials instead."""
    url: str
    api_url: str
    files_url: str
    api_key: str
    api_secret: str
    admin_user: str | None
    admin_password: str | None
    user_name: str | None
    user_password: str | None
    api: ApiServer = field(repr=False)
    fileserver: FileServer = field(repr=False)
    webapp: WebApp = field(repr=False)

    def stop(self) -> None:
        # All three at once: each gunicorn takes 2-3 s to wind its workers down.
        stop_together([self.webapp.process, self.fileserver.process, self.api.process])

    def stop_in_background(self) -> None:
        """For test fixtures: the three signalled, the session's end waits for them (support.suite)."""
        stop_in_background(self.webapp.process, self.fileserver.process, self.api.process)


def fixed_users_env(users: list[dict]) -> dict[str, str]:
    """Fixed users through the environment, a JSON list as a configuration file would hold it."""
    return {"CLEARML__APISERVER__AUTH__FIXED_USERS__ENABLED": "true",
            "CLEARML__APISERVER__AUTH__FIXED_USERS__USERS": json.dumps(users)}


def webserver_credential_env() -> dict[str, str]:
    """The system credential name-only sign-in needs (secure.conf credentials.webserver)."""
    key, secret = "WEBSERVER" + secrets.token_hex(6).upper(), secrets.token_urlsafe(24)
    prefix = "CLEARML__SECURE__CREDENTIALS__WEBSERVER__"
    return {prefix + "ROLE": '"system"', prefix + "USER_KEY": json.dumps(key),
            prefix + "USER_SECRET": json.dumps(secret)}


def start_webapp(api_url: str, files_url: str, config_dir: Path, work_dir: Path,
                 extra_env: dict | None = None) -> WebApp:
    port = free_port()
    env = {
        **os.environ,
        "CLEARML_CONFIG_DIR": str(config_dir),
        "CLEARML__WEBAPP__LISTEN__PORT": str(port),
        # Quoted: a bare // would start a HOCON comment.
        "CLEARML__WEBAPP__API_URL": json.dumps(api_url),
        "CLEARML__WEBAPP__FILES_URL": json.dumps(files_url),
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        "webapp", [sys.executable, "-m", "trackside.webapp", "--workers", "2", "--threads", "8"],
        ready=lambda: _live(url), port=port, log_path=work_dir / "webapp.log", env=env,
    ).start(timeout=60)
    return WebApp(url, env, process)


def start_webapp_stack(mongo_port: int, redis_port: int, work_dir: Path, fixed_users: bool = True,
                       extra_api_env: dict | None = None) -> WebAppStack:
    """API (fixed users: an admin and a plain user; or name-only with the webserver credential), file
    server and web app, all real processes. Stops what it started when a later one fails to start.
    ``extra_api_env``: more of the API's configuration (e.g. ``CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__TASK``)."""
    if fixed_users:
        admin_password, user_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        api_env = fixed_users_env([
            {"username": ADMIN_USER, "password": admin_password, "role": "admin", "name": "Ada Admin"},
            {"username": PLAIN_USER, "password": user_password, "role": "user", "name": "Bob User"},
        ])
    else:
        admin_password = user_password = None
        api_env = webserver_credential_env()
    api = start_api(mongo_port, work_dir / "api", extra_env={**api_env, **(extra_api_env or {})},
                    redis_port=redis_port)
    started = [api.process]
    try:
        (work_dir / "fileserver").mkdir(parents=True, exist_ok=True)
        files = start_fileserver(api.config_dir, work_dir / "fileserver")
        started.append(files.process)
        web_env = {k: v for k, v in api_env.items() if k.startswith("CLEARML__SECURE__")}
        webapp = start_webapp(api.url, files.url, api.config_dir, work_dir, extra_env=web_env)
    except BaseException:
        for process in reversed(started):
            process.stop()
        raise
    return WebAppStack(
        url=webapp.url, api_url=api.url, files_url=files.url, api_key=api.key, api_secret=api.secret,
        admin_user=ADMIN_USER if fixed_users else None, admin_password=admin_password,
        user_name=PLAIN_USER if fixed_users else None, user_password=user_password,
        api=api, fileserver=files, webapp=webapp,
    )


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def login_form(http: requests.Session, url: str, next_path: str | None = None) -> str:
    """GET /login as a browser does; the form's CSRF value."""
    resp = http.get(f"{url}/login", params={"next": next_path} if next_path else None, timeout=30)
    resp.raise_for_status()
    match = CSRF_FIELD.search(resp.text)
    assert match, resp.text
    return match.group(1)


def sign_in(http: requests.Session, url: str, username: str, password: str | None = None,
            next_path: str | None = None) -> requests.Response:
    """POST the sign-in form (not following the redirect)."""
    csrf = login_form(http, url, next_path)
    form = {"csrf_token": csrf, "username": username, **({"password": password} if password is not None else {}),
            **({"next": next_path} if next_path else {})}
    return http.post(f"{url}/login", data=form, allow_redirects=False, timeout=30)


def signed_in_session(url: str, username: str, password: str | None = None) -> requests.Session:
    """A requests session holding the web app's cookies, with the CSRF header set for the proxy."""
    http = requests.Session()
    http.trust_env = False
    resp = sign_in(http, url, username, password)
    assert resp.status_code == 303, resp.text
    http.headers["X-CSRF-Token"] = http.cookies["trackside_csrf"]
    return http


def _live(url: str) -> bool:
    try:
        return requests.get(f"{url}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False
