"""The example custom app (examples/apps/numpy-trainer) with real parts, for end-to-end tests:

    url = example_repository(tmp / "git")               # a git remote holding the app's task/ folder
    zip_path = cli_pack(tmp / "numpy-trainer.zip", url)   # `trackside-apps pack`, repository set
    cli_upload(api_url, key, secret, zip_path)            # `trackside-apps upload` (an admin's keys)
    agent = start_custom_apps_agent(tmp, api_server, files_url)  # our daemon as the custom-apps agent
    ...; agent.stop()

The agent runs exactly as the custom-apps service is documented (docs/custom-apps.md "Deployment facts"):
queue ``custom_apps_queue``, worker id ``custom-apps-agent``, ``--services-mode --create-queue
--use-owner-token --child-report-tags application``, in venv mode; task venvs install offline from the
wheelhouse (clearml and numpy, requirements/wheelhouse.txt).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.clients import THREAD_REPORTING_CONF
from support.git_repo import git
from support.our_agent import AgentDaemon, AgentHome
from support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
APP_REL = Path("examples/apps/numpy-trainer")
APP_DIR = REPO / APP_REL
APP_ID, APP_NAME = "numpy-trainer", "NumPy Trainer"
QUEUE, WORKER_ID = "custom_apps_queue", "custom-apps-agent"
APPS_CLI = Path(sys.executable).parent / "trackside-apps"
AGENT_FLAGS = ("--services-mode", "--create-queue", "--use-owner-token", "--child-report-tags", "application",
               "--queue", QUEUE)


def example_repository(root: Path) -> str:
    """A bare git repository whose ``main`` holds the app's ``task/`` folder at its path in this repository
    (the app.conf's ``working_dir``), as a ``file://`` URL the agent can clone."""
    bare, work = root / "trackside.git", root / "trackside-work"
    root.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git("init", "--quiet", "--initial-branch=main", str(work))
    shutil.copytree(APP_DIR / "task", work / APP_REL / "task", ignore=shutil.ignore_patterns("__pycache__"))
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", "the numpy-trainer task", cwd=work)
    git("push", "--quiet", str(bare), "main", cwd=work)
    return f"file://{bare}"


def _run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run([str(APPS_CLI), *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"trackside-apps {args[0]}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def cli_pack(dest: Path, repository: str) -> Path:
    """``trackside-apps pack examples/apps/numpy-trainer --repository URL --output dest``."""
    _run_cli("pack", str(APP_DIR), "--repository", repository, "--output", str(dest))
    assert dest.is_file(), f"trackside-apps pack wrote no {dest}"
    return dest


def cli_upload(api_url: str, key: str, secret: str, *files: Path) -> subprocess.CompletedProcess:
    """``trackside-apps upload --host --user --password --files ...`` (an admin's credentials)."""
    return _run_cli("upload", "--host", api_url, "--user", key, "--password", secret,
                    "--files", *map(str, files))


def start_custom_apps_agent(root: Path, api_server, files_url: str, services: int | None = None) -> AgentDaemon:
    """Our daemon as the custom-apps agent (venv mode), once it waits for work. ``api_server``: url, key and
    secret of an administrator (``--use-owner-token`` asks auth.get_token_for_user for each task's owner)."""
    home = AgentHome.create(root, api_server, {"log_flush_interval_sec": 0.2}, files_url=files_url,
                            extra_env={"CLEARML_WORKER_ID": WORKER_ID})
    with open(home.config_file, "a") as conf:  # the task's SDK reads this file: reports from a thread, ends sooner
        conf.write(THREAD_REPORTING_CONF)
    flags = list(AGENT_FLAGS)
    if services is not None:
        flags[0] = f"--services-mode={services}"
    daemon = home.start_daemon(*flags, name="custom-apps-agent")
    try:
        wait_for(lambda: "waiting for tasks" in daemon.log() or not daemon.running(), timeout=60,
                 what="the custom-apps agent to start")
        assert daemon.running(), daemon.log()[-3000:]
    except BaseException:
        daemon.stop()
        raise
    return daemon
