"""The server image (deploy/server/Dockerfile), built from the local test image offline: the api, fileserver,
watchdog, webapp, webhooks and webhooks-worker roles run with host networking against the session's Mongo-wire
server and Valkey, configured by CLEARML_* variables and a generated configuration folder mounted read-only, on a
read-only root filesystem without capabilities, and turn `healthy` through the image's own HEALTHCHECK; an API
whose Redis is unreachable turns `unhealthy`. The image runs as uid 1000, holds no compiler, pip or secret, and
init-config writes secure.conf and the web app's sign-in on first start only."""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest
import requests

from support.client import ApiClient
from support.suite import REDIS_SERVER_USER, write_secure_conf
from trackside.shared.admin.secure_conf import admin_credentials
from trackside.shared.config import load_config
from trackside.shared.embedded.web_admin import web_admin_login
from trackside.shared.embedded.process import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]
UID = 1000
CONFIG = "/opt/trackside/config"
# The image's HEALTHCHECK command (an empty test keeps the image's own), probed every second instead of every
# 15 (Engine 20.10 has no start-interval), with a start period short enough to see `unhealthy` soon.
SEC = 1_000_000_000
FAST_HEALTHCHECK = {"interval": SEC, "timeout": 5 * SEC, "retries": 3, "start_period": 5 * SEC}
# Every installed module imports: a dependency a package uses but does not declare fails here (entry-point
# modules that run or build an app on import, and the embedded servers the image leaves out, are skipped).
IMPORT_ALL = """
import importlib, pkgutil, trackside
skip = (".__main__", ".wsgi", "trackside.shared.embedded")
names = [m.name for m in pkgutil.walk_packages(trackside.__path__, "trackside.")]
for name in names:
    if not any(part in name for part in skip):
        importlib.import_module(name)
print(len(names))
"""


def owned(path: Path, mode: int) -> Path:
    """``path`` (a new folder unless it exists) owned by the image's user, as the operator prepares it."""
    path.mkdir(exist_ok=True)
    os.chown(path, UID, UID)
    path.chmod(mode)
    return path


@pytest.fixture
def config_dir(tmp_path):
    """What an operator's configuration folder holds: secure.conf (token secret, an admin key) and the Redis
    ACL user, owned by the service user."""
    folder = tmp_path / "config"
    key, secret = "IMG" + secrets.token_hex(8).upper(), secrets.token_urlsafe(24)
    write_secure_conf(folder, key, secret, secrets.token_urlsafe(32))
    user = {"username": REDIS_SERVER_USER.name, "password": REDIS_SERVER_USER.password}
    (folder / "hosts.conf").write_text("redis " + json.dumps({"apiserver": user, "workers": user}) + "\n")
    for conf in folder.iterdir():
        os.chown(conf, UID, UID)
        conf.chmod(0o600)
    owned(folder, 0o750)
    return folder, key, secret


def run_role(client, image: str, role: str, config: Path, env: dict, **kwargs):
    """A role as compose and Kubernetes run it: read-only root filesystem but /tmp, no capabilities."""
    return client.containers.run(
        image, [role], detach=True, network_mode="host", labels={"trackside.test": "deploy"},
        environment=env, volumes={str(config): {"bind": CONFIG, "mode": "ro"}, **kwargs.pop("volumes", {})},
        read_only=True, tmpfs={"/tmp": ""}, cap_drop=["ALL"], security_opt=["no-new-privileges"],
        healthcheck=FAST_HEALTHCHECK, **kwargs)


def wait_health(containers: dict, wanted: dict, timeout: float = 90) -> None:
    """Until each container's Docker health status is the wanted one; at once if one of them exited."""
    deadline, states = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        for container in containers.values():
            container.reload()
        states = {name: c.attrs["State"].get("Health", {}).get("Status") for name, c in containers.items()}
        if states == wanted:
            return
        if any(c.status == "exited" for c in containers.values()):
            break
        time.sleep(0.5)
    logs = {name: c.logs()[-2000:].decode(errors="replace") for name, c in containers.items()}
    raise AssertionError(f"health {states}, wanted {wanted}; logs: {logs}")


