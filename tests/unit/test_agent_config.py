"""The agent's clearml.conf loader: defaults, validation naming the key, environment overrides."""
from __future__ import annotations

import pytest

from trackside.agent.config import ConfigError, load_config

API = 'api { api_server: "http://127.0.0.1:8008", credentials { access_key: "K", secret_key: "S" } }\n'


def write(tmp_path, text: str):
    path = tmp_path / "clearml.conf"
    path.write_text(API + text)
    return path


def test_defaults_fill_every_agent_key(tmp_path):
    config = load_config(write(tmp_path, ""), environ={})
    assert config.get("agent.package_manager.type") == "pip"
    assert config.get("agent.venvs_cache.max_entries") == 10
    assert config.get("agent.vcs_cache.enabled") is True
    assert config.get("agent.venvs_dir").endswith(".clearml/venvs-builds")
    assert not config.get("agent.venvs_dir").startswith("~")
    assert (config.api_server, config.access_key, config.secret_key) == ("http://127.0.0.1:8008", "K", "S")


def test_given_values_are_typed(tmp_path):
    config = load_config(write(tmp_path, """agent {
        package_manager { type: POETRY, extra_index_url: "http://index", system_site_packages: "true" }
        venvs_cache.max_entries: "3"
        venvs_cache.free_space_threshold_gb: 1
        environment { A: "1" }
    }"""), environ={})
    assert config.get("agent.package_manager.type") == "poetry"
    assert config.get("agent.package_manager.extra_index_url") == ["http://index"]
    assert config.get("agent.package_manager.system_site_packages") is True
    assert config.get("agent.venvs_cache.max_entries") == 3
    assert config.get("agent.venvs_cache.free_space_threshold_gb") == 1.0
    assert config.get("agent.environment") == {"A": "1"}


def test_other_sections_are_left_to_their_owners(tmp_path):
    config = load_config(write(tmp_path, "sdk { development { anything: 1 } }\napi { http { retries: 2 } }"),
                         environ={})
    assert config.get("sdk.development.anything") == 1
    assert config.get("api.http.retries") == 2


@pytest.mark.parametrize("text, message", [
    ("agent { venv_cache { max_entries: 3 } }", "agent.venv_cache: unknown key"),
    ("agent { package_manager { typo: 1 } }", "agent.package_manager.typo: unknown key"),
    ("agent { venvs_cache { max_entries: ten } }", "agent.venvs_cache.max_entries: expected an integer, got 'ten'"),
    ("agent { package_manager { type: mamba } }", "agent.package_manager.type: expected one of pip, conda, poetry"),
    ("agent { vcs_cache { enabled: maybe } }", "agent.vcs_cache.enabled: expected true or false, got 'maybe'"),
    ("agent { package_manager: pip }", "agent.package_manager: expected a section"),
    ("agent { environment: [1, 2] }", "agent.environment: expected an object"),
    ("agent { git_user: [a] }", "agent.git_user: expected a string"),
])
def test_bad_agent_keys_are_refused_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "agent {\n  worker_id: \"a\"\n  venvs_dir = [\n")
    with pytest.raises(ConfigError, match=rf"{path}: "):
        load_config(path, environ={})


def test_environment_overrides_the_file(tmp_path):
    config = load_config(write(tmp_path, 'agent { worker_id: "from-file", git_user: "u" }'), environ={
        "CLEARML_WORKER_ID": "from-env", "TRAINS_WORKER_NAME": "legacy", "CLEARML_AGENT_GIT_PASS": "tok",
        "CLEARML_API_HOST": "http://api:8008", "CLEARML_AGENT_VENV_CACHE_PATH": "~/cache",
        "CLEARML_CPU_ONLY": "1", "CLEARML_AGENT_EXTRA_DOCKER_ARGS": "--ipc=host,--shm-size=1g",
    })
    assert config.get("agent.worker_id") == "from-env"
    assert config.get("agent.worker_name") == "legacy"
    assert config.get("agent.git_pass") == "tok"
    assert config.api_server == "http://api:8008"
    assert not config.get("agent.venvs_cache.path").startswith("~")
    assert config.get("agent.cpu_only") is True
    assert config.get("agent.extra_docker_arguments") == ["--ipc=host", "--shm-size=1g"]
    assert config.overrides["agent.worker_id"] == "CLEARML_WORKER_ID"


def test_a_wrong_typed_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="CLEARML_CPU_ONLY: agent.cpu_only: expected true or false"):
        load_config(write(tmp_path, ""), environ={"CLEARML_CPU_ONLY": "sometimes"})


def test_no_file_is_fine_when_the_environment_has_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/clearml.conf
    config = load_config(environ={"CLEARML_API_HOST": "http://h:8008", "CLEARML_API_ACCESS_KEY": "K",
                                  "CLEARML_API_SECRET_KEY": "S"})
    assert config.path is None and config.api_server == "http://h:8008"


def test_missing_credentials_say_how_to_fix(tmp_path):
    path = tmp_path / "clearml.conf"
    path.write_text("agent { }")
    with pytest.raises(ConfigError, match="api.api_server, api.credentials.access_key.*trackside-agent init"):
        load_config(path, environ={})


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(environ={"CLEARML_CONFIG_FILE": str(tmp_path / "nope.conf")})
