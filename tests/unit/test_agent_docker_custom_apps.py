"""What the custom-apps agent's settings mean (issue 17): ``CLEARML_AGENT__<PATH>`` overrides, the
restart policy's task condition, the container name format and labels, and a container under
``--use-owner-token`` getting the owner's token instead of the agent's credentials (no engine needed)."""
from __future__ import annotations

import json
import re
import signal

import pytest

from trackside.agent.api import AgentApi, _TokenSession
from trackside.agent.config import ConfigError, load_config
from trackside.agent.config.loader import TOKEN_FILE_ENV
from trackside.agent.docker.restart import restart_policy
from trackside.agent.docker.spec import build_spec, container_name, inner_config, task_labels

CONF = 'api { api_server: "http://127.0.0.1:8008", credentials { access_key: "K", secret_key: "S3CRET" } }\n'
RESTART = "on-failure;application.resumable=True"


@pytest.fixture
def conf_file(tmp_path):
    path = tmp_path / "clearml.conf"
    path.write_text(CONF + 'agent { docker_container_name_format: "from-file-{task_id}" }\n')
    return path


# -- CLEARML_AGENT__<PATH> ------------------------------------------------------------------------------------
def test_generic_variables_set_any_key_typed_as_hocon(conf_file):
    config = load_config(conf_file, environ={
        "CLEARML_AGENT__AGENT__DOCKER_CONTAINER_NAME_FORMAT": "custom-app-{task_id}-{rand_string:.8}",
        "CLEARML_AGENT__AGENT__VENVS_CACHE__MAX_ENTRIES": "3",
        "CLEARML_AGENT__AGENT__DOCKER_FORCE_PULL": "true",
        "CLEARML_AGENT__AGENT__EXTRA_DOCKER_LABELS": '["a=1", "b=2"]',
        "CLEARML_AGENT__AGENT__DEFAULT_DOCKER": '{image: "python:3.11"}',
        "CLEARML_AGENT__SDK__DEVELOPMENT__DEFAULT_OUTPUT_URI": '"file:///out"',
        "CLEARML_AGENT__API__HTTP__RETRIES": "4",
    })
    # HOCON refuses "{task_id}" unquoted: the text is taken as written (a quoted value works as well)
    assert config.get("agent.docker_container_name_format") == "custom-app-{task_id}-{rand_string:.8}"
    assert config.get("agent.venvs_cache.max_entries") == 3
    assert config.get("agent.docker_force_pull") is True
    assert config.get("agent.extra_docker_labels") == ["a=1", "b=2"]
    # a section merges with the defaults and the file
    assert config.get("agent.default_docker.image") == "python:3.11"
    assert config.get("agent.default_docker.update_back_task") is True
    assert config.get("sdk.development.default_output_uri") == "file:///out"
    assert config.get("api.http.retries") == 4
    assert config.overrides["agent.venvs_cache.max_entries"] == "CLEARML_AGENT__AGENT__VENVS_CACHE__MAX_ENTRIES"


def test_a_quoted_value_and_the_named_variables_win(conf_file):
    config = load_config(conf_file, environ={
        "CLEARML_AGENT__AGENT__DOCKER_CONTAINER_NAME_FORMAT": '"quoted-{task_id}"',
        "CLEARML_AGENT__AGENT__WORKER_ID": "generic", "CLEARML_WORKER_ID": "named"})
    assert config.get("agent.docker_container_name_format") == "quoted-{task_id}"
    assert config.get("agent.worker_id") == "named"


