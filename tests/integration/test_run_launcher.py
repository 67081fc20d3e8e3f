"""`make run` (trackside-run): starts the embedded suite (API, file server, web app), prints working
credentials (the SDK's key and the web app's admin), keeps them across restarts, and stops every child on
SIGTERM."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from support.client import ApiClient
from support.clients import client_env, run_client_script
from support.files import FilesClient
from support.webapp import signed_in_session
from trackside.shared.embedded.process import free_port

pytestmark = pytest.mark.slow
LAUNCHER = str(Path(sys.executable).with_name("trackside-run"))


def _start(home: Path, port: int, files_port: int, web_port: int) -> tuple[subprocess.Popen, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARML")}
    env["CLEARML__APISERVER__LISTEN__PORT"] = str(port)
    env["CLEARML__FILESERVER__LISTEN__PORT"] = str(files_port)
    env["CLEARML__WEBAPP__LISTEN__PORT"] = str(web_port)
    proc = subprocess.Popen([LAUNCHER, "--home", str(home)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    exports, deadline = {}, time.monotonic() + 120
    for line in proc.stdout:
        match = re.match(r"\s*export (CLEARML_\w+)=(\S+)", line)
        if match:
            exports[match.group(1)] = match.group(2)
        web = re.match(r"(Web app): (\S+)$|\s+(user|password): (\S+)$", line.rstrip("\n"))
        if web:
            exports[web.group(1) or web.group(3)] = web.group(2) or web.group(4)
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert {"CLEARML_API_HOST", "CLEARML_FILES_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY",
            "Web app", "user", "password"} <= exports.keys(), exports
    return proc, exports


def _stop(proc: subprocess.Popen) -> list[int]:
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    return [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_make_run_serves_a_plain_sdk_script(tmp_path):
    home, port, files_port, web_port = tmp_path / "home", free_port(), free_port(), free_port()
    proc, exports = _start(home, port, files_port, web_port)
    try:
        assert exports["CLEARML_API_HOST"] == f"http://127.0.0.1:{port}"
        assert exports["CLEARML_FILES_HOST"] == f"http://127.0.0.1:{files_port}"
        # The SDK's reporting in a thread: the calls the launcher's API serves are the same, ~15 s sooner; the
        # SDK's default (subprocess) reporting is test_sdk_compat's and test_sdk_reporting's to prove.
        env = client_env(exports["CLEARML_API_HOST"], exports["CLEARML_API_ACCESS_KEY"],
                         exports["CLEARML_API_SECRET_KEY"], tmp_path / "user-home", exports["CLEARML_FILES_HOST"],
                         thread_reporting=True)
        run = run_client_script("sdk_plain_script.py", [], env)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert run.result["status"] == "completed"
        _check_file_server(exports, home)
        _check_dispatch(proc, exports, home)
        _check_web_app(exports, web_port)
    finally:
        leftovers = _stop(proc)
    assert leftovers == [], "children still running after SIGTERM"
    assert (home / "config" / "secure.conf").stat().st_mode & 0o077 == 0  # owner-only secrets
    assert (home / "config" / "apiserver" / "auth.conf").stat().st_mode & 0o077 == 0  # the web admin's password

    proc, again = _start(home, port, files_port, web_port)
    try:
        assert again["CLEARML_API_ACCESS_KEY"] == exports["CLEARML_API_ACCESS_KEY"]
        assert again["CLEARML_API_SECRET_KEY"] == exports["CLEARML_API_SECRET_KEY"]
        assert (again["user"], again["password"]) == (exports["user"], exports["password"])
        _check_web_app(again, web_port)
    finally:
        assert _stop(proc) == []


def _check_file_server(exports: dict, home: Path) -> None:
    """Up, closed to callers without a token, open to a token from the API's login; files kept in the home."""
    files_url = exports["CLEARML_FILES_HOST"]
    assert requests.get(f"{files_url}/", timeout=10).text == "OK"
    api = ApiClient(exports["CLEARML_API_HOST"], exports["CLEARML_API_ACCESS_KEY"],
                    exports["CLEARML_API_SECRET_KEY"]).login()
    assert FilesClient(files_url).upload("first-steps/x.txt", b"x").status_code == 401
    files = FilesClient(files_url, api.token)
    assert files.upload("first-steps/x.txt", b"kept").status_code == 200
    assert files.get("first-steps/x.txt").content == b"kept"
    assert (home / "files" / "first-steps" / "x.txt").read_bytes() == b"kept"


def _check_web_app(exports: dict, web_port: int) -> None:
    """The web app answers where the banner says; its admin signs in with the printed password and reaches the
    API through it; the link the SDK prints resolves to the app (after sign-in)."""
    web_url = exports["Web app"]
    assert web_url == f"http://127.0.0.1:{web_port}"
    assert requests.get(f"{web_url}/health/ready", timeout=10).json()["status"] == "ok"
    http = signed_in_session(web_url, exports["user"], exports["password"])
    me = http.post(f"{web_url}/api/users.get_current_user", json={}, timeout=30)
    assert me.status_code == 200 and me.json()["data"]["user"]["role"] == "admin", me.text
    shell = http.get(f"{web_url}/projects/*/tasks", timeout=30)
    assert shell.status_code == 200 and "text/html" in shell.headers["Content-Type"]
    plotly = http.get(f"{web_url}/vendor/plotly.min.js", timeout=30)
    assert plotly.status_code == 200 and "Plotly" in plotly.text[:5000]


def _check_dispatch(proc: subprocess.Popen, exports: dict, home: Path) -> None:
    """The watchdog and the webhooks service with its worker run; Valkey refuses anyone without credentials;
    an agent's subscription works."""
    import redis

    from trackside.shared.dispatch.acl import accepts_anonymous

    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("trackside.watchdog" in " ".join(c.cmdline()) for c in children)
    webhooks = [" ".join(c.cmdline()) for c in children if "trackside.webhooks" in " ".join(c.cmdline())]
    assert any(w.endswith("trackside.webhooks") for w in webhooks) and any(w.endswith("worker") for w in webhooks)
    valkey = next(c for c in children if "valkey" in c.name())
    port = next(conn.laddr.port for conn in valkey.net_connections("tcp") if conn.status == psutil.CONN_LISTEN)
    assert accepts_anonymous("127.0.0.1", port) is False
    assert (home / "valkey" / "users.acl").stat().st_mode & 0o077 == 0
    api = ApiClient(exports["CLEARML_API_HOST"], exports["CLEARML_API_ACCESS_KEY"],
                    exports["CLEARML_API_SECRET_KEY"]).login()
    creds = api.ok("dispatch.subscribe", worker="w", queues=[api.ok("queues.get_default")["id"]])["redis"]
    agent = redis.Redis(host=creds["host"], port=creds["port"], username=creds["username"], password=creds["password"])
    assert agent.ping()
