"""deploy/compose brought up for real by the Compose v2 binary on the tests' private dockerd: the server and
agent images built from the local base offline, mongo and redis replaced by stand-ins built from the server
image (deploy/compose/test/), host networking on 127.0.0.1 (deploy/compose/test/docker-compose.smoke.yml).

Reduced (in `make test`): every service turns healthy, the generated admin key works through the real SDK,
readiness answers, and the web app signs in with the admin password init-config printed, serves plotly.js
from the image and forwards calls to the API. Full (`make deploy-smoke`, TRACKSIDE_SMOKE=full): also the
services agent runs an enqueued task in a sibling container, `down` then `up` keeps the data, and a backup
restored into a fresh stack gives back the task and its events.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest
import requests

from support.docker_engine import REPO
from support.names import unique
from support.our_agent import WHEELHOUSE
from support.sdk_api import call, run_calls
from trackside.shared.admin.secure_conf import admin_credentials
from trackside.shared.config import load_config
from trackside.shared.embedded.web_admin import web_admin_login
from trackside.shared.embedded.process import free_port

from test_compose_static import COMPOSE_DIR, MAIN, compose_binary

FULL = os.environ.get("TRACKSIDE_SMOKE") == "full"
# The full run builds three images and brings up two stacks (three `up`s): past pytest.ini's 600 s on a
# loaded 2-core machine.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500 if FULL else 600)]
SMOKE = COMPOSE_DIR / "test" / "docker-compose.smoke.yml"
AGENT_IMAGE = "trackside-test/agent:dev"
STANDIN_IMAGE = "trackside-test/compose-standins:dev"
LONG_RUNNING = {"mongo", "redis", "apiserver", "fileserver", "watchdog", "webapp", "webhooks", "webhooks-worker",
                "agent-services"}
DATA_FOLDERS = ("config", "data/mongo", "data/redis", "data/fileserver", "data/agent")


def embedded_pins() -> str:
    # The stand-ins run exactly the embedded default's servers (shared/pyproject.toml, extra "embedded").
    project = tomllib.loads((REPO / "shared" / "pyproject.toml").read_text())["project"]
    return " ".join(project["optional-dependencies"]["embedded"])


def build(engine, dockerfile: str, tag: str, buildargs: dict) -> float:
    started = time.monotonic()
    try:
        engine.client().images.build(path=str(REPO), dockerfile=dockerfile, tag=tag, rm=True, forcerm=True,
                                     network_mode="host", buildargs=buildargs)
    except docker.errors.BuildError as exc:
        log = "".join(chunk.get("stream", "") for chunk in exc.build_log)
        pytest.fail(f"{dockerfile}: {exc.msg}\n{log[-4000:]}")
    return time.monotonic() - started


@pytest.fixture(scope="module")
def images(docker_engine, server_image, test_image, wheel_index):
    """The agent image and the stand-ins (from the session's server image), built offline; their sizes."""
    pip_args = f"--no-index --find-links {wheel_index}"
    seconds = {
        "agent": build(docker_engine, "deploy/agent/Dockerfile", AGENT_IMAGE,
                       {"BASE_IMAGE": test_image, "PIP_ARGS": pip_args}),
        "standins": build(docker_engine, "deploy/compose/test/Dockerfile.standins", STANDIN_IMAGE,
                          {"SERVER_IMAGE": server_image, "PIP_ARGS": pip_args, "PACKAGES": embedded_pins()}),
    }
    tags = {"server": server_image, "agent": AGENT_IMAGE, "standins": STANDIN_IMAGE}
    sizes = {name: round(docker_engine.client().images.get(tag).attrs["Size"] / 2**20) for name, tag in tags.items()}
    print(f"\nimage builds (s): { {k: round(v) for k, v in seconds.items()} }; sizes (MiB): {sizes}")
    return tags


class Stack:
    """One compose project on the private dockerd, its data root in a temporary folder."""

    def __init__(self, engine, images: dict, test_image: str, root: Path):
        self.engine, self.root = engine, root
        self.name = unique("tsmoke").lower().replace("-", "")
        self.ports = {name: free_port() for name in ("api", "files", "mongo", "redis", "watchdog", "web", "webhooks",
                                                     "webhooks_worker")}
        self.env = {
            "PATH": os.environ["PATH"], "HOME": str(root), **engine.env(),
            "TRACKSIDE_DATA_ROOT": str(root),
            "TRACKSIDE_IMAGE": images["server"], "TRACKSIDE_AGENT_IMAGE": images["agent"],
            "SMOKE_STANDIN_IMAGE": images["standins"], "SMOKE_TASK_IMAGE": test_image,
            "SMOKE_DOCKER_SOCKET": str(engine.socket),
            **{f"SMOKE_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        self.env_file = root.parent / f"{root.name}.env"
        self.env_file.write_text("")   # never a developer's deploy/compose/.env

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [str(compose_binary()), "--project-directory", str(COMPOSE_DIR), "--env-file", str(self.env_file),
                   "-p", self.name, "-f", str(MAIN), "-f", str(SMOKE), *args]
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=timeout)
        assert result.returncode == 0, (f"compose {' '.join(args)}:\n{result.stderr[-4000:]}\n{self.logs()}\n"
                                        f"{self.health_logs()}")
        return result

    def health_logs(self) -> str:
        """The last probes of every container that is not healthy: why a healthcheck failed (or timed out)."""
        lines = []
        for container in self.engine.client().containers.list(
                all=True, filters={"label": f"com.docker.compose.project={self.name}"}):
            health = container.attrs["State"].get("Health") or {}
            if health and health.get("Status") != "healthy":
                probes = [(p.get("ExitCode"), p.get("Output", "").strip()[-300:]) for p in health.get("Log", [])[-3:]]
                lines.append(f"{container.name}: {health.get('Status')}: {probes}")
        return "\n".join(lines)

    def logs(self) -> str:
        command = [str(compose_binary()), "--project-directory", str(COMPOSE_DIR), "--env-file", str(self.env_file),
                   "-p", self.name, "-f", str(MAIN), "-f", str(SMOKE), "logs", "--no-color", "--tail", "40"]
        return subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=60).stdout[-8000:]

    def up(self) -> float:
        """`up -d --wait`: returns once every service is healthy (or its one-shot step finished)."""
        started = time.monotonic()
        self.compose("up", "-d", "--wait", "--wait-timeout", "240", timeout=300)
        return time.monotonic() - started

    def states(self) -> dict[str, str]:
        out = self.compose("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(rows) == 1 and isinstance(rows[0], list):   # older Compose prints one JSON array
            rows = rows[0]
        return {row["Service"]: row.get("Health") or row.get("State") for row in rows}

    def credentials(self) -> SimpleNamespace:
        key, secret = admin_credentials(self.root / "config")
        return SimpleNamespace(url=self.api_url, key=key, secret=secret)


def owned_folder(path: Path) -> Path:
    """A folder owned by the services' uid: the README's install step for the data root."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 1000, 1000)
    return path


@pytest.fixture
def new_stack(images, docker_engine, test_image):
    """Stacks with their own data roots and ports; each is taken down and removed at the end."""
    made: list[Stack] = []

    def make() -> Stack:
        root = owned_folder(Path(tempfile.mkdtemp(prefix="tsmoke-", dir="/tmp")))
        for folder in DATA_FOLDERS:
            for part in range(1, len(Path(folder).parts) + 1):
                owned_folder(root.joinpath(*Path(folder).parts[:part]))
        if FULL:   # the task venv installs offline, from the agent's cache folder
            shutil.copytree(WHEELHOUSE, root / "data" / "agent" / "wheelhouse")
        made.append(Stack(docker_engine, images, test_image, root))
        return made[-1]

    yield make
    for deployed in made:
        subprocess.run([str(compose_binary()), "--project-directory", str(COMPOSE_DIR), "--env-file",
                        str(deployed.env_file), "-p", deployed.name, "-f", str(MAIN), "-f", str(SMOKE), "down",
                        "--timeout", "20"], capture_output=True, env=deployed.env, timeout=120)
        deployed.env_file.unlink(missing_ok=True)
        shutil.rmtree(deployed.root, ignore_errors=True)


def ready(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_stack_comes_up_healthy_and_serves_the_sdk(new_stack, tmp_path):
    stack = new_stack()
    seconds = stack.up()
    print(f"\nup to all healthy: {seconds:.1f} s")
    states = stack.states()
    assert {name: states.get(name) for name in LONG_RUNNING} == dict.fromkeys(LONG_RUNNING, "healthy"), (
        states, stack.health_logs())
    assert states["init-config"] == states["init-redis"] == "exited"
    # The first start generated the secrets, owner-only; Redis has the default user off.
    for path in (stack.root / "config" / "secure.conf", stack.root / "config" / "hosts" / "redis.conf",
                 stack.root / "data" / "redis" / "users.acl"):
        assert path.stat().st_mode & 0o077 == 0 and path.stat().st_uid == 1000, path
    status, body = ready(stack.api_url)
    passing = {name for name, ok in body["checks"].items() if ok}
    assert status == 200 and body["status"] == "ok" and {"mongo", "redis"} <= passing, body
    # The real SDK with the generated admin key.
    project = unique("compose-smoke")
    answers = run_calls(stack.credentials(), [call("projects.create", name=project, description="smoke"),
                                              call("projects.get_all", name=f"^{project}$"),
                                              call("queues.get_all", name="^services$")], tmp_path / "sdk")
    assert all(a["ok"] for a in answers), answers
    assert [p["name"] for p in answers[1]["data"]] == [project]
    assert answers[2]["data"], "the services agent did not create its queue"
    signs_in_to_the_web_app(stack, project)
    if FULL:
        task = run_a_service_task(stack, tmp_path)
        keeps_data_across_down_and_up(stack, project, tmp_path)
        backup_then_restore_into_a_fresh_stack(stack, new_stack(), task, tmp_path)


def signs_in_to_the_web_app(stack: Stack, project: str) -> None:
    """deploy/README.md's first sign-in: the user and password `docker compose logs init-config` showed, kept
    in config/apiserver/auth.conf (0600); then the browser's calls through the web app as that user."""
    logs = stack.compose("logs", "--no-color", "init-config").stdout
    user = logs.split("TRACKSIDE_WEB_USER=")[1].split()[0]
    password = logs.split("TRACKSIDE_WEB_PASSWORD=")[1].split()[0]
    auth = stack.root / "config" / "apiserver" / "auth.conf"
    assert auth.stat().st_mode & 0o077 == 0 and auth.stat().st_uid == 1000
    assert web_admin_login(load_config({"CLEARML_CONFIG_DIR": str(stack.root / "config")})) == (user, password)
    status, body = ready(stack.web_url)
    assert status == 200 and body["checks"] == {"api": True, "fileserver": True}, body

    browser = requests.Session()
    form = browser.get(f"{stack.web_url}/login", timeout=30)
    assert form.status_code == 200 and 'name="password"' in form.text   # fixed users: user and password
    csrf = browser.cookies["trackside_csrf"]
    wrong = browser.post(f"{stack.web_url}/login", timeout=30, allow_redirects=False,
                         data={"username": user, "password": password + "x", "csrf_token": csrf, "next": "/projects"})
    assert wrong.status_code == 401
    signed_in = browser.post(f"{stack.web_url}/login", timeout=30, allow_redirects=False,
                             data={"username": user, "password": password, "csrf_token": csrf, "next": "/projects"})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/projects", signed_in.text[:500]
    assert "trackside_session" in browser.cookies
    csrf = browser.cookies["trackside_csrf"]   # a fresh one comes with the session
    config = browser.get(f"{stack.web_url}/app-config.json", timeout=30)
    assert config.status_code == 200 and config.json()["user"]["role"] == "admin", config.text[:500]
    info = browser.post(f"{stack.web_url}/api/server.info", json={}, headers={"X-CSRF-Token": csrf}, timeout=30)
    assert info.status_code == 200 and info.json()["data"]["version"], info.text[:500]
    projects = browser.post(f"{stack.web_url}/api/projects.get_all", json={"name": f"^{project}$"},
                            headers={"X-CSRF-Token": csrf}, timeout=30)
    assert [p["name"] for p in projects.json()["data"]["projects"]] == [project]
    # plotly.js from the image (copied from the build context, never fetched), and the page shell.
    plotly = browser.get(f"{stack.web_url}/vendor/plotly.min.js", timeout=30)
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert browser.get(f"{stack.web_url}/projects", timeout=30).status_code == 200


def run_a_service_task(stack: Stack, tmp_path: Path) -> str:
    """The services agent runs an enqueued task in a sibling container on the private dockerd."""
    creds = stack.credentials()
    queue = run_calls(creds, [call("queues.get_all", raw=True, name="^services$")],
                      tmp_path / "q")[0]["data"]["queues"][0]
    name = unique("service-task")
    created = run_calls(creds, [call("tasks.create", raw=True, name=name, type="service", script={
        "diff": "print('HELLO FROM THE SERVICES AGENT')", "entry_point": "job.py", "working_dir": "."})],
        tmp_path / "t")[0]
    task = created["data"]["id"]
    assert run_calls(creds, [call("tasks.enqueue", raw=True, task=task, queue=queue["id"])], tmp_path / "e")[0]["ok"]
    deadline = time.monotonic() + 300
    while True:
        status = run_calls(creds, [call("tasks.get_all", raw=True, id=[task], only_fields=["status"])],
                           tmp_path / "s")[0]["data"]["tasks"][0]["status"]
        if status in ("completed", "failed", "stopped"):
            break
        assert time.monotonic() < deadline, stack.logs()
        time.sleep(3)
    log = run_calls(creds, [call("events.get_task_log", raw=True, task=task, batch_size=500)], tmp_path / "l")[0]
    assert status == "completed", stack.logs()
    assert any("HELLO FROM THE SERVICES AGENT" in e.get("msg", "") for e in log["data"]["events"])
    return task


def keeps_data_across_down_and_up(stack: Stack, project: str, tmp_path: Path) -> None:
    secure = (stack.root / "config" / "secure.conf").read_text()
    stack.compose("down", "--timeout", "20", timeout=120)
    seconds = stack.up()
    print(f"\nsecond up to all healthy: {seconds:.1f} s")
    assert (stack.root / "config" / "secure.conf").read_text() == secure   # kept, not regenerated
    answer = run_calls(stack.credentials(), [call("projects.get_all", name=f"^{project}$")], tmp_path / "again")[0]
    assert [p["name"] for p in answer["data"]] == [project]


def backup_then_restore_into_a_fresh_stack(stack: Stack, fresh: Stack, task: str, tmp_path: Path) -> None:
    """deploy/README.md's commands: `admin backup` in a one-off API container of the running stack, then
    `admin restore` into a fresh stack: the task and its events come back."""
    backups = owned_folder(stack.root.parent / f"{stack.root.name}-backup")
    try:
        stack.compose("run", "--rm", "--no-deps", "-v", f"{backups}:/backup", "apiserver",
                      "admin", "backup", "--out", "/backup/trackside.tar.gz", timeout=300)
        stack.compose("down", "--timeout", "20", timeout=120)
        fresh.up()
        fresh.compose("run", "--rm", "--no-deps", "-v", f"{backups}:/backup", "apiserver",
                      "admin", "restore", "/backup/trackside.tar.gz", timeout=300)
        fresh.compose("restart", "apiserver", "fileserver", "watchdog", timeout=120)
        fresh.up()
        creds = fresh.credentials()   # the fresh stack's own admin key reads the restored data
        answers = run_calls(creds, [call("tasks.get_all", raw=True, id=[task], only_fields=["status"]),
                                    call("events.get_task_log", raw=True, task=task, batch_size=500)],
                            tmp_path / "restored")
        assert [t["status"] for t in answers[0]["data"]["tasks"]] == ["completed"], answers[0]
        assert any("HELLO FROM THE SERVICES AGENT" in e.get("msg", "") for e in answers[1]["data"]["events"])
    finally:
        shutil.rmtree(backups, ignore_errors=True)
