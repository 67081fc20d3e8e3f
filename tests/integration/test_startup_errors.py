"""A configuration mistake stops the API at start-up with one clear line on stderr, not a traceback.

Each test runs ``python -m trackside.api`` (or gunicorn on the WSGI entry point) as a real subprocess and
watches it: it must exit non-zero on its own within ``EXIT_WITHIN`` seconds. A process still running then
(or one whose gunicorn master keeps re-booting workers that die on the same error) is stopped by the test.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackside.shared.embedded.process import free_port

EXIT_WITHIN = 20.0
CONFIG_ERROR = "configuration error"


@dataclass
class Outcome:
    returncode: int | None  # None: it was still running and the test stopped it
    stderr: str
    seconds: float
    respawning: bool  # the same error was printed again and again: gunicorn re-booting failing workers

    def lines_with(self, fragment: str) -> list[str]:
        return [line for line in self.stderr.splitlines() if fragment in line]

    def describe(self) -> str:
        state = "still running" if self.returncode is None else f"exit code {self.returncode}"
        loop = " (gunicorn kept re-booting workers)" if self.respawning else ""
        return f"{state} after {self.seconds:.1f}s{loop}; stderr tail:\n{self.stderr[-3000:]}"


def clean_env(**overrides: str) -> dict:
    """This interpreter's environment without any ClearML/Trackside settings, plus ``overrides``."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CLEARML", "TRAINS", "TRACKSIDE_API_"))
    }
    # Whatever happens, never bind the well-known port or reach a real database.
    env["CLEARML__APISERVER__LISTEN__PORT"] = str(free_port())
    env["CLEARML_MONGODB_SERVICE_HOST"] = "127.0.0.1"
    env["CLEARML_MONGODB_SERVICE_PORT"] = str(free_port())
    env.update(overrides)
    return env


def run_until_exit(argv: list[str], env: dict, work_dir: Path, repeated_marker: str = CONFIG_ERROR) -> Outcome:
    """Run ``argv`` in its own session; stop it (its process group only) if it outlives ``EXIT_WITHIN``."""
    stderr_path = work_dir / "stderr.log"
    started = time.monotonic()
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,
        )
        respawning = False
        try:
            while process.poll() is None and time.monotonic() - started < EXIT_WITHIN:
                # Two workers may each report once; more than that is a respawn loop that never ends.
                if stderr_path.read_text(errors="replace").count(repeated_marker) > 2:
                    respawning = True
                    break
                time.sleep(0.1)
        finally:
            returncode = process.poll()
            if returncode is None:
                _stop_group(process)
    return Outcome(returncode, stderr_path.read_text(errors="replace"), time.monotonic() - started, respawning)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop the process this test started and its children (its own session, led by its pid)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def api_command() -> list[str]:
    return [sys.executable, "-m", "trackside.api"]


def gunicorn_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "trackside.api.wsgi:app",
    ]


def assert_clean_failure(outcome: Outcome, *fragments: str) -> None:
    assert outcome.returncode is not None, f"did not exit on its own: {outcome.describe()}"
    assert outcome.returncode != 0, outcome.describe()
    assert "Traceback" not in outcome.stderr, outcome.describe()
    lines = outcome.lines_with(fragments[0])
    assert len(lines) == 1, f"expected ONE line naming {fragments[0]!r}: {outcome.describe()}"
    for fragment in fragments[1:]:
        assert fragment in lines[0], f"{fragment!r} missing from {lines[0]!r}"
    assert len(lines[0]) < 500, lines[0]


# -- errors found while reading the configuration (before gunicorn starts) -------------------------------

BROKEN_FILES = [
    pytest.param("apiserver.conf", "x = 1\ny = 2\nlisten { port: 8008", "line 3", id="apiserver-unclosed-brace"),
    pytest.param("apiserver.conf", "x = 1\ny = 2\nz = }\n", "line 3", id="apiserver-stray-brace"),
    pytest.param("services/tasks.conf", "a = 1\nb = 2\nc = [1, 2", "line 3", id="services-folder-unclosed-list"),
]


@pytest.mark.parametrize("relative, text, line", BROKEN_FILES)
def test_broken_conf_file_stops_start_up(tmp_path, relative, text, line):
    config = tmp_path / "config"
    path = config / relative
    path.parent.mkdir(parents=True)
    path.write_text(text)
    outcome = run_until_exit(api_command(), clean_env(CLEARML_CONFIG_DIR=str(config)), tmp_path)
    assert_clean_failure(outcome, str(path), line, CONFIG_ERROR)


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"CLEARML__APISERVER__CORS__ORIGINS": "[1, 2"}, "CLEARML__APISERVER__CORS__ORIGINS"),
        ({"CLEARML_MONGODB_SERVICE_PORT": "not-a-port"}, "CLEARML_MONGODB_SERVICE_PORT"),
        ({"CLEARML_CONFIG_DIR": "/nonexistent/trackside-tests/config"}, "/nonexistent/trackside-tests/config"),
    ],
    ids=["bad-dynamic-override", "bad-service-port", "missing-config-dir"],
)
def test_bad_environment_stops_start_up(tmp_path, overrides, named):
    outcome = run_until_exit(api_command(), clean_env(**overrides), tmp_path)
    assert_clean_failure(outcome, named, CONFIG_ERROR)


# -- errors found while building the app (inside gunicorn workers) ---------------------------------------

def test_empty_token_secret_stops_start_up(tmp_path):
    """The shipped secure.conf has ``auth.token_secret: ""``; with no override the API must refuse to start.

    The check runs in AuthService before any database access, so no Mongo-wire server is needed; the Mongo
    variables point at a closed port so that a change of order shows up as a failure, not a hang.
    """
    config = tmp_path / "config"  # exists, holds no secure.conf
    config.mkdir()
    outcome = run_until_exit(api_command(), clean_env(CLEARML_CONFIG_DIR=str(config)), tmp_path)
    assert_clean_failure(outcome, "auth.token_secret")


def test_broken_conf_file_stops_gunicorn_wsgi_entry_point(tmp_path):
    """``gunicorn trackside.api.wsgi:app`` (the documented WSGI entry point) with a broken file."""
    config = tmp_path / "config"
    config.mkdir()
    path = config / "apiserver.conf"
    path.write_text("x = 1\ny = 2\nz = }\n")
    env = clean_env(CLEARML_CONFIG_DIR=str(config))
    outcome = run_until_exit(gunicorn_command(free_port()), env, tmp_path)
    assert_clean_failure(outcome, str(path), "line 3", CONFIG_ERROR)
