"""`trackside-agent init`: the wizard on a real terminal-less stdin, and the scripted form, against the API."""
from __future__ import annotations

import stat
import subprocess

import pytest

from support.our_agent import AGENT_BIN
from trackside.agent.config import load_config
from trackside.agent.init_wizard import derive_hosts, parse_pasted


def run_init(tmp_path, *args, stdin: str = ""):
    conf = tmp_path / "clearml.conf"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(AGENT_BIN), "--config-file", str(conf), "init", *args], input=stdin,
                            capture_output=True, text=True, env=env, timeout=60)
    return result, conf


def pasted_block(server) -> str:
    return ("api {\n  web_server: http://127.0.0.1:8080\n  api_server: " + server.url + "\n"
            "  files_server: http://127.0.0.1:8081\n  credentials {\n"
            f'    "access_key" = "{server.key}"\n    "secret_key"  = "{server.secret}"\n  }}\n}}\n')


def test_the_wizard_writes_a_loadable_private_file(tmp_path, api_server):
    answers = pasted_block(api_server) + "\n" + "\n" + "\n" + "gituser\n" + "gh_token_123456\n" + \
        "http://index.local/simple\n" + "\n"
    result, conf = run_init(tmp_path, stdin=answers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Credentials verified." in result.stdout
    assert api_server.secret not in result.stdout + result.stderr
    assert "gh_token_123456" not in result.stdout + result.stderr
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    config = load_config(conf, environ={})
    assert config.api_server == api_server.url
    assert (config.access_key, config.secret_key) == (api_server.key, api_server.secret)
    assert config.files_server == "http://127.0.0.1:8081"
    assert config.get("agent.git_user") == "gituser"
    assert config.get("agent.git_pass") == "gh_token_123456"
    assert config.get("agent.package_manager.extra_index_url") == ["http://index.local/simple"]


def test_an_existing_file_is_never_overwritten(tmp_path, api_server):
    conf = tmp_path / "clearml.conf"
    conf.write_text("# mine\n")
    result, _ = run_init(tmp_path, stdin=pasted_block(api_server))
    assert result.returncode == 0
    assert "already exists" in result.stdout
    assert conf.read_text() == "# mine\n"


def test_non_interactive_flags_for_scripted_installs(tmp_path, api_server):
    result, conf = run_init(tmp_path, "--non-interactive", "--api-host", api_server.url,
                            "--access-key", api_server.key, "--secret-key", api_server.secret,
                            "--git-user", "bot", "--git-pass", "tok-abcdef")
    assert result.returncode == 0, result.stdout + result.stderr
    config = load_config(conf, environ={})
    assert config.api_server == api_server.url
    assert config.get("agent.git_user") == "bot"
    assert "tok-abcdef" not in result.stdout


def test_non_interactive_names_missing_flags(tmp_path):
    result, conf = run_init(tmp_path, "--non-interactive", "--api-host", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "--access-key, --secret-key" in result.stderr
    assert not conf.exists()


def test_refused_credentials_are_reported_but_the_file_is_written(tmp_path, api_server):
    result, conf = run_init(tmp_path, "--non-interactive", "--api-host", api_server.url,
                            "--access-key", "nobody", "--secret-key", "wrong-secret")
    assert result.returncode == 0
    assert "could not verify the credentials: the server refused" in result.stdout
    assert "wrong-secret" not in result.stdout
    assert conf.exists()


@pytest.mark.parametrize("given, api, files", [
    ("http://localhost:8080", "http://localhost:8008", "http://localhost:8081"),
    ("https://app.example.com", "https://api.example.com", "https://files.example.com"),
    ("api.example.com:443", "http://api.example.com:443", "http://files.example.com:443"),
    ("http://proxy:9000", "http://proxy:9000", "http://proxy:9000"),
])
def test_hosts_are_derived_from_any_one(given, api, files):
    hosts = derive_hosts(given)
    assert (hosts["api"], hosts["files"]) == (api, files)


def test_a_pasted_block_without_the_api_wrapper():
    found = parse_pasted('credentials { "access_key" = "AK", "secret_key" = "SK" }\napi_server: "http://h:8008"')
    assert found == {"access_key": "AK", "secret_key": "SK", "api_server": "http://h:8008"}


def test_a_secret_that_begins_with_a_dash_is_taken_as_the_flags_value():
    """Secrets are base64url: one of 64 begins with "-", and pasting it after the flag must still work."""
    from trackside.agent.cli import _join_secret_values
    assert _join_secret_values(["init", "--secret-key", "-abc", "--git-pass", "-x", "--non-interactive"]) == \
        ["init", "--secret-key=-abc", "--git-pass=-x", "--non-interactive"]
    assert _join_secret_values(["init", "--secret-key", "--non-interactive"]) == \
        ["init", "--secret-key", "--non-interactive"]
