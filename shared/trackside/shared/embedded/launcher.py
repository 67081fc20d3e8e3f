"""``trackside-run`` (``make run``): the whole suite on one machine with the embedded backing servers.

Starts a MongoDB-wire server and Valkey from PyPI (with ACL users: the default user off), then the API,
the file server and the web app under gunicorn, the watchdog, and the webhooks service with one RQ worker;
prints the URLs, the credentials to use with the SDK and the web app's sign-in; Ctrl-C (or SIGTERM) stops
everything in reverse order. Killed outright (SIGKILL, the OOM killer), it takes every server with it: each
gets a death signal (Linux), the stores a few seconds after the services (``linger``).

State lives in ``TRACKSIDE_HOME`` (default ``./.trackside``): the databases, the file server's ``files/``
(unless ``CLEARML_UPLOAD_FOLDER`` names another folder), logs, and a ``config/`` folder holding the generated
``secure.conf`` (token secret and an admin key/secret, created on first start and kept, readable by the owner
only), and ``apiserver/auth.conf`` turning on a fixed ``admin`` user for the web app with a generated
password (also 0600, also kept). That folder is put first in ``CLEARML_CONFIG_DIR``, so an operator's own
folders still override it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from trackside.shared.admin.secure_conf import admin_credentials, create_secure_conf
from trackside.shared.config import ConfigError, load_config
from trackside.shared.embedded.process import ServerProcess, port_open
from trackside.shared.dispatch import acl
from trackside.shared.embedded.servers import HOST, mongo_env, mongo_wire_server, valkey_server
from trackside.shared.embedded.web_admin import ensure_web_admin, web_admin_login

ACL_FILE = "users.acl"
# After a SIGKILL of the launcher, the services' own SIGTERM handling (gunicorn stopping its workers, RQ's
# worker deregistering) takes a second or two; the stores stay up that long for them.
STORE_LINGER_SEC = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trackside-run", description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=os.environ.get("TRACKSIDE_HOME", ".trackside"),
                        help="folder for data, logs and generated configuration (default: ./.trackside)")
    args = parser.parse_args(argv)
    home = Path(args.home).resolve()
    config_dir = home / "config"
    key, secret = ensure_secure_conf(config_dir)
    web_login_file = ensure_web_admin(config_dir)

    env = dict(os.environ)
    env["CLEARML_CONFIG_DIR"] = os.pathsep.join(filter(None, [str(config_dir), os.environ.get("CLEARML_CONFIG_DIR")]))
    try:
        config = load_config(env)
    except ConfigError as exc:
        print(f"trackside-run: configuration error: {exc}", file=sys.stderr)
        return 2
    api_host, api_port = config.get("apiserver.listen.host"), config.get_int("apiserver.listen.port")
    files_host, files_port = config.get("fileserver.listen.host"), config.get_int("fileserver.listen.port")
    web_host, web_port = config.get("webapp.listen.host"), config.get_int("webapp.listen.port")
    for host, port in ((api_host, api_port), (files_host, files_port), (web_host, web_port)):
        if port_open(host, port):
            print(f"trackside-run: port {port} is already in use (is the suite already running?)", file=sys.stderr)
            return 1
    files_url = f"http://{files_host}:{files_port}"
    # The API hands out file URLs from hosts.fileserver: the same address the SDK is told to use.
    env["CLEARML__HOSTS__FILESERVER"] = json.dumps(files_url)
    env.setdefault("CLEARML_UPLOAD_FOLDER", str(home / "files"))
    # The web app reaches the API and the file server where this run put them.
    env["CLEARML__WEBAPP__API_URL"] = json.dumps(f"http://{api_host}:{api_port}")
    env["CLEARML__WEBAPP__FILES_URL"] = json.dumps(files_url)

    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[ServerProcess] = []
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        mongo = _start(started, _outliving_services(mongo_wire_server(home / "mongo", log_path=logs / "mongo.log")))
        redis_users = redis_acl(home / "valkey")
        redis = _start(started, _outliving_services(valkey_server(home / "valkey", log_path=logs / "valkey.log",
                                                                  acl_file=home / "valkey" / ACL_FILE)))
        env.update(mongo_env(mongo.port))
        env.update({"CLEARML_REDIS_SERVICE_HOST": HOST, "CLEARML_REDIS_SERVICE_PORT": str(redis.port)})
        env.update(redis_users)
        api = ServerProcess("api", [sys.executable, "-m", "trackside.api"],
                            ready=lambda: port_open(api_host, api_port), port=api_port,
                            log_path=logs / "api.log", env=env)
        _start(started, api)
        files = ServerProcess("fileserver", [sys.executable, "-m", "trackside.fileserver"],
                              ready=lambda: port_open(files_host, files_port), port=files_port,
                              log_path=logs / "fileserver.log", env=env)
        _start(started, files)
        _start(started, ServerProcess("webapp", [sys.executable, "-m", "trackside.webapp"],
                                      ready=lambda: port_open(web_host, web_port), port=web_port,
                                      log_path=logs / "webapp.log", env=env))
        # Dispatch reconcile and queue metrics; it finds the API's configuration in the same environment.
        _start(started, ServerProcess("watchdog", [sys.executable, "-m", "trackside.watchdog"], ready=lambda: True,
                                      log_path=logs / "watchdog.log", env=env))
        # Webhook deliveries and server-side UI actions: the stream consumer and one RQ worker.
        _start(started, ServerProcess("webhooks", [sys.executable, "-m", "trackside.webhooks"], ready=lambda: True,
                                      log_path=logs / "webhooks.log", env=env))
        _start(started, ServerProcess("webhooks-worker", [sys.executable, "-m", "trackside.webhooks", "worker"],
                                      ready=lambda: True, log_path=logs / "webhooks-worker.log", env=env))
        _print_banner(f"http://{api_host}:{api_port}", files_url, key, secret, home,
                      _web_banner(f"http://{web_host}:{web_port}", web_admin_login(config), web_login_file))
        while not stop.is_set() and all(p.running() for p in started):
            stop.wait(1.0)
        crashed = [p.name for p in started if not p.running()]
        if crashed:
            print(f"trackside-run: {', '.join(crashed)} stopped unexpectedly; see {logs}", file=sys.stderr)
            return 1
        return 0
    except RuntimeError as exc:
        print(f"trackside-run: {exc}", file=sys.stderr)
        return 1
    finally:
        print("trackside-run: stopping", file=sys.stderr)
        # The services together (each gunicorn takes seconds to wind its workers down), then the two stores.
        _stop_together(started[2:])
        for process in reversed(started[:2]):
            process.stop()


def _stop_together(processes: list[ServerProcess]) -> None:
    threads = [threading.Thread(target=process.stop) for process in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _start(started: list[ServerProcess], process: ServerProcess) -> ServerProcess:
    print(f"trackside-run: starting {process.name}", file=sys.stderr)
    # Started from the main thread, so a launcher killed outright (SIGKILL, OOM) takes its servers with it.
    process.die_with_parent = True
    process.start(timeout=90)
    started.append(process)
    return process


def _outliving_services(store: ServerProcess) -> ServerProcess:
    """A store that a launcher killed outright ends STORE_LINGER_SEC after the services (``linger``)."""
    store.argv = [sys.executable, "-m", "trackside.shared.embedded.linger", str(STORE_LINGER_SEC), *store.argv]
    return store


def redis_acl(valkey_dir: Path) -> dict[str, str]:
    """Valkey's users for this run, with fresh passwords: the default user off, the server user for the
    API, file server and watchdog, the agent user that dispatch.subscribe hands to agents. The ACL file
    holds only hashes; the passwords reach the services through their environment (not their command line)."""
    server, agent = acl.server_user(acl.new_password()), acl.agent_user(acl.new_password())
    valkey_dir.mkdir(parents=True, exist_ok=True)
    path = valkey_dir / ACL_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(acl.acl_file_text([server, agent]))
    env = {}
    for role, user in (("APISERVER", server), ("WORKERS", server), ("AGENTS", agent)):
        env[f"CLEARML__HOSTS__REDIS__{role}__USERNAME"] = json.dumps(user.name)
        env[f"CLEARML__HOSTS__REDIS__{role}__PASSWORD"] = json.dumps(user.password)
    return env


def ensure_secure_conf(config_dir: Path) -> tuple[str, str]:
    """Generate the token secret and an admin key/secret on first start; read them back afterwards."""
    create_secure_conf(config_dir, "trackside-run on first start")
    return admin_credentials(config_dir)


def _print_banner(api_url: str, files_url: str, key: str, secret: str, home: Path, web: str = "") -> None:
    print(
        "\nTrackside is running. Point the clearml SDK and clearml-agent at it with:\n\n"
        f"  export CLEARML_API_HOST={api_url}\n"
        f"  export CLEARML_FILES_HOST={files_url}\n"
        f"  export CLEARML_API_ACCESS_KEY={key}\n"
        f"  export CLEARML_API_SECRET_KEY={secret}\n\n"
        f"{web}"
        f"Data and logs: {home}    Press Ctrl-C to stop.\n",
        flush=True,
    )


def _web_banner(web_url: str, login: tuple[str, str] | None, login_file: Path) -> str:
    if login is None:  # an operator's own configuration replaced the generated admin
        return f"Web app: {web_url}  (sign in as apiserver.auth.fixed_users in your configuration says)\n\n"
    return (f"Web app: {web_url}\n  user: {login[0]}\n  password: {login[1]}\n"
            f"  (kept in {login_file})\n\n")


if __name__ == "__main__":
    sys.exit(main())