@pytest.mark.parametrize("name, value, message", [
    ("CLEARML_AGENT__AGENT__NO_SUCH_KEY", "1", "CLEARML_AGENT__AGENT__NO_SUCH_KEY: agent.no_such_key: unknown key"),
    ("CLEARML_AGENT__AGENT__VENVS_CACHE__MAX_ENTRIES", "ten", "agent.venvs_cache.max_entries: expected an integer"),
    ("CLEARML_AGENT__AGENT__DEFAULT_DOCKER", "plain", "agent.default_docker: expected a section"),
    ("CLEARML_AGENT__AGENT____X", "1", "is not a configuration key"),
])
def test_a_bad_generic_variable_is_refused_naming_it(conf_file, name, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(conf_file, environ={name: value})


def test_docker_labels_and_arguments_from_the_environment_split_as_a_shell_would(conf_file):
    config = load_config(conf_file, environ={
        "CLEARML_AGENT_EXTRA_DOCKER_LABELS": "team=ml 'note=a, b' solo",
        "CLEARML_AGENT_EXTRA_DOCKER_ARGS": "--gpus device=0,1 -e A=1"})
    assert config.get("agent.extra_docker_labels") == ["team=ml", "note=a, b", "solo"]
    assert config.get("agent.extra_docker_arguments") == ["--gpus", "device=0,1", "-e", "A=1"]


# -- the restart policy's condition --------------------------------------------------------------------------
INSTANCE = {"id": "t1", "application": {"app_id": "a", "version": "1.0.0", "resumable": True},
            "priority": 2, "container": {"image": "img:1"}, "hyperparams": {"G": {"n": {"value": ""}}}}


@pytest.mark.parametrize("value, task, expected", [
    (RESTART, INSTANCE, "on-failure"),
    ("on-failure;application.resumable=yes", INSTANCE, "on-failure"),          # booleans as strtobool reads them
    ("on-failure;application.resumable=False", INSTANCE, None),
    (RESTART, {**INSTANCE, "application": {"resumable": False}}, None),
    (RESTART, {"id": "plain-task"}, None),                                      # not an app instance
    ("always;priority=2.0", INSTANCE, "always"),                                # numbers as numbers
    ("always;priority=3", INSTANCE, None),
    ("always;container.image=img:1", INSTANCE, "always"),                       # text as text
    ("always;application", INSTANCE, "always"),                                 # no value: the field exists
    ("always;application.launch_params=", INSTANCE, None),
    ("always;hyperparams.G.n.value=", INSTANCE, "always"),
    ("unless-stopped", {"id": "x"}, "unless-stopped"),
])
def test_the_restart_condition_compares_as_the_task_field_is_typed(value, task, expected):
    policy = restart_policy(value, task)
    assert (policy or {}).get("Name") == expected


@pytest.mark.parametrize("value, said", [
    ("sometimes;application.resumable=True", "expected no, always, unless-stopped or on-failure"),
    ("on-failure;application.resumable=maybe", "'maybe' is not a boolean"),
    ("on-failure;priority=high", "priority is a number"),
])
def test_a_bad_restart_value_warns_and_means_no_policy(value, said):
    warnings = []
    assert restart_policy(value, INSTANCE, warnings.append) is None
    assert len(warnings) == 1 and said in warnings[0] and "CLEARML_AGENT_SERVICES_DOCKER_RESTART" in warnings[0]


# -- container names and labels ------------------------------------------------------------------------------
@pytest.fixture
def config(conf_file):
    return load_config(conf_file, environ={})


def test_the_documented_name_format(config):
    config.set("agent.docker_container_name_format", "custom-app-{task_id}-{rand_string:.8}")
    name = container_name(config, {"id": "0a1b2c"}, "custom-apps-agent:service:0a1b2c")
    assert re.fullmatch(r"custom-app-0a1b2c-[a-z]{8}", name), name
    assert name != container_name(config, {"id": "0a1b2c"}, "w")   # random per container


def test_name_fields_come_from_the_task_and_ids_are_made_name_safe(config):
    config.set("agent.docker_container_name_format", "{app}-{version}-{worker_id}")
    config.set("agent.docker_container_name_format_fields", {"app": "application.app_id",
                                                             "version": "application.version"})
    assert container_name(config, INSTANCE, "box:cpu:1") == "a-1.0.0-box-cpu-1"


@pytest.mark.parametrize("template, said", [
    ("x-{nope}", "KeyError"),
    ("x-{task_id:d}", "ValueError"),
    ("{task_id", "ValueError"),
    ("-starts-with-a-dash-{task_id}", "which docker refuses"),
    ("has space {task_id}", "which docker refuses"),
])
def test_a_bad_name_format_warns_and_the_default_name_is_used(config, template, said):
    config.set("agent.docker_container_name_format", template)
    warnings = []
    name = container_name(config, {"id": "t1"}, "w", warnings.append)
    assert re.fullmatch(r"trackside-t1-[0-9a-f]{6}", name), name
    assert len(warnings) == 1 and said in warnings[0]


def test_task_containers_carry_the_worker_labels_and_the_extra_ones():
    warnings = []
    labels = task_labels("t1", "agent:service:t1", "agent", ["team=ml", "note=a, b", "solo", "=x",
                                                             "trackside.task=forged"], warnings.append)
    assert labels == {"trackside.task": "t1", "trackside.worker": "agent:service:t1",
                      "clearml-worker-id": "agent:service:t1", "clearml-parent-worker-id": "agent",
                      "team": "ml", "note": "a, b", "solo": ""}
    assert len(warnings) == 2


# -- --use-owner-token in docker mode ------------------------------------------------------------------------
def test_a_container_of_an_owner_token_run_gets_no_agent_credentials(config, tmp_path):
    inner = json.loads(inner_config(config, with_credentials=False))
    assert "credentials" not in inner["api"] and inner["api"]["api_server"] == "http://127.0.0.1:8008"
    assert "S3CRET" not in json.dumps(inner)
    assert json.loads(inner_config(config))["api"]["credentials"]["secret_key"] == "S3CRET"   # without the flag
    task = {**INSTANCE, "container": {"image": "img:1"}}
    environ = {"CLEARML_AGENT_SERVICES_DOCKER_RESTART": RESTART, "TRACKSIDE_AGENT_PARENT_WORKER": "custom-apps-agent",
               "CLEARML_API_SECRET_KEY": "S3CRET"}
    spec = build_spec(task, config, flag=None, inner_command=["execute"], worker="custom-apps-agent:service:t1",
                      task_dir=tmp_path, wheels=tmp_path, agent_venvs=None, environ=environ, owner_token=True)
    assert spec.environment[TOKEN_FILE_ENV] == "/trackside/task/owner.token"
    assert "S3CRET" not in json.dumps(spec.create_kwargs(), default=str)
    assert spec.options["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": 0}
    assert spec.labels["clearml-parent-worker-id"] == "custom-apps-agent"
    # the agent's own variables stay the agent's: the task's process does not inherit them
    from trackside.agent.execute.launch import AGENT_ONLY_ENV
    assert {TOKEN_FILE_ENV, "TRACKSIDE_AGENT_RESTARTABLE", "TRACKSIDE_AGENT_PARENT_WORKER"} <= set(AGENT_ONLY_ENV)
    assert spec.environment["TRACKSIDE_AGENT_RESTARTABLE"] == "1"


def test_the_agent_in_the_container_authenticates_with_the_token_file(tmp_path):
    conf = tmp_path / "clearml.conf"
    conf.write_text('api { api_server: "http://127.0.0.1:8008" }\n')
    token = tmp_path / "owner.token"
    token.write_text("owner-token\n")
    config = load_config(conf, environ={TOKEN_FILE_ENV: str(token)})
    assert config.auth_token == "owner-token" and not config.secret_key
    api = AgentApi.from_config(config)
    assert isinstance(api._session(), _TokenSession) and api.token == "owner-token"
    with pytest.raises(ConfigError, match="credentials"):   # neither a token nor keys
        load_config(conf, environ={})
    # CLEARML_AUTH_TOKEN counts only where no keys are configured
    assert load_config(conf, environ={"CLEARML_AUTH_TOKEN": "t"}).auth_token == "t"
    assert load_config(conf, environ={"CLEARML_AUTH_TOKEN": "t", "CLEARML_API_ACCESS_KEY": "K",
                                      "CLEARML_API_SECRET_KEY": "S"}).auth_token is None


# -- a resumable service's agent inside its container ------------------------------------------------------
class _Api:
    def __init__(self, status: str):
        self.status, self.calls = status, []

    def call(self, endpoint, data=None):
        self.calls.append(endpoint)
        if endpoint == "tasks.get_by_id":
            return {"task": {"id": "t1", "status": self.status, "user": "u1", "script": {}}}
        raise AssertionError(f"unexpected call {endpoint}")


@pytest.mark.parametrize("status", ["stopped", "completed", "queued", "created"])
def test_a_restarted_container_does_not_resume_a_task_that_was_ended(config, monkeypatch, status):
    import io
    from trackside.agent.docker.agent_install import RESTARTABLE_ENV
    from trackside.agent.execute.runner import TaskRunner
    monkeypatch.setenv(RESTARTABLE_ENV, "1")
    api = _Api(status)
    out = io.StringIO()
    runner = TaskRunner(config, api, "t1", full_monitoring=True, stream_logs=False, monitoring=False, out=out)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert runner.run() == 0   # exit 0: docker's on-failure policy leaves the container ended
    finally:   # run() installs the agent's own handlers: this process's stay as they were
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert api.calls == ["tasks.get_by_id"]   # nothing started, no status changed
    assert f"task t1 is {status}: not resuming it" in out.getvalue()


def test_the_owner_token_is_renewed_daily_and_written_back(tmp_path, monkeypatch):
    """A service that runs for weeks renews its token (auth.login with it) and keeps the newest in its file,
    which a restarted container starts from; a refused token is an error (there is nothing to log in with)."""
    import time

    from trackside.agent.api import ApiError
    seen = []

    def answer(self, endpoint, data, authorization):
        seen.append((endpoint, authorization))
        if authorization == "Bearer expired":
            raise ApiError(endpoint, 401, 20, "token expired")
        if endpoint == "auth.login":
            assert data == {"expiration_sec": 30 * 24 * 3600}
            return {"token": f"renewed-{len(seen)}"}
        return {}

    monkeypatch.setattr(_TokenSession, "_request", answer)
    file = tmp_path / "owner.token"
    file.write_text("first")
    api = AgentApi("http://127.0.0.1:1", "", "", token="first", token_file=file)
    api.call("tasks.get_all")
    assert seen == [("tasks.get_all", "Bearer first")]   # renewed a day after the last renewal, not before
    api._renewed = time.monotonic() - 25 * 3600
    api.call("tasks.get_all")
    assert seen[1:] == [("auth.login", "Bearer first"), ("tasks.get_all", "Bearer renewed-2")]
    assert file.read_text() == "renewed-2" and oct(file.stat().st_mode & 0o777) == "0o600"
    assert api.renew_token() == "renewed-4" and file.read_text() == "renewed-4"
    stale = AgentApi("http://127.0.0.1:1", "", "", token="expired")
    with pytest.raises(ApiError, match="no credentials to log in with"):
        stale.call("tasks.get_all")


def test_the_daemon_leaves_a_restarting_service_container_to_the_agent_inside(monkeypatch):
    """A killed execute's container is removed, unless docker runs or restarts it under a restart policy."""
    from trackside.agent.docker import container as container_module

    class Container:
        def __init__(self, name, policy, state, status):
            self.name, self.status, self.removed = name, status, False
            self.attrs = {"HostConfig": {"RestartPolicy": {"Name": policy}}, "State": state}

        def remove(self, force):
            self.removed = force

    left = [Container("plain", "", {"Running": True}, "running"),
            Container("service-restarting", "on-failure", {"Restarting": True}, "restarting"),
            Container("service-running", "on-failure", {"Running": True}, "running"),
            Container("service-ended", "on-failure", {}, "exited")]

    class Engine:
        class containers:
            @staticmethod
            def list(all, filters):
                assert filters == {"label": ["trackside.task=t1", "trackside.worker=w"]}
                return left

    monkeypatch.setattr(container_module, "engine", lambda: Engine())
    removed, kept = container_module.remove_left_behind("t1", "w")
    assert removed == ["plain", "service-ended"] and kept == ["service-restarting", "service-running"]
    assert [c.removed for c in left] == [True, False, False, True]


def test_the_container_gets_git_where_an_apt_image_has_none_unless_the_init_script_is_replaced(config):
    """python:3.x-slim (the custom-apps agent's documented kind of base image) has no git, which the agent inside
    needs to clone an app's code: installed first, as clearml-agent's default init does."""
    import subprocess
    from pathlib import Path

    from trackside.agent.docker.agent_install import DEFAULT_INIT_SCRIPT, bootstrap_script
    from trackside.agent.docker.spec import init_script
    script = bootstrap_script(["echo task-setup"], ["execute"], Path("/w/1.0-aaaa"), init_script=init_script(config))
    assert "apt-get install -y -qq --no-install-recommends git" in script
    assert script.index("command -v git") < script.index("echo task-setup")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0   # the shell parses it
    config.set("agent.docker_preprocess_bash_script", ["echo first"])
    assert init_script(config) == ["echo first", *DEFAULT_INIT_SCRIPT]
    config.set("agent.docker_init_bash_script", ["echo mine"])
    assert init_script(config) == ["echo first", "echo mine"]
    assert "command -v git" not in bootstrap_script([], ["execute"], Path("/w/1.0-aaaa"), init_script=["echo mine"])