def test_the_server_image_runs_every_role_healthy(docker_engine, server_image, test_image, wheel_index,
                                                  mongo_server, redis_server, config_dir, tmp_path):
    client = docker_engine.client()
    config, key, secret = config_dir
    files = owned(tmp_path / "files", 0o750)
    ports = {role: free_port() for role in ("api", "fileserver", "watchdog", "webapp", "webhooks", "webhooks-worker",
                                            "no-redis")}
    base = {"CLEARML_MONGODB_SERVICE_HOST": "127.0.0.1", "CLEARML_MONGODB_SERVICE_PORT": str(mongo_server.port),
            "CLEARML_REDIS_SERVICE_HOST": "127.0.0.1", "CLEARML_REDIS_SERVICE_PORT": str(redis_server.port),
            # Host networking: listen on loopback only (the image's default is every address).
            "CLEARML__APISERVER__LISTEN__HOST": "127.0.0.1", "CLEARML__FILESERVER__LISTEN__HOST": "127.0.0.1",
            "CLEARML__WATCHDOG__HEALTH__LISTEN__HOST": "127.0.0.1", "CLEARML__WEBAPP__LISTEN__HOST": "127.0.0.1",
            "CLEARML__SERVICES__WEBHOOKS__HEALTH__LISTEN__HOST": "127.0.0.1",
            "CLEARML__SERVICES__WEBHOOKS__WORKER_HEALTH__LISTEN__HOST": "127.0.0.1"}
    started = time.monotonic()
    containers = {
        "api": run_role(client, server_image, "api", config,
                        {**base, "CLEARML__APISERVER__LISTEN__PORT": str(ports["api"])}),
        "fileserver": run_role(client, server_image, "fileserver", config,
                               {**base, "CLEARML__FILESERVER__LISTEN__PORT": str(ports["fileserver"])},
                               volumes={str(files): {"bind": "/mnt/fileserver", "mode": "rw"}}),
        "watchdog": run_role(client, server_image, "watchdog", config,
                             {**base, "CLEARML__WATCHDOG__HEALTH__LISTEN__PORT": str(ports["watchdog"])}),
        "webapp": run_role(client, server_image, "webapp", config,
                           {**base, "CLEARML__WEBAPP__LISTEN__PORT": str(ports["webapp"]),
                            "CLEARML__WEBAPP__API_URL": f'"http://127.0.0.1:{ports["api"]}"',
                            "CLEARML__WEBAPP__FILES_URL": f'"http://127.0.0.1:{ports["fileserver"]}"'}),
        "webhooks": run_role(client, server_image, "webhooks", config,
                             {**base, "CLEARML__SERVICES__WEBHOOKS__HEALTH__LISTEN__PORT": str(ports["webhooks"])}),
        "webhooks-worker": run_role(client, server_image, "webhooks-worker", config,
                                    {**base, "CLEARML__SERVICES__WEBHOOKS__WORKER_HEALTH__LISTEN__PORT":
                                     str(ports["webhooks-worker"])}),
        "no-redis": run_role(client, server_image, "api", config,
                             {**base, "CLEARML__APISERVER__LISTEN__PORT": str(ports["no-redis"]),
                              "CLEARML_REDIS_SERVICE_PORT": str(free_port())}),
    }
    try:
        wait_health(containers, {"api": "healthy", "fileserver": "healthy", "watchdog": "healthy",
                                 "webapp": "healthy", "webhooks": "healthy", "webhooks-worker": "healthy",
                                 "no-redis": "unhealthy"})
        print(f"\nup to healthy (api, fileserver, watchdog, webapp, webhooks, webhooks-worker): "
              f"{time.monotonic() - started:.1f} s")

        api_url = f"http://127.0.0.1:{ports['api']}"
        assert requests.get(f"{api_url}/health/ready", timeout=10).json() == {
            "status": "ok", "checks": {"mongo": True, "redis": True}}
        assert ApiClient(api_url, key, secret).login().ok("queues.get_all", name="^default$")["queues"]
        assert requests.get(f"http://127.0.0.1:{ports['fileserver']}/health/ready", timeout=10).json() == {
            "status": "ok", "checks": {"storage": True, "mongo": True, "redis": True}}  # its revocation stores
        web_url = f"http://127.0.0.1:{ports['webapp']}"
        assert requests.get(f"{web_url}/health/ready", timeout=10).json() == {
            "status": "ok", "checks": {"api": True, "fileserver": True}}
        # plotly.js as the image carries it (copied from the build context at the lockfile's version).
        plotly = requests.get(f"{web_url}/vendor/plotly.min.js", timeout=30)
        assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
        assert requests.get(f"{web_url}/login", timeout=10).status_code == 200
        assert requests.get(f"http://127.0.0.1:{ports['no-redis']}/health/ready", timeout=10).json() == {
            "status": "unavailable", "checks": {"mongo": True, "redis": False}}

        for container in containers.values():
            assert container.exec_run(["id", "-u"]).output.decode().strip() == str(UID)
        api = containers["api"]
        assert api.exec_run(["sh", "-c", "command -v gcc cc make pip pip3 || true"]).output == b""
        assert api.exec_run(["stat", "-c", "%u", "/opt/trackside/venv/lib"]).output.strip() == b"0"  # root's code
        imported = api.exec_run(["python", "-c", IMPORT_ALL])
        assert imported.exit_code == 0, imported.output.decode()[-3000:]
    finally:
        for container in containers.values():
            container.remove(force=True)

    image = client.images.get(server_image)
    baked = json.dumps(image.attrs["Config"]) + json.dumps(image.history())
    for value in (secret, REDIS_SERVER_USER.password, (config / "secure.conf").read_text()):
        assert value not in baked
    assert wheel_index not in baked  # build arguments stay in the builder stage
    assert image.attrs["Config"]["User"] == f"{UID}:{UID}"
    assert image.attrs["Config"]["Healthcheck"]["Test"] == ["CMD", "trackside-healthcheck"]
    size, base_size = image.attrs["Size"], client.images.get(test_image).attrs["Size"]
    print(f"server image: {size / 1e6:.0f} MB, {(size - base_size) / 1e6:.0f} MB over its base")


