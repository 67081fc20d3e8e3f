"""The stock clearml-agent daemon (from .venv-clients) as a test process: venv mode, no docker, offline.

Each task gets a fresh virtualenv, as on a user's machine. It stays fast and needs no network: the jobs
are plain Python with no requirements, the pip the venv is seeded with satisfies the agent's pip pin, and
``PIP_NO_INDEX`` makes any download attempt fail at once instead of reaching out.
"""
from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from support.clients import CLIENTS_PYTHON, client_env
from support.processes import stop_process

AGENT = CLIENTS_PYTHON.parent / "clearml-agent"
# The agent polls its queues (and, while a task runs, the task's status for a stop request) this often.
POLL_SEC = 1

CONFIG = """agent {{
    package_manager.system_site_packages: {system_site_packages}
    package_manager.pip_version: ">=20"
    venvs_dir: "{home}/venvs"
    venvs_cache.path: "{venvs_cache}"
    vcs_cache.enabled: false
}}
"""


@dataclass
class StockAgent:
    home: Path
    env: dict
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @classmethod
    def start(cls, api_url: str, key: str, secret: str, home: Path, queue: str = "default", *,
              poll_sec: float = POLL_SEC, system_site_packages: bool = True, venvs_cache: bool = True,
              extra_env: dict | None = None) -> "StockAgent":
        """``venvs_cache``: the agent's venv cache, on by default in clearml-agent 3.0 (kept in ``home``)."""
        env = client_env(api_url, key, secret, home)
        env.update({"CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": str(poll_sec), "PIP_NO_INDEX": "1", **(extra_env or {})})
        (home / "clearml.conf").write_text(CONFIG.format(
            home=home, system_site_packages=str(system_site_packages).lower(),
            venvs_cache=f"{home}/venvs-cache" if venvs_cache else ""))
        log_path = home / "agent.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(AGENT), "daemon", "--queue", queue, "--foreground"], cwd=home, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return cls(home, env, log_path, process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """SIGINT, as a user's Ctrl-C: the agent unregisters and exits. Its poll loop can swallow one
        (a broad except around a call), so it is sent again, but only after 10 s: a second Ctrl-C that
        lands while the agent is still unregistering (slow under load) aborts the unregister call itself.
        Whatever it started and left behind (a task child, the job) is killed afterwards."""
        stop_process(self.process, signal.SIGINT, timeout, resend_every=10.0)
