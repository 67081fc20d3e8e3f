"""Run scripts with the real clearml SDK / clearml-agent from their own venv (.venv-clients)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENTS_PYTHON = REPO / ".venv-clients" / "bin" / "python"
SCRIPTS = REPO / "tests" / "clients"

# What the SDK prints when it is unhappy with a server: any of these in its output fails a compatibility test.
SERVER_COMPLAINTS = re.compile(
    r"(?i)(traceback|exception|error|warning|failed|retrying|could not|cannot|unable|not supported)"
)
# Notices about this machine, not the server: no GPU (NVML) here.
MACHINE_NOTICES = re.compile(r"(?i)(gpu|nvml)")


@dataclass
class ClientRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])

    def complaints(self) -> list[str]:
        lines = (self.stdout + "\n" + self.stderr).splitlines()
        return [line for line in lines if SERVER_COMPLAINTS.search(line) and not MACHINE_NOTICES.search(line)]


# The SDK's reporting in a thread of the script instead of its forked subprocess. The server sees the same
# calls; the script ends about 15 s sooner per task: in subprocess mode Task.flush waits out the reporter's 5 s
# period and Task.close its 10 s liveness check (clearml 2.1.12, whatever the server). For tests whose SDK run
# only makes data for something else; the tests of the SDK itself keep its defaults.
THREAD_REPORTING_CONF = "sdk { development { report_use_subprocess: false } }\n"


def client_env(api_url: str, key: str, secret: str, home: Path, files_url: str | None = None,
               thread_reporting: bool = False) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    if thread_reporting:
        (home / "clearml.conf").write_text(THREAD_REPORTING_CONF)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML", "TRAINS"))}
    env.update({
        "HOME": str(home),  # no ~/clearml.conf (but thread_reporting's) and a fresh ~/.clearml cache per run
        "CLEARML_API_HOST": api_url,
        "CLEARML_WEB_HOST": api_url.replace("http://", "http://web."),  # printed in links, never requested
        "CLEARML_FILES_HOST": files_url or api_url,
        "CLEARML_API_ACCESS_KEY": key,
        "CLEARML_API_SECRET_KEY": secret,
        "PYTHONUNBUFFERED": "1",
    })
    return env


def run_client_script(script: str, args: list[str], env: dict, timeout: float = 180) -> ClientRun:
    """Run ``tests/clients/<script>`` from a copy in the client's HOME, like a user's script outside our repo
    (inside it, the SDK would inspect this repository's git state)."""
    if not CLIENTS_PYTHON.exists():
        raise RuntimeError(f"{CLIENTS_PYTHON} is missing: run `make setup`")
    copy = Path(env["HOME"]) / script
    shutil.copyfile(SCRIPTS / script, copy)
    proc = subprocess.Popen([str(CLIENTS_PYTHON), str(copy), *args], env=env, cwd=env["HOME"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"{script} did not finish in {timeout:.0f} s:\n{stdout[-3000:]}\n{stderr[-3000:]}") from None
    return ClientRun(proc.returncode, stdout, stderr)
