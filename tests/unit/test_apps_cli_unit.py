"""trackside-apps (issue 17 item 2) without the real API: pack and check offline, and upload/delete/list
against a stand-in HTTP server answering with the API's envelope, for the requests the tool sends and for
every failure it must explain (bad credentials, not an admin, a bad package, no server, not the API)."""
from __future__ import annotations

import base64
import email
import email.policy
import json
import shutil
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.app_packages import SIMPLE_APP_CONF, build_zip
from trackside.shared.apps import load_package
from trackside.shared.apps.cli import main, manage_apps_main, upload_apps_main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "apps" / "numpy-trainer"
KEY, SECRET = "AKEY123", "the-secret-never-shown"
PLACEHOLDER = "https://git.example.invalid/trackside.git"


# -- a stand-in API -------------------------------------------------------------------------------------
class FakeApi(ThreadingHTTPServer):
    """Answers POST /<endpoint> from ``replies`` (endpoint -> (status, subcode, message, data, error_data));
    records (endpoint, headers, body) of each request."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict, bytes]] = []
        self.replies: dict = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        endpoint = self.path.lstrip("/")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((endpoint, dict(self.headers), body))
        if endpoint == "auth.login" and endpoint not in self.server.replies:
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
            reply = (200, 0, "OK", {"token": "TOKEN"}, {}) if ok else (401, 22, "invalid credentials", {}, {})
        else:
            reply = self.server.replies.get(endpoint, (200, 0, "OK", {}, {}))
        status, subcode, message, data, error_data = reply
        if status == "html":  # not the API: e.g. the web app's address
            payload, status, kind = b"<html>sign in</html>", 200, "text/html"
        else:
            payload = json.dumps({"meta": {"endpoint": endpoint, "result_code": status, "result_subcode": subcode,
                                           "result_msg": message, "error_data": error_data},
                                  "data": data}).encode()
            kind = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    api = FakeApi()
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield api
    api.shutdown()
    api.server_close()


@pytest.fixture
def fake(server, monkeypatch):
    server.requests.clear()
    server.replies.clear()
    for name in ("CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return server


def creds(server) -> list[str]:
    return ["--host", server.url + "/", "--user", KEY, "--password", SECRET]


def multipart_file(headers: dict, body: bytes) -> tuple[str, str, bytes]:
    message = email.message_from_bytes(f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body,
                                       policy=email.policy.HTTP)
    (part,) = list(message.iter_parts())
    return part.get_param("name", header="content-disposition"), part.get_filename(), part.get_payload(decode=True)


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("packed") / "numpy-trainer.zip"
    assert main(["pack", str(EXAMPLE), "--output", str(out)]) == 0
    return out


# -- pack and check (offline) ---------------------------------------------------------------------------
@pytest.mark.skipif(not shutil.which("zip"), reason="no zip command to compare with")
def test_pack_holds_what_the_documented_zip_command_holds(packed, tmp_path):
    reference = tmp_path / "ref.zip"
    subprocess.run(["zip", "-q", "-r", str(reference), "numpy-trainer.app.conf", "assets/"], cwd=EXAMPLE, check=True)
    with zipfile.ZipFile(reference) as ref, zipfile.ZipFile(packed) as ours:
        assert ours.namelist() == ref.namelist()
        for name in ref.namelist():
            assert ours.read(name) == ref.read(name), name  # nothing changed without --repository/--branch


def test_pack_sets_repository_and_branch_and_keeps_the_conf_text(tmp_path, capsys):
    out = tmp_path / "x.zip"
    assert main(["pack", str(EXAMPLE), "-o", str(out), "--repository", "file:///srv/git/trackside.git",
                 "--branch", "release"]) == 0
    app = load_package(out.read_bytes(), out.name).app
    assert app["task"]["script"]["repository"] == "file:///srv/git/trackside.git"
    assert app["task"]["script"]["branch"] == "release"
    assert app["task"]["script"]["working_dir"] == "examples/apps/numpy-trainer/task"
    with zipfile.ZipFile(out) as archive:
        text = archive.read("numpy-trainer.app.conf").decode()
    assert text.startswith((EXAMPLE / "numpy-trainer.app.conf").read_text())
    assert "file:///srv/git/trackside.git" in capsys.readouterr().out


def test_pack_writes_id_zip_in_the_current_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["pack", str(EXAMPLE)]) == 0
    assert load_package((tmp_path / "numpy-trainer.zip").read_bytes()).app["task"]["script"]["repository"] == PLACEHOLDER


def test_pack_refuses_an_invalid_folder_and_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "simple-app"
    folder.mkdir()
    (folder / "simple-app.app.conf").write_text(SIMPLE_APP_CONF)  # its ${ASSET:..} files are missing
    out = tmp_path / "out.zip"
    assert main(["pack", str(folder), "-o", str(out)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"{folder}: simple-app.app.conf: icon: " in err and "app-simple-app@2x.png" in err
    assert main(["pack", str(tmp_path / "absent")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["pack", str(empty)]) == 1
    assert "needs exactly one *.app.conf (found: none)" in capsys.readouterr().err


def test_check_prints_every_problem_as_file_path_message(packed, tmp_path, capsys):
    conf = SIMPLE_APP_CONF.replace("type: dropdown", "type: slider").replace('"simple-app"', '"other"', 1)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(build_zip({"simple-app.app.conf": conf.encode()}))
    assert main(["check", str(packed), str(bad), str(EXAMPLE)]) == 1
    captured = capsys.readouterr()
    assert f"{packed}: ok: numpy-trainer 1.0.0 (2 assets)" in captured.out
    assert f"{EXAMPLE}: ok: numpy-trainer 1.0.0" in captured.out
    lines = [line for line in captured.err.splitlines() if line.startswith(f"trackside-apps: {bad}: ")]
    problems = load_problems(bad)
    assert len(lines) == len(problems) >= 3
    assert any("simple-app.app.conf: wizard.entries[0].type: " in line for line in lines)
    assert any("simple-app.app.conf: id: " in line for line in lines)
    assert main(["check", str(tmp_path / "absent.zip")]) == 1
    assert "absent.zip: No such file" in capsys.readouterr().err


def load_problems(path: Path) -> list:
    from trackside.shared.apps import PackageError
    with pytest.raises(PackageError) as info:
        load_package(path.read_bytes(), path.name)
    return info.value.problems


# -- against the stand-in API ---------------------------------------------------------------------------
def test_upload_signs_in_like_the_sdk_and_sends_the_file_as_multipart(fake, packed, capsys):
    fake.replies["apps.upload"] = (200, 0, "OK", {"app": {"id": "numpy-trainer", "version": "1.0.0"},
                                                  "replaced": False}, {})
    assert main(["upload", *creds(fake), "--files", str(packed)]) == 0
    (login, login_headers, _), (upload, headers, body) = fake.requests
    assert login == "auth.login" and login_headers["Authorization"].startswith("Basic ")
    assert upload == "apps.upload" and headers["Authorization"] == "Bearer TOKEN"
    assert multipart_file(headers, body) == ("file", "numpy-trainer.zip", packed.read_bytes())
    assert f"{packed}: installed: numpy-trainer 1.0.0" in capsys.readouterr().out


def test_the_reference_script_forms_and_env_credentials(fake, packed, monkeypatch, capsys):
    fake.replies["apps.upload"] = (200, 0, "OK", {"app": {"id": "numpy-trainer", "version": "1.0.0"},
                                                  "replaced": True}, {})
    assert upload_apps_main([*creds(fake), "--files", str(packed), str(packed)]) == 0
    assert [r[0] for r in fake.requests] == ["auth.login", "apps.upload", "apps.upload"]  # one sign-in
    assert "replaced the same version: numpy-trainer 1.0.0" in capsys.readouterr().out
    fake.requests.clear()
    monkeypatch.setenv("CLEARML_API_HOST", fake.url)
    monkeypatch.setenv("CLEARML_API_ACCESS_KEY", KEY)
    monkeypatch.setenv("CLEARML_API_SECRET_KEY", SECRET)
    assert manage_apps_main(["delete", "-app", "numpy-trainer"]) == 0
    assert main(["delete", "--app", "a", "b"]) == 0
    assert [(r[0], json.loads(r[2])) for r in fake.requests if r[0] != "auth.login"] == [
        ("apps.delete", {"app": "numpy-trainer"}), ("apps.delete", {"app": "a"}), ("apps.delete", {"app": "b"})]
    assert "numpy-trainer: deleted" in capsys.readouterr().out


def test_missing_credentials_are_a_usage_error(fake, packed, capsys):
    assert main(["upload", "--host", fake.url, "--files", str(packed)]) == 2
    assert "missing --user, --password" in capsys.readouterr().err
    assert fake.requests == []


def test_list_prints_a_table(fake, capsys):
    fake.replies["apps.get_apps"] = (200, 0, "OK", {"apps": [
        {"id": "numpy-trainer", "version": "1.2.0", "enabled": True, "category": "Training",
         "instances": {"total": 3, "running": 1}},
        {"id": "simple-app", "version": "1.0.0", "enabled": False, "category": None,
         "instances": {"total": 0, "running": 0}}]}, {})
    assert manage_apps_main(["list", *creds(fake)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "ENABLED", "CATEGORY", "INSTANCES"]
    assert lines[1].split() == ["numpy-trainer", "1.2.0", "yes", "Training", "3", "(1", "running)"]
    assert lines[2].split() == ["simple-app", "1.0.0", "no", "-", "0"]
    assert json.loads(fake.requests[-1][2]) == {"include_disabled": True}


def test_bad_credentials_not_admin_and_bad_packages_are_explained(fake, packed, capsys):
    assert main(["upload", "--host", fake.url, "--user", KEY, "--password", "wrong", "--files", str(packed)]) == 1
    err = capsys.readouterr().err
    assert "refused the credentials" in err and "wrong" not in err
    fake.replies["auth.login"] = (429, 1, "too many failed sign-in attempts", {}, {})
    assert main(["list", *creds(fake)]) == 1
    assert "refusing sign-ins for now (too many failed sign-in attempts)" in capsys.readouterr().err
    del fake.replies["auth.login"]
    fake.replies["apps.upload"] = (403, 20, "forbidden (not allowed for role)", {}, {})
    assert main(["upload", *creds(fake), "--files", str(packed), str(packed)]) == 1
    err = capsys.readouterr().err
    assert "needs an admin's credentials" in err
    assert [r[0] for r in fake.requests].count("apps.upload") == 1  # the second would fail the same way
    problems = [{"file": "x.app.conf", "path": "wizard.entries[2].type", "message": "unknown type 'slider'"},
                {"file": "x.app.conf", "path": "", "message": "HOCON syntax error"}]
    fake.replies["apps.upload"] = (400, 12, "invalid app package: ...", {}, {"problems": problems})
    assert main(["upload", *creds(fake), "--files", str(packed)]) == 1
    err = capsys.readouterr().err
    assert f"{packed}: refused: invalid app package, 2 problems:" in err and "..." not in err
    assert "  x.app.conf: wizard.entries[2].type: unknown type 'slider'" in err
    assert "  x.app.conf: HOCON syntax error" in err
    fake.replies["apps.delete"] = (400, 10, f"invalid app id: nope {SECRET}", {}, {})
    assert main(["delete", *creds(fake), "-app", "nope"]) == 1
    err = capsys.readouterr().err
    assert "nope: invalid app id" in err and SECRET not in err  # the secret is masked wherever it appears


def test_no_server_and_not_the_api(fake, packed, capsys):
    from trackside.shared.embedded.process import free_port
    assert main(["list", "--host", f"http://127.0.0.1:{free_port()}", "--user", KEY, "--password", SECRET]) == 1
    assert "cannot reach the API at http://127.0.0.1:" in capsys.readouterr().err
    fake.replies["auth.login"] = ("html", 0, "", {}, {})
    assert main(["list", *creds(fake)]) == 1
    assert "not like the Trackside API" in capsys.readouterr().err
    assert main(["upload", *creds(fake), "--files", str(packed.with_name("absent.zip"))]) == 1
    assert "absent.zip: no such file" in capsys.readouterr().err
