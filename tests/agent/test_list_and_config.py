"""`trackside-agent list` (the table; the JSON form runs against a live daemon in test_daemon.py) and
`trackside-agent config` (the effective configuration, secrets hidden)."""
from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

from support.our_agent import AGENT_BIN, AgentHome
from trackside.agent.list_workers import format_table

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_the_table_shows_queue_names_the_running_task_and_how_long_ago():
    rows = [
        {"id": "box:gpu0:1a2b3c4d", "queues": [{"id": "q1", "name": "high"}, {"id": "q2", "name": "low"}],
         "task": {"id": "t1", "name": "train"}, "last_activity": "2026-01-01T11:59:55.000+00:00"},
        {"id": "box:cpu:5e6f7a8b", "queues": [], "task": None, "last_activity": "2026-01-01T11:50:00.000+00:00"},
    ]
    lines = format_table(rows, NOW).splitlines()
    assert lines[0].split() == ["WORKER", "QUEUES", "RUNNING", "TASK", "LAST", "ACTIVITY"]
    assert lines[1].split() == ["box:gpu0:1a2b3c4d", "high,", "low", "t1", "(train)", "5", "s", "ago"]
    assert lines[2].split() == ["box:cpu:5e6f7a8b", "-", "-", "10", "min", "ago"]
    assert format_table([], NOW) == "No workers."


def test_list_against_the_api_succeeds_and_prints_json(tmp_path, api_server):
    home = AgentHome.create(tmp_path, api_server)
    listed = home.run("list", "--json", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)


CONF = """
api { api_server: "https://robot:s3cr3t-token@api.example.com", web_server: "https://app.example.com",
      files_server: "https://files.example.com",
      credentials { access_key: "AKEY123", secret_key: "THE-SECRET-KEY" } }
agent {
  git_user: "me", git_pass: "ghp_gitpassword", enable_git_ask_pass: true,
  environment { DB_URL: "postgres://u:p@db/x" }
  extra_docker_arguments: ["-e", "HF_TOKEN=hf_abcdef", "--env=PLAIN=visible", "-v", "/data:/data"]
  package_manager { extra_index_url: ["https://pypi-user:pypi-pass@pypi.example.com/simple"] }
}
sdk { aws { s3 { key: "AWSKEY", secret: "AWS-SECRET-VALUE" } } }
"""
SECRETS = ["s3cr3t-token", "THE-SECRET-KEY", "ghp_gitpassword", "postgres://u:p@db", "hf_abcdef", "pypi-pass",
           "AWS-SECRET-VALUE"]


def run_config(tmp_path, *args):
    conf = tmp_path / "clearml.conf"
    conf.write_text(CONF)
    return subprocess.run([str(AGENT_BIN), "--config-file", str(conf), "config", *args], capture_output=True,
                          text=True, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=60)


def test_config_prints_every_effective_key_with_secrets_hidden(tmp_path):
    result = run_config(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert not [secret for secret in SECRETS if secret in out]
    for line in ['api.api_server = "https://api.example.com"', 'api.credentials.access_key = "AKEY123"',
                 'api.credentials.secret_key = "********"', 'agent.git_pass = "********"',
                 'agent.git_user = "me"', 'agent.enable_git_ask_pass = true', 'agent.environment.DB_URL = "********"',
                 'agent.extra_docker_arguments = ["-e", "HF_TOKEN=********", "--env=PLAIN=visible", "-v", "/data:/data"]',
                 'agent.package_manager.extra_index_url = ["https://pypi.example.com/simple"]',
                 'sdk.aws.s3.secret = "********"', 'agent.status_report_interval_sec = 30.0',
                 'agent.sanitize_config_printout.hide_secrets = ["secret", "pass", "token", "account_key", "contents"]']:
        assert line in out.splitlines(), line


def test_config_json_is_the_same_tree(tmp_path):
    result = run_config(tmp_path, "--json")
    tree = json.loads(result.stdout)
    assert tree["api"]["credentials"] == {"access_key": "AKEY123", "secret_key": "********"}
    assert tree["agent"]["worker_id"] == ""  # empty values stay visible: "not set"
    assert not [secret for secret in SECRETS if secret in result.stdout]
