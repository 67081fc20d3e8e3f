"""The installed install tools against the real API (issue 17 item 2): the example app packed with
``trackside-apps pack``, uploaded, listed, upgraded with the reference's ``upload_apps.py`` form and removed
with ``manage_apps.py delete``; a plain user's key, a wrong secret and a bad package are refused with the
reason and change nothing. The app gets a unique id, since the session's API is shared with other tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.names import unique
from support.users import new_user

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "apps" / "numpy-trainer"
BIN = Path(sys.executable).parent
REPOSITORY = "file:///srv/git/trackside.git"


def run(tool: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLEARML_API_")}
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})})


def app_folder(root: Path, app_id: str, version: str) -> Path:
    """The example app's folder under another id (the conf's name and ``id``) and version."""
    folder = root / f"{app_id}-{version}"
    shutil.copytree(EXAMPLE / "assets", folder / "assets")
    text = (EXAMPLE / "numpy-trainer.app.conf").read_text()
    text = text.replace('id: "numpy-trainer"', f'id: "{app_id}"', 1).replace('version: "1.0.0"', f'version: "{version}"', 1)
    (folder / f"{app_id}.app.conf").write_text(text)
    return folder


@pytest.fixture(scope="module")
def app_id() -> str:
    return unique("cli-app").lower().replace("_", "-")


@pytest.fixture(scope="module")
def admin(api_server) -> list[str]:
    return ["--host", api_server.url, "--user", api_server.key, "--password", api_server.secret]


@pytest.fixture(scope="module")
def packages(tmp_path_factory, app_id) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("apps")
    out = {}
    for version in ("1.0.0", "1.1.0"):
        target = root / f"{app_id}-{version}.zip"
        result = run("trackside-apps", "pack", str(app_folder(root, app_id, version)), "-o", str(target),
                     "--repository", REPOSITORY)
        assert result.returncode == 0, result.stderr
        out[version] = target
    # A broken 2.0.0 of the same app: an unknown wizard type and a missing asset.
    bad = app_folder(root, app_id, "2.0.0")
    conf = bad / f"{app_id}.app.conf"
    conf.write_text(conf.read_text().replace("type: checkbox", "type: slider", 1))
    (bad / "assets" / "numpy-trainer.svg").unlink()
    out["bad"] = root / "bad.zip"
    with zipfile.ZipFile(out["bad"], "w") as archive:
        archive.write(conf, conf.name)
        archive.write(bad / "assets" / "numpy-trainer-no-info.html", "assets/numpy-trainer-no-info.html")
    return out


def listed(api, app_id: str) -> dict | None:
    apps = api.ok("apps.get_apps", include_disabled=True)["apps"]
    return next((a for a in apps if a["id"] == app_id), None)


def test_upload_list_upgrade_and_delete_with_the_documented_commands(api, admin, api_server, packages, app_id):
    result = run("trackside-apps", "upload", *admin, "--files", str(packages["1.0.0"]))
    assert result.returncode == 0, result.stderr
    assert f"installed: {app_id} 1.0.0" in result.stdout
    assert listed(api, app_id)["version"] == "1.0.0"

    # list, with the credentials from the environment as the SDK names them
    env = {"CLEARML_API_HOST": api_server.url, "CLEARML_API_ACCESS_KEY": api_server.key,
           "CLEARML_API_SECRET_KEY": api_server.secret}
    table = run("trackside-apps", "list", env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["ID", "VERSION", "ENABLED", "CATEGORY", "INSTANCES"]
    row = next(line.split() for line in table.stdout.splitlines() if line.startswith(app_id + " "))
    assert row == [app_id, "1.0.0", "yes", "Training", "0"]
    assert api_server.secret not in table.stdout + table.stderr

    # a newer version with the reference's script form; the older version stays readable
    newer = run("upload_apps.py", *admin, "--files", str(packages["1.1.0"]))
    assert newer.returncode == 0, newer.stderr
    assert f"installed: {app_id} 1.1.0" in newer.stdout
    assert listed(api, app_id)["version"] == "1.1.0"
    assert api.ok("apps.get_info_template", app=app_id, version="1.0.0")["dashboard"]["lines"]
    template = api.ok("apps.get_launch_template", app=app_id)
    assert template["app"]["version"] == "1.1.0"

    removed = run("manage_apps.py", "delete", *admin, "-app", app_id)
    assert removed.returncode == 0, removed.stderr
    assert f"{app_id}: deleted" in removed.stdout
    assert listed(api, app_id) is None
    again = run("trackside-apps", "delete", *admin, "--app", app_id)
    assert again.returncode == 1 and app_id in again.stderr


def test_refusals_name_the_reason_and_change_nothing(api, admin, api_server, packages, app_id):
    assert run("trackside-apps", "upload", *admin, "--files", str(packages["1.0.0"])).returncode == 0
    _, user = new_user(api)
    keys = user.ok("auth.create_credentials")["credentials"]
    plain = ["--host", api_server.url, "--user", keys["access_key"], "--password", keys["secret_key"]]

    refused = run("trackside-apps", "upload", *plain, "--files", str(packages["1.1.0"]))
    assert refused.returncode == 1 and "needs an admin's credentials" in refused.stderr
    not_deleted = run("manage_apps.py", "delete", *plain, "-app", app_id)
    assert not_deleted.returncode == 1 and "needs an admin's credentials" in not_deleted.stderr
    user_list = run("trackside-apps", "list", *plain)  # any user may read the (enabled) apps
    assert user_list.returncode == 0 and app_id in user_list.stdout

    wrong = run("trackside-apps", "upload", "--host", api_server.url, "--user", api_server.key,
                "--password", "not-the-secret", "--files", str(packages["1.1.0"]))
    assert wrong.returncode == 1 and "refused the credentials" in wrong.stderr
    assert "not-the-secret" not in wrong.stdout + wrong.stderr

    bad = run("trackside-apps", "upload", *admin, "--files", str(packages["bad"]))
    assert bad.returncode == 1
    problems = [line for line in bad.stderr.splitlines() if line.startswith("trackside-apps:   ")]
    assert any("wizard.entries" in line and "slider" in line for line in problems), bad.stderr
    assert any("numpy-trainer.svg" in line for line in problems), bad.stderr
    assert listed(api, app_id)["version"] == "1.0.0"  # nothing installed, nothing replaced

    unreachable = run("trackside-apps", "list", "--host", "http://127.0.0.1:9", "--user", "k", "--password", "s")
    assert unreachable.returncode == 1 and "cannot reach the API at http://127.0.0.1:9" in unreachable.stderr
    assert run("manage_apps.py", "delete", *admin, "-app", app_id).returncode == 0
