"""Start the suite's real processes for tests: the Mongo-wire server, Valkey, the Elasticsearch stand-in
(osmem-server) and the API under gunicorn."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from trackside.shared.credential_gen import new_secret_key
from trackside.shared.dispatch import acl
from trackside.shared.embedded.process import ServerProcess, free_port
from trackside.shared.embedded.servers import (
    HOST, elastic_env, elastic_test_server, mongo_env, mongo_wire_server, valkey_server,
)

TEST_KEY_NAME = "tests"
# The test Valkey runs with ACL users and the default user off, as production Redis must: the API and the
# watchdog use the server user, subscribers the agent user (handed out by dispatch.subscribe), and tests
# that flush or inspect Redis the admin user (redis_admin).
REDIS_SERVER_USER = acl.server_user(acl.new_password())
REDIS_AGENT_USER = acl.agent_user(acl.new_password())
REDIS_ADMIN_USER = acl.RedisUser("tests-admin", acl.new_password(), acl.ADMIN_RULES)


@dataclass
class ApiServer:
    url: str
    key: str
    secret: str
    config_dir: Path
    env: dict
    process: ServerProcess = field(repr=False)


def write_secure_conf(config_dir: Path, key: str, secret: str, token_secret: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "secure.conf").write_text(
        f'auth {{ token_secret: "{token_secret}" }}\n'
        f'credentials {{ {TEST_KEY_NAME} {{ role: "admin", display_name: "Test User", '
        f'user_key: "{key}", user_secret: "{secret}" }} }}\n'
    )


def start_api(mongo_port: int, work_dir: Path, extra_env: dict | None = None,
              redis_port: int | None = None, elastic_port: int | None = None) -> ApiServer:
    """An API process; with ``elastic_port`` its events go to the Elasticsearch backend on that server."""
    key, secret = "TESTKEY" + secrets.token_hex(8).upper(), new_secret_key(24)
    config_dir = work_dir / "config"
    write_secure_conf(config_dir, key, secret, secrets.token_urlsafe(32))
    port = free_port()
    env = {
        **os.environ,
        "CLEARML_CONFIG_DIR": str(config_dir),
        **mongo_env(mongo_port),
        **(redis_env(redis_port) if redis_port else {}),
        **(elastic_env(elastic_port) if elastic_port else {}),
        **({"CLEARML__SERVICES__EVENTS__STORE": '"elastic"'} if elastic_port else {}),
        "CLEARML__APISERVER__LISTEN__PORT": str(port),
        # Tests create many credentials; the lowest bcrypt cost keeps them fast.
        "CLEARML__APISERVER__AUTH__BCRYPT_ROUNDS": "4",
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        "api", [sys.executable, "-m", "trackside.api", "--workers", "2", "--threads", "8"],
        ready=lambda: _pings(url), port=port, log_path=work_dir / "api.log", env=env,
    ).start(timeout=60)
    return ApiServer(url, key, secret, config_dir, env, process)


@dataclass
class FileServer:
    url: str
    root: Path  # the storage folder
    config_dir: Path
    env: dict
    process: ServerProcess = field(repr=False)


def start_fileserver(config_dir: Path, work_dir: Path, extra_env: dict | None = None,
                     mongo_port: int | None = None, redis_port: int | None = None) -> FileServer:
    """A file server process reading ``config_dir``; pass an API's (``api_server.config_dir``) so both check
    tokens with the same secret, and its stores' ports so it sees the revocations the API records (without
    them it looks for the stores at the default addresses and serves on without)."""
    root, port = work_dir / "files", free_port()
    env = {
        **os.environ,
        "CLEARML_CONFIG_DIR": str(config_dir),
        **(mongo_env(mongo_port) if mongo_port else {}),
        **(redis_env(redis_port) if redis_port else {}),
        "CLEARML_UPLOAD_FOLDER": str(root),
        "CLEARML__FILESERVER__LISTEN__PORT": str(port),
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        "fileserver", [sys.executable, "-m", "trackside.fileserver", "--workers", "2", "--threads", "8"],
        ready=lambda: _answers_ok(url), port=port, log_path=work_dir / "fileserver.log", env=env,
    ).start(timeout=60)
    return FileServer(url, root, config_dir, env, process)


def stop_together(processes: list[ServerProcess]) -> None:
    """Stop servers concurrently (each gunicorn takes seconds to wind its workers down)."""
    with ThreadPoolExecutor(max(1, len(processes))) as pool:
        list(pool.map(ServerProcess.stop, processes))


# Servers a module is done with: sent SIGTERM, then left to wind down while the next tests run, since waiting
# for each cost seconds per module (a stopping gunicorn keeps its workers 2-3 s). The session's end waits.
_winding_down: list[ServerProcess] = []


def stop_in_background(*processes: ServerProcess) -> None:
    """SIGTERM without waiting, for a module's own servers that nothing asks again (never a store that a
    still-running server uses); ``wait_stopped_in_background`` at the session's end reaps them."""
    for process in processes:
        if process.running():
            process.proc.send_signal(signal.SIGTERM)
            _winding_down.append(process)


def wait_stopped_in_background(timeout: float = 15.0) -> None:
    """Every process ``stop_in_background`` signalled has exited (SIGKILL once ``timeout`` is over)."""
    deadline = time.monotonic() + timeout
    for process in _winding_down:
        try:
            process.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.proc.kill()
            process.proc.wait(5)
    _winding_down.clear()


def redis_env(port: int) -> dict[str, str]:
    env = {"CLEARML_REDIS_SERVICE_HOST": HOST, "CLEARML_REDIS_SERVICE_PORT": str(port)}
    for role, user in (("APISERVER", REDIS_SERVER_USER), ("WORKERS", REDIS_SERVER_USER), ("AGENTS", REDIS_AGENT_USER)):
        env[f"CLEARML__HOSTS__REDIS__{role}__USERNAME"] = f'"{user.name}"'
        env[f"CLEARML__HOSTS__REDIS__{role}__PASSWORD"] = f'"{user.password}"'
    return env


def start_redis(work_dir: Path, port: int | None = None) -> ServerProcess:
    work_dir.mkdir(parents=True, exist_ok=True)
    acl_file = work_dir / "users.acl"
    acl_file.write_text(acl.acl_file_text([REDIS_SERVER_USER, REDIS_AGENT_USER, REDIS_ADMIN_USER]))
    acl_file.chmod(0o600)
    return valkey_server(work_dir / "valkey", port=port, log_path=work_dir / "valkey.log", persistent=False,
                         acl_file=acl_file).start(timeout=30)


def redis_admin(port: int) -> redis.Redis:
    """A client of the test Valkey on ``port`` with every right (flush, inspect)."""
    return redis.Redis(host=HOST, port=port, username=REDIS_ADMIN_USER.name, password=REDIS_ADMIN_USER.password,
                       decode_responses=True)


def start_elastic(work_dir: Path) -> ServerProcess:
    return elastic_test_server(log_path=work_dir / "osmem.log").start(timeout=30)


def start_mongo(work_dir: Path) -> ServerProcess:
    return mongo_wire_server(work_dir / "mongo", log_path=work_dir / "mongo.log").start(timeout=60)


def _pings(url: str) -> bool:
    try:
        return requests.get(f"{url}/debug.ping", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _answers_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
