"""The file server's configuration: `fileserver.conf` keys and overrides, auth on by default (off only when
asked, and loudly), CORS, the upload size limit, and start-up errors as one clear line."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from support.files import FilesClient
from support.names import unique
from support.suite import start_fileserver, stop_in_background
from trackside.shared.embedded.process import free_port

ALLOWED_ORIGIN = "http://ui.example"


def clean_env(config_dir: Path, **overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML", "TRAINS", "TRACKSIDE_"))}
    env.update({"CLEARML_CONFIG_DIR": str(config_dir), "CLEARML__FILESERVER__LISTEN__PORT": str(free_port())})
    env.update(overrides)
    return env


def run_to_exit(argv: list[str], env: dict, within: float = 20.0) -> subprocess.CompletedProcess:
    """Run ``argv`` in its own session; a process still running after ``within`` seconds fails the test."""
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{argv} was still running after {within} s")
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def assert_one_clear_line(run: subprocess.CompletedProcess, *fragments: str) -> None:
    assert run.returncode not in (0, None), run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, run.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def empty_config(tmp_path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    return folder


# -- start-up errors ----------------------------------------------------------------------------------------
def test_auth_without_a_token_secret_stops_start_up(tmp_path, empty_config):
    """The shipped secure.conf has no token secret: with auth on (the default), no start."""
    run = run_to_exit([sys.executable, "-m", "trackside.fileserver"],
                      clean_env(empty_config, CLEARML_UPLOAD_FOLDER=str(tmp_path / "files")))
    assert run.returncode == 2
    assert_one_clear_line(run, "auth.token_secret")


def test_the_console_script_checks_the_same(tmp_path, empty_config):
    script = Path(sys.executable).with_name("trackside-fileserver")
    run = run_to_exit([str(script)], clean_env(empty_config, CLEARML_UPLOAD_FOLDER=str(tmp_path / "files")))
    assert_one_clear_line(run, "auth.token_secret")


def test_gunicorn_on_the_wsgi_module_stops_instead_of_respawning(tmp_path, empty_config):
    env = clean_env(empty_config, CLEARML_UPLOAD_FOLDER=str(tmp_path / "files"))
    run = run_to_exit([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{free_port()}", "--workers", "1",
                       "trackside.fileserver.wsgi:app"], env)
    assert "auth.token_secret" in run.stderr and run.returncode != 0
    assert run.stderr.count("configuration error") <= 2, run.stderr  # no respawn loop


@pytest.mark.parametrize("overrides, fragment", [
    ({"CLEARML__FILESERVER__LISTEN__PORT": "not-a-port"}, "fileserver.conf"),
    ({"CLEARML__FILESERVER__UPLOAD__MAX_UPLOAD_SIZE_MB": "[1]"}, "fileserver.conf"),
    ({"CLEARML_UPLOAD_FOLDER": "/proc/trackside-cannot-be-here"}, "upload_folder"),
    ({"CLEARML__HOSTS__MONGO__AUTH__HOST": '"mongodb://127.0.0.1:1/"'}, "hosts.mongo.auth.host"),  # revocations
], ids=["port", "max-upload-size", "folder", "auth-database"])
def test_bad_settings_stop_start_up(tmp_path, empty_config, overrides, fragment):
    (empty_config / "secure.conf").write_text('auth { token_secret: "a-long-enough-secret-for-the-tests-123" }\n')
    env = clean_env(empty_config, **{"CLEARML_UPLOAD_FOLDER": str(tmp_path / "files"), **overrides})
    run = run_to_exit([sys.executable, "-m", "trackside.fileserver"], env)
    assert run.returncode == 2
    assert_one_clear_line(run, fragment)


def test_an_existing_file_as_upload_folder_stops_start_up(tmp_path, empty_config):
    (empty_config / "secure.conf").write_text('auth { token_secret: "a-long-enough-secret-for-the-tests-123" }\n')
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    run = run_to_exit([sys.executable, "-m", "trackside.fileserver"],
                      clean_env(empty_config, CLEARML_UPLOAD_FOLDER=str(not_a_folder)))
    assert_one_clear_line(run, "upload_folder", str(not_a_folder))


# -- auth turned off explicitly, CORS and the size limit (one server for these) ------------------------------
@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """Auth off by configuration, and no token secret anywhere: it must not be needed then."""
    work = tmp_path_factory.mktemp("open-fileserver")
    (work / "config").mkdir()
    server = start_fileserver(work / "config", work, extra_env={
        "CLEARML__FILESERVER__AUTH__ENABLED": "false",
        "CLEARML__FILESERVER__CORS__ORIGINS": f'["{ALLOWED_ORIGIN}"]',
        "CLEARML__FILESERVER__UPLOAD__MAX_UPLOAD_SIZE_MB": "1",
        "CLEARML__FILESERVER__DOWNLOAD__DISABLE_BROWSER_CACHING": "true",
        "CLEARML__FILESERVER__DELETE__ALLOW_BATCH": "false",
    })
    yield server
    stop_in_background(server.process)


def test_auth_off_is_announced_in_the_log(open_server):
    log = open_server.process.log_path.read_text()
    assert "WARNING: file server authentication is OFF" in log  # trackside-fileserver, before gunicorn
    assert log.count("authentication is OFF") >= 2  # and each worker


def test_auth_off_serves_without_a_token(open_server):
    client = FilesClient(open_server.url)
    name = f"{unique('open')}/x.txt"
    assert client.upload(name, b"x").status_code == 200
    reply = client.get(name)
    assert reply.content == b"x"
    assert "no-store" in reply.headers["Cache-Control"]  # download.disable_browser_caching


def test_batch_delete_can_be_turned_off(open_server):
    assert FilesClient(open_server.url).delete_many(["x"]).status_code == 405


def test_uploads_above_the_size_limit_are_413_and_write_nothing(open_server):
    before = sorted(open_server.root.rglob("*"))
    # A declared length above the limit is refused before any of the body is read.
    address = urlsplit(open_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: files\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 2097152\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")
    # A chunked body is cut off once it passes the limit. The server answers 413 and closes while the
    # client is still sending, so the client may see only the closed connection.
    try:
        status = FilesClient(open_server.url).upload_stream(f"{unique('huge')}/x.bin", iter([b"\0" * 2**21])).status_code
    except requests.ConnectionError:
        status = 413
    assert status == 413
    assert sorted(open_server.root.rglob("*")) == before


def test_cors_for_the_configured_origins(open_server):
    name = f"{unique('cors')}/x.txt"
    FilesClient(open_server.url).upload(name, b"x")
    allowed = requests.get(f"{open_server.url}/{name}", headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Content-Range" in allowed.headers["Access-Control-Expose-Headers"]
    other = requests.get(f"{open_server.url}/{name}", headers={"Origin": "http://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = requests.options(f"{open_server.url}/", headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization"})
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_no_cors_headers_by_default(fileserver):
    reply = requests.get(f"{fileserver.url}/", headers={"Origin": ALLOWED_ORIGIN})
    assert "Access-Control-Allow-Origin" not in reply.headers