def test_init_config_writes_secure_conf_once(docker_engine, server_image, tmp_path):
    client = docker_engine.client()
    config = owned(tmp_path / "config", 0o750)

    def run(*args: str) -> tuple[int, str]:
        container = client.containers.run(server_image, list(args), detach=True, network_mode="none",
                                          labels={"trackside.test": "deploy"},
                                          volumes={str(config): {"bind": CONFIG, "mode": "rw"}})
        try:
            return container.wait(timeout=60)["StatusCode"], container.logs().decode()
        finally:
            container.remove(force=True)

    first, second = run("init-config"), run("init-config")
    secure, web_login = config / "secure.conf", config / "apiserver" / "auth.conf"
    for path in (secure, web_login):
        assert path.stat().st_mode & 0o777 == 0o600 and path.stat().st_uid == UID, path
    key, secret = admin_credentials(config)
    user, password = web_admin_login(load_config({"CLEARML_CONFIG_DIR": str(config)}))
    assert first[0] == 0 and f"CLEARML_API_SECRET_KEY={secret}" in first[1]
    assert f"TRACKSIDE_WEB_USER={user}" in first[1] and f"TRACKSIDE_WEB_PASSWORD={password}" in first[1]
    assert second[0] == 0 and secret not in second[1] and password not in second[1]
    code, usage = run()
    assert code == 2 and "init-config" in usage  # no role: the roles are listed
