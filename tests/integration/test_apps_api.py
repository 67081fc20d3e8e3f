"""apps.* over HTTP (issue 17): uploading packages (multipart and raw body; bad packages store nothing and list
every problem), the gallery, assets, the launch template with dropdown choices read as the caller, launching
instances (each bad field named, values at their targets, the task enqueued to the app's queue) and the task's
``application`` field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from support.app_packages import app_conf, build_tar_gz, build_zip, simple_app_files
from support.client import ApiClient
from support.names import unique
from support.objects import create_project, get_task
from support.users import new_user

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "apps" / "numpy-trainer"


def example_files(version: str | None = None) -> dict:
    files = {str(p.relative_to(EXAMPLE)): p.read_bytes() for p in EXAMPLE.rglob("*")
             if p.is_file() and (p.name.endswith(".app.conf") or p.relative_to(EXAMPLE).parts[0] == "assets")}
    if version:
        conf = files["numpy-trainer.app.conf"].decode().replace('version: "1.0.0"', f'version: "{version}"')
        files["numpy-trainer.app.conf"] = conf.encode()
    return files


def upload(client: ApiClient, data: bytes, filename: str = "app.zip", raw: bool = False) -> requests.Response:
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    url = f"{client.base_url}/v2.31/apps.upload"
    if raw:
        return requests.post(url, params={"filename": filename}, data=data, headers=headers, timeout=60)
    return requests.post(url, files={"file": (filename, data)}, headers=headers, timeout=60)


def uploaded(client: ApiClient, files: dict, filename: str = "app.zip") -> dict:
    reply = upload(client, build_zip(files), filename)
    assert reply.status_code == 200, reply.json()["meta"]
    return reply.json()["data"]


def meta(reply: requests.Response) -> dict:
    return reply.json()["meta"]


@pytest.fixture(scope="module")
def api(api_server) -> ApiClient:
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


@pytest.fixture(scope="module")
def user(api) -> ApiClient:
    return new_user(api)[1]


@pytest.fixture(scope="module")
def trainer(api) -> dict:
    """The example app, installed once for the module."""
    return uploaded(api, example_files(), "numpy-trainer.zip")


# -- upload ---------------------------------------------------------------------------------------------------
def test_upload_multipart_zip_then_raw_tar_gz_replaces_the_version(api):
    files = simple_app_files()
    first = uploaded(api, files, "simple-app.zip")
    assert first["app"] == {"id": "simple-app", "version": "1.0.0"}
    reply = upload(api, build_tar_gz(files), "simple-app.tar.gz", raw=True)
    assert reply.status_code == 200, meta(reply)
    assert reply.json()["data"] == {"app": {"id": "simple-app", "version": "1.0.0"}, "replaced": True}
    apps = {a["id"]: a for a in api.ok("apps.get_apps")["apps"]}
    simple = apps["simple-app"]
    assert simple["icon_url"] == "/apps.get_asset?app=simple-app&version=1.0.0&file=app-simple-app%402x.png"
    assert simple["no_info_html_url"].endswith("file=simple-app-no-info.html")
    assert simple["details_page"] == "task" and simple["enabled"] is True and simple["featured"] == 500
    assert simple["instances"] == {"total": 0, "running": 0}


def test_a_bad_package_stores_nothing_and_lists_every_problem(api, backend):
    bad = app_conf(entries='{name: a, type: slider, target {field: hyperparams, section: S, name: a}}',
                   dashboard='{contents: [{type: chart}]}').replace("id: t", "id: bad-app")
    reply = upload(api, build_zip({"bad-app.app.conf": bad.encode()}), "bad-app.zip")
    assert reply.status_code == 400 and meta(reply)["result_subcode"] == 12
    problems = meta(reply)["error_data"]["problems"]
    paths = {p["path"] for p in problems}
    assert {"wizard.entries[0].type", "dashboard.lines[0].contents[0].type"} <= paths
    assert all(p["file"] == "bad-app.app.conf" and p["message"] for p in problems)
    assert "wizard.entries[0].type" in meta(reply)["result_msg"]
    assert backend["apps"].count_documents({"app_id": "bad-app"}) == 0
    assert backend["app_versions"].count_documents({"app_id": "bad-app"}) == 0


@pytest.mark.parametrize("data, filename, code", [
    (b"not an archive", "x.zip", (400, 12)),
    (b"", "x.zip", (400, 11)),
    (b"PK", "x.rar", (400, 12)),
])
def test_upload_refuses_what_is_no_package(api, data, filename, code):
    reply = upload(api, data, filename, raw=True)
    assert (reply.status_code, meta(reply)["result_subcode"]) == code, meta(reply)


def test_upload_and_the_admin_endpoints_refuse_a_plain_user(user):
    reply = upload(user, build_zip(simple_app_files()), "simple-app.zip")
    assert (reply.status_code, meta(reply)["result_subcode"]) == (403, 20)
    for name in ("apps.enable", "apps.disable", "apps.delete"):
        user.error(name, (403, 20), app="simple-app")
    user.error("apps.get_apps", (403, 20), include_disabled=True)


# -- gallery and assets ---------------------------------------------------------------------------------------
def test_get_apps_summary_order_and_category(api, trainer):
    apps = api.ok("apps.get_apps")["apps"]
    featured = [(a["featured"], a["name"]) for a in apps]
    assert featured == sorted(featured)
    mine = next(a for a in apps if a["id"] == "numpy-trainer")
    assert set(mine) == {"id", "name", "version", "provider", "description", "badges", "category", "featured",
                         "resumable", "default_queue", "details_page", "enabled", "icon_url", "no_info_html_url",
                         "instances"}
    assert mine["badges"] == ["example", "numpy"] and mine["resumable"] is True and mine["featured"] == 100
    assert [a["id"] for a in api.ok("apps.get_apps", category="Training")["apps"]] == ["numpy-trainer"]
    assert api.ok("apps.get_apps", category="nothing-here")["apps"] == []
    assert [a["id"] for a in api.ok("apps.get_apps", id=["numpy-trainer"])["apps"]] == ["numpy-trainer"]


def test_get_asset_answers_the_bytes_with_a_type(api, trainer):
    url = f"{api.base_url}/v2.31/apps.get_asset"
    headers = {"Authorization": f"Bearer {api.token}"}
    reply = requests.get(url, params={"app": "numpy-trainer", "file": "numpy-trainer.svg"}, headers=headers,
                         timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("image/svg+xml")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.content == (EXAMPLE / "assets" / "numpy-trainer.svg").read_bytes()
    api.error("apps.get_asset", (400, 10), app="numpy-trainer", file="missing.png")
    api.error("apps.get_asset", (400, 10), app="no-such-app", file="x.png")
    api.error("apps.get_asset", (400, 10), app="numpy-trainer", version="9.9.9", file="numpy-trainer.svg")


# -- launch template --------------------------------------------------------------------------------------------
def test_launch_template_reads_project_choices_for_the_caller(api, user, trainer):
    kept, dropped = unique("apps-kept"), unique("Example-apps")
    create_project(api, kept)
    create_project(api, dropped)
    template = api.ok("apps.get_launch_template", app="numpy-trainer")
    assert template["app"]["id"] == "numpy-trainer"
    entries = {e["name"]: e for e in template["entries"]}
    labels = [c["label"] for c in entries["compare_project"]["choices"]]
    assert kept in labels and dropped not in labels
    assert entries["compare_project"]["choices_source"]["source"] == "project"
    assert entries["kind"]["choices"] == [{"label": "Linear (a line)", "value": "linear"},
                                          {"label": "Polynomial", "value": "polynomial"}]
    assert entries["learning_rate"]["default_conditional_on"] == {"name": "kind",
                                                                   "value": {"linear": 0.8, "polynomial": 0.4}}
    assert entries["degree"]["conditional"] == [{"name": "kind", "value": "polynomial"}]
    # A plain user reads the same wizard (any user launches).
    assert user.ok("apps.get_launch_template", app="numpy-trainer")["app"]["id"] == "numpy-trainer"


# -- launch -----------------------------------------------------------------------------------------------------
def test_launch_writes_the_targets_and_enqueues_to_the_default_queue(api, trainer):
    project = unique("apps-compare")
    create_project(api, project)
    params = {"run_name": "first <b>run</b>", "compare_project": project, "kind": "linear", "iterations": "50",
              "data": {"noise": 0.25}, "lr_schedule": [{"at_iteration": 10, "factor": 0.5}]}
    instance = api.ok("apps.launch_instance", app="numpy-trainer", launch_params=params, task_name="my run")["id"]
    task = get_task(api, instance)
    assert task["name"] == "my run" and task["type"] == "application" and "application" in task["system_tags"]
    assert task["application"] == {"app_id": "numpy-trainer", "version": "1.0.0", "resumable": True,
                                   "launch_params": params}
    hp = task["hyperparams"]
    assert hp["General"]["run_name"]["value"] == "first <b>run</b>"
    assert hp["General"]["compare_project"]["value"] == project
    assert hp["Model"]["kind"]["value"] == "linear" and "degree" in hp["Model"]  # the task section's default
    assert hp["Training"]["learning_rate"]["value"] == "0.8"  # default_conditional_on linear
    assert hp["Training"]["iterations"]["value"] == "50"
    assert hp["Data"]["noise"]["value"] == "0.25" and hp["Data"]["samples"]["value"] == "200"
    assert task["status"] == "queued"
    queue = api.ok("queues.get_by_id", queue=task["execution"]["queue"])["queue"]
    assert queue["name"] == "custom_apps_queue" and instance in [e["task"] for e in queue["entries"]]
    project_doc = api.ok("projects.get_by_id", project=task["project"])["project"]
    assert project_doc["name"] == ".applications/NumPy Trainer" and "hidden" in project_doc["system_tags"]
    assert api.ok("apps.get_apps", id=["numpy-trainer"])["apps"][0]["instances"]["total"] >= 1


def test_launch_names_each_bad_field_and_creates_nothing(api, backend, trainer):
    before = backend["tasks"].count_documents({"application.app_id": "numpy-trainer"})
    params = {"run_name": "", "kind": "cubic", "iterations": "many", "data": {"noise": "loud"},
              "lr_schedule": [{"at_iteration": 1}, {"at_iteration": 2, "factor": "x"}], "unknown": 1,
              "compare_project": "no-such-project"}
    reply = api.error("apps.launch_instance", (400, 12), app="numpy-trainer", launch_params=params)
    fields = reply.meta["error_data"]["fields"]
    assert set(fields) >= {"kind", "iterations", "data.noise", "lr_schedule[1].factor", "unknown",
                           "compare_project"}
    assert backend["tasks"].count_documents({"application.app_id": "numpy-trainer"}) == before
