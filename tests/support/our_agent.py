"""Our ``trackside-agent`` as a test process: a private HOME with its own ``clearml.conf``, offline pip.

    home = AgentHome.create(tmp_path, api_server, {"venvs_cache": {"max_entries": 3}})
    result = home.execute(task_id)                    # a finished `trackside-agent execute --id`
    daemon = home.start_daemon("--queue", "q1")       # a running `trackside-agent daemon`
    ...; daemon.stop()

Pip never reaches out: ``PIP_NO_INDEX`` is set and ``PIP_FIND_LINKS`` points at the wheelhouse that
``make setup`` fills (``.trackside/wheelhouse``) when it exists.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from support.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
AGENT_BIN = Path(sys.executable).parent / "trackside-agent"
WHEELHOUSE = REPO / ".trackside" / "wheelhouse"


def conf_text(api_url: str, key: str, secret: str, agent: dict, files_url: str | None = None) -> str:
    """A clearml.conf: HOCON is a superset of JSON, so the sections are written as JSON."""
    api = {"api_server": api_url, "web_server": api_url, "files_server": files_url or api_url,
           "credentials": {"access_key": key, "secret_key": secret}}
    return "api " + json.dumps(api, indent=2) + "\nagent " + json.dumps(agent, indent=2) + "\n"


@dataclass
class AgentHome:
    path: Path
    config_file: Path
    env: dict

    @classmethod
    def create(cls, root: Path, api_server, agent: dict | None = None, files_url: str | None = None,
               extra_env: dict | None = None) -> "AgentHome":
        path = root / "agent-home"
        path.mkdir(parents=True, exist_ok=True)
        settings = {"venvs_dir": str(path / "venvs-builds"), "venvs_cache": {"path": str(path / "venvs-cache")},
                    "vcs_cache": {"path": str(path / "vcs-cache")},
                    "pip_download_cache": {"path": str(path / "pip-download-cache")}}
        for key, value in (agent or {}).items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        config_file = path / "clearml.conf"
        config_file.write_text(conf_text(api_server.url, api_server.key, api_server.secret, settings, files_url))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML", "TRAINS", "PIP_"))}
        env.update({"HOME": str(path), "CLEARML_CONFIG_FILE": str(config_file), "PYTHONUNBUFFERED": "1",
                    "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        if WHEELHOUSE.is_dir():
            env["PIP_FIND_LINKS"] = str(WHEELHOUSE)
        env.update(extra_env or {})
        return cls(path, config_file, env)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(AGENT_BIN), *args], cwd=self.path, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def execute(self, task_id: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return self.run("execute", "--id", task_id, *args, timeout=timeout)

    def start_execute(self, task_id: str, *args: str, name: str = "execute") -> "AgentDaemon":
        """A running `trackside-agent execute`, for tests that act on it while it runs (stop, signal)."""
        log_path = self.path / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([str(AGENT_BIN), "execute", "--id", task_id, *args], cwd=self.path,
                                       env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return AgentDaemon(log_path, process)

    def start_daemon(self, *args: str, name: str = "daemon") -> "AgentDaemon":
        log_path = self.path / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([str(AGENT_BIN), "daemon", *args], cwd=self.path, env=self.env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return AgentDaemon(log_path, process)


@dataclass
class AgentDaemon:
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (what a service manager sends); anything it left behind is killed afterwards."""
        stop_process(self.process, signal.SIGTERM, timeout)
