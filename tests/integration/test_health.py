"""Health endpoints of the API, the file server and the watchdog, and the image's `trackside-healthcheck`:
liveness and readiness answer without a token and reveal nothing but per-dependency booleans; readiness
turns 503 when MongoDB or Redis is unreachable (processes of their own, pointed at a closed port or at a
Mongo-wire server that is then stopped)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from support.dispatch import start_watchdog
from support.files import FilesClient
from support.suite import start_api, start_fileserver, start_mongo
from trackside.shared.embedded.process import free_port

HEALTHCHECK = Path(sys.executable).parent / "trackside-healthcheck"
LIVE = {"status": "ok"}


def ready(status: str, **checks: bool) -> dict:
    return {"status": status, "checks": checks}


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=15, **kwargs)


def assert_reply(response: requests.Response, status: int, body: dict) -> None:
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json"
    assert "no-store" in response.headers["Cache-Control"]


@pytest.fixture(scope="module")
def degraded_api(tmp_path_factory):
    """An API on a Mongo-wire server of its own (stopped by the test that needs it down) and on a Redis port
    where nothing listens."""
    work = tmp_path_factory.mktemp("health-api")
    mongo = start_mongo(work / "mongo")
    server = start_api(mongo.port, work / "api", redis_port=free_port())
    server.mongo = mongo
    yield server
    server.process.stop()
    mongo.stop()


# -- the API ------------------------------------------------------------------------------------------------

def test_api_live_and_ready_without_a_token(api_server):
    assert_reply(get(f"{api_server.url}/health/live"), 200, LIVE)
    assert_reply(get(f"{api_server.url}/health/ready"), 200, ready("ok", mongo=True, redis=True))


def test_api_ready_checks_elasticsearch_when_events_are_stored_there(api_server_elastic):
    assert_reply(get(f"{api_server_elastic.url}/health/ready"), 200,
                 ready("ok", mongo=True, redis=True, elastic=True))


def test_a_token_is_neither_needed_nor_checked(api_server):
    reply = get(f"{api_server.url}/health/ready", headers={"Authorization": "Bearer not-a-token"})
    assert_reply(reply, 200, ready("ok", mongo=True, redis=True))


def test_debug_ping_is_unchanged(anon):
    reply = anon.send("debug.ping", auth=None)
    assert reply.status == 200 and reply.code == (200, 0)


def test_other_methods_and_paths_stay_api_calls(api_server):
    # Only GET (and HEAD) of the two paths are health probes; anything else is what it was before.
    post = requests.post(f"{api_server.url}/health/ready", timeout=15)
    other = requests.post(f"{api_server.url}/health/other", timeout=15)
    assert (post.status_code, post.json()["meta"]["result_code"]) == (other.status_code, 404)
    assert get(f"{api_server.url}/health").json()["meta"]["result_code"] == 404


def test_api_not_ready_while_redis_is_unreachable(degraded_api):
    assert_reply(get(f"{degraded_api.url}/health/live"), 200, LIVE)
    assert_reply(get(f"{degraded_api.url}/health/ready"), 503, ready("unavailable", mongo=True, redis=False))


def test_api_not_ready_while_mongo_is_unreachable(degraded_api):
    degraded_api.mongo.stop()
    reply = get(f"{degraded_api.url}/health/ready")
    assert reply.elapsed.total_seconds() < 5  # the checks run in parallel, each with a short timeout
    assert_reply(reply, 503, ready("unavailable", mongo=False, redis=False))
    assert_reply(get(f"{degraded_api.url}/health/live"), 200, LIVE)


# -- trackside-healthcheck (the server image's HEALTHCHECK) -------------------------------------------------

def healthcheck(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HEALTHCHECK), *args], env=env, capture_output=True, text=True, timeout=30)


def test_healthcheck_exits_0_for_a_ready_role(api_server):
    result = healthcheck(api_server.env, "api")
    assert result.returncode == 0, result.stderr
    assert '"mongo": true' in result.stdout


def test_healthcheck_takes_the_role_from_the_environment(degraded_api):
    result = healthcheck({**degraded_api.env, "TRACKSIDE_ROLE": "api"})
    assert result.returncode == 1 and '"redis": false' in result.stdout


def test_healthcheck_exits_1_when_nothing_listens_or_the_role_is_unknown(api_server):
    nothing = {**api_server.env, "CLEARML__APISERVER__LISTEN__PORT": str(free_port())}
    assert healthcheck(nothing, "api").returncode == 1
    assert healthcheck(api_server.env, "nonsense").returncode == 1
    assert healthcheck(api_server.env, "init-config").returncode == 0  # one-shot roles have nothing to probe


# -- the file server ----------------------------------------------------------------------------------------

def test_fileserver_live_and_ready_without_a_token(fileserver, api):
    files = FilesClient.logged_in(fileserver.url, api)
    # A stored file cannot shadow the probes: the static routes win over the file paths.
    assert files.upload("health/ready", b"not a probe").status_code == 200
    assert_reply(get(f"{fileserver.url}/health/live"), 200, LIVE)
    # The stores of token revocations are reported, never failing readiness (test_fileserver_revocation.py).
    assert_reply(get(f"{fileserver.url}/health/ready"), 200, ready("ok", storage=True, mongo=True, redis=True))
    assert get(f"{fileserver.url}/health/other").status_code == 401  # other paths are still files


def test_fileserver_not_ready_without_its_storage_folder(api_server, mongo_server, redis_server, tmp_path):
    server = start_fileserver(api_server.config_dir, tmp_path, mongo_port=mongo_server.port,
                              redis_port=redis_server.port)
    stores = {"mongo": True, "redis": True}
    try:
        server.root.rename(tmp_path / "gone")
        time.sleep(1)  # a worker still booting creates the folder again: let it, then take that one away too
        shutil.rmtree(server.root, ignore_errors=True)
        assert_reply(get(f"{server.url}/health/ready"), 503, ready("unavailable", storage=False, **stores))
        (tmp_path / "gone").rename(server.root)
        assert_reply(get(f"{server.url}/health/ready"), 200, ready("ok", storage=True, **stores))
        env = {**server.env, "TRACKSIDE_ROLE": "fileserver"}
        assert healthcheck(env).returncode == 0
    finally:
        server.process.stop()


# -- the watchdog -------------------------------------------------------------------------------------------

def watchdog_env(base: dict, port: int) -> dict:
    return {**base, "CLEARML__WATCHDOG__HEALTH__LISTEN__PORT": str(port)}


def test_watchdog_live_and_ready(api_server, tmp_path):
    port = free_port()
    watchdog = start_watchdog(watchdog_env(api_server.env, port), tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        assert_reply(get(f"{url}/health/live"), 200, LIVE)
        assert_reply(get(f"{url}/health/ready"), 200, ready("ok", mongo=True, redis=True))
        assert get(f"{url}/health/").status_code == 404
        assert "Python" not in get(f"{url}/health/live").headers.get("Server", "")
        assert healthcheck(watchdog_env(api_server.env, port), "watchdog").returncode == 0
    finally:
        watchdog.stop()


def test_watchdog_not_ready_while_redis_is_unreachable(api_server, tmp_path):
    port = free_port()
    env = {**watchdog_env(api_server.env, port), "CLEARML_REDIS_SERVICE_PORT": str(free_port())}
    watchdog = start_watchdog(env, tmp_path)
    try:
        assert_reply(get(f"http://127.0.0.1:{port}/health/ready"), 503, ready("unavailable", mongo=True, redis=False))
        assert healthcheck(env, "watchdog").returncode == 1
    finally:
        watchdog.stop()


def test_watchdog_runs_on_when_its_health_port_is_taken(api_server, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        watchdog = start_watchdog(watchdog_env(api_server.env, taken.getsockname()[1]), tmp_path)
        try:
            assert watchdog.running()
            assert "health listener on" in (tmp_path / "watchdog.log").read_text()
        finally:
            watchdog.stop()
