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
    assert set(simple["instances"]) == {"total", "running"}


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


def test_a_bad_new_version_leaves_the_installed_one(api, backend):
    app_id = unique("apps-kept")
    uploaded(api, wizard_app(app_id))
    broken = wizard_app(app_id, "2.0.0")
    del broken["assets/pic.png"]  # the dashboard's ${ASSET:pic.png} now names a missing file
    links = {"assets/escape.png": "../../etc/passwd"}
    reply = upload(api, build_tar_gz(broken, links=links), f"{app_id}.tar.gz")
    assert reply.status_code == 400
    assert meta(reply)["error_data"]["problems"] == [
        {"file": "assets/escape.png", "path": "", "message": "links and special files are not allowed"}]
    reply = upload(api, build_zip(broken), f"{app_id}.zip")
    assert meta(reply)["error_data"]["problems"] == [
        {"file": f"{app_id}.app.conf", "path": "dashboard.lines[0].contents[0].text",
         "message": "${ASSET:pic.png} names a file missing from assets/"}]
    assert api.ok("apps.get_apps", id=[app_id])["apps"][0]["version"] == "1.0.0"
    assert backend["app_versions"].count_documents({"app_id": app_id}) == 1


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
    training = api.ok("apps.get_apps", category="Training")["apps"]
    assert "numpy-trainer" in [a["id"] for a in training] and {a["category"] for a in training} == {"Training"}
    assert api.ok("apps.get_apps", category="nothing-here")["apps"] == []
    assert [a["id"] for a in api.ok("apps.get_apps", id=["numpy-trainer"])["apps"]] == ["numpy-trainer"]
    assert api.ok("server.config")["features"]["applications"] is True


def test_get_asset_answers_the_bytes_with_a_type(api, trainer):
    url = f"{api.base_url}/v2.31/apps.get_asset"
    headers = {"Authorization": f"Bearer {api.token}"}
    reply = requests.get(url, params={"app": "numpy-trainer", "file": "numpy-trainer.svg"}, headers=headers,
                         timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("image/svg+xml")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Content-Security-Policy"] == "sandbox"
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
    # A project the filter leaves out is refused at launch as well.
    reply = user.error("apps.launch_instance", (400, 12), app="numpy-trainer",
                       launch_params={"compare_project": dropped})
    assert reply.meta["error_data"]["fields"] == {"compare_project": f"{dropped!r} is not one of the choices"}


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
    schedule = task["configuration"]["lr_schedule"]
    assert json.loads(schedule["value"]) == [{"at_iteration": 10, "factor": 0.5}]
    assert schedule["type"] == "json"
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


# -- wizard semantics through the API ----------------------------------------------------------------------------
WIZARD_ENTRIES = """
{name: mode, type: dropdown, required: true, choices: ["fast", "slow"],
 target {field: hyperparams, section: Args, name: mode}}
{name: depth, type: integer, required: true, conditional {entries: [{name: mode, value: slow}]},
 target {field: hyperparams, section: Args, name: depth}}
{name: rate, type: float, default_conditional_on {name: mode, value {fast: 0.9, slow: 0.1}},
 target {field: hyperparams, section: Args, name: rate}}
{name: layers, type: list, item_template: [{name: size, type: integer, required: true}],
 target {field: configuration, name: layers}}
{name: queue, type: dropdown, choices {source: queue, display_field: name, value_field: id},
 target {field: hyperparams, section: Args, name: queue}}
"""
WIZARD_DASHBOARD = """{contents: [{type: html, title: Run,
 text: "<p>${hyperparams.Args.mode.value} ${hyperparams.Args.note.value}</p><img src='${ASSET:pic.png}'>"}]}"""


def wizard_app(app_id: str, version: str = "1.0.0", title: str = "Run") -> dict:
    conf = app_conf(WIZARD_ENTRIES, WIZARD_DASHBOARD.replace("title: Run", f"title: {title}"))
    conf = conf.replace("id: t", f"id: {app_id}").replace('version: "1.0.0"', f'version: "{version}"')
    conf = conf.replace("default_queue: q", f"default_queue: {app_id}-queue")
    return {f"{app_id}.app.conf": conf.encode(), "assets/pic.png": b"\x89PNG"}


@pytest.fixture(scope="module")
def wizard(api) -> str:
    app_id = unique("apps-wiz")
    uploaded(api, wizard_app(app_id))
    return app_id


def launch(client, app_id, **params) -> str:
    return client.ok("apps.launch_instance", app=app_id, launch_params=params)["id"]


def test_launch_conditionals_defaults_lists_and_source_choices(api, user, wizard):
    queue_id = api.ok("queues.get_default")["id"]
    instance = launch(user, wizard, mode="fast", depth=7, layers=[{"size": 4}, {"size": "8"}], queue=queue_id)
    task = get_task(api, instance)
    args = task["hyperparams"]["Args"]
    assert "depth" not in args  # hidden by its conditional: neither required nor stored
    assert args["rate"]["value"] == "0.9" and args["queue"]["value"] == queue_id
    assert json.loads(task["configuration"]["layers"]["value"]) == [{"size": 4}, {"size": 8}]
    assert task["configuration"]["layers"]["type"] == "json"
    # The app's default_queue did not exist: launching created it and queued the task there.
    queue = api.ok("queues.get_by_id", queue=task["execution"]["queue"])["queue"]
    assert queue["name"] == f"{wizard}-queue" and [e["task"] for e in queue["entries"]] == [instance]
    slow = get_task(api, launch(api, wizard, mode="slow", depth="3"))["hyperparams"]["Args"]
    assert slow["depth"]["value"] == "3" and slow["rate"]["value"] == "0.1"
    fields = api.error("apps.launch_instance", (400, 12), app=wizard,
                       launch_params={"mode": "slow", "layers": [{"size": "big"}, {}], "queue": "no-such-queue"}
                       ).meta["error_data"]["fields"]
    assert fields == {"depth": "is required", "layers[0].size": "must be an integer",
                      "layers[1].size": "is required", "queue": "'no-such-queue' is not one of the choices"}
    assert api.error("apps.launch_instance", (400, 12), app=wizard, launch_params={"mode": "medium"}
                     ).meta["error_data"]["fields"] == {"mode": "'medium' is not one of the choices"}


def test_launch_template_normalises_fixed_choices_and_reads_queues(api, wizard):
    entries = {e["name"]: e for e in api.ok("apps.get_launch_template", app=wizard)["entries"]}
    assert entries["mode"]["choices"] == [{"label": "fast", "value": "fast"}, {"label": "slow", "value": "slow"}]
    queue = api.ok("queues.get_default")
    assert {"label": queue["name"], "value": queue["id"]} in entries["queue"]["choices"]
    assert entries["layers"]["target"] == {"field": "configuration", "section": None, "name": "layers",
                                           "format": "json"}


# -- instances ----------------------------------------------------------------------------------------------------
def test_get_instances_filters_and_pages(api, user, wizard):
    from datetime import datetime, timedelta, timezone
    since = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    ids = [launch(api, wizard, mode="fast") for _ in range(3)]
    api.ok("apps.stop_instance", instance=ids[0])
    listed = api.ok("apps.get_instances", app=wizard, updated_since=since)
    newest_first = [i["id"] for i in listed["instances"]]
    assert newest_first[:3] == ids[::-1] and listed["total"] >= 3
    row = listed["instances"][0]
    assert set(row) == {"id", "name", "app_id", "version", "status", "status_message", "status_reason", "created",
                        "started", "completed", "last_update", "user", "queue", "project"}
    assert row["app_id"] == wizard and row["version"] == "1.0.0" and row["user"]["name"]
    stopped = api.ok("apps.get_instances", app=wizard, status=["stopped"], updated_since=since)["instances"]
    assert [i["id"] for i in stopped] == [ids[0]]
    page = api.ok("apps.get_instances", app=wizard, updated_since=since, page=1, page_size=1)
    assert [i["id"] for i in page["instances"]] == [ids[1]] and page["total"] == listed["total"]
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert api.ok("apps.get_instances", app=wizard, updated_since=future) == {"instances": [], "total": 0}
    assert user.ok("apps.get_instances", app=wizard)["total"] == listed["total"]


def test_instance_info_resolves_html_and_survives_a_newer_version(api, backend, wizard):
    instance = launch(api, wizard, mode="fast")
    api.ok("tasks.started", task=instance)  # the app writes what its dashboard shows while it runs
    api.ok("tasks.edit_hyper_params", task=instance, force=True,
           hyperparams=[{"section": "Args", "name": "note", "value": "<script>x</script>"}])
    uploaded(api, wizard_app(wizard, "2.0.0", title="Newer"))
    assert api.ok("apps.get_apps", id=[wizard])["apps"][0]["version"] == "2.0.0"
    info = api.ok("apps.get_instance_info", instance=instance)
    assert info["app"]["version"] == "1.0.0" and info["app_missing"] is False
    element = info["dashboard"]["lines"][0]["contents"][0]
    assert element["title"] == "Run" and element["type"] == "html"
    assert element["text"] == ("<p>fast &lt;script&gt;x&lt;/script&gt;</p>"
                               f"<img src='/apps.get_asset?app={wizard}&version=1.0.0&file=pic.png'>")
    assert info["instance"]["id"] == instance and info["instance"]["app_id"] == wizard
    assert info["task"]["hyperparams"]["Args"]["mode"]["value"] == "fast"
    assert api.ok("apps.get_info_template", app=wizard)["dashboard"]["lines"][0]["contents"][0]["title"] == "Newer"
    old = api.ok("apps.get_info_template", app=wizard, version="1.0.0")["dashboard"]
    assert old["lines"][0]["contents"][0]["title"] == "Run"
    assert backend["app_versions"].count_documents({"app_id": wizard}) == 2


def test_stop_edit_and_relaunch(api, wizard):
    instance = launch(api, wizard, mode="slow", depth=2)
    assert api.ok("apps.edit_instance", instance=instance, name="renamed") == {"updated": 1}
    new_id = api.ok("apps.relaunch_instance", instance=instance)["id"]
    old, new = get_task(api, instance), get_task(api, new_id)
    assert old["status"] == "stopped" and "archived" in old["system_tags"]
    assert new["status"] == "queued" and new["name"] == "renamed"
    assert new["application"]["launch_params"] == {"mode": "slow", "depth": 2}
    assert new["application"]["version"] == api.ok("apps.get_apps", id=[wizard])["apps"][0]["version"]
    assert new["hyperparams"]["Args"]["depth"]["value"] == "2"
    assert instance not in [i["id"] for i in api.ok("apps.get_instances", app=wizard)["instances"]]
    assert api.ok("apps.stop_instance", instance=new_id) == {"stopped": 1}
    stopped = get_task(api, new_id)
    assert stopped["status"] == "stopped"
    queue = api.ok("queues.get_by_id", queue=stopped["execution"]["queue"])["queue"]
    assert new_id not in [e["task"] for e in queue["entries"]]
    # A clone of an instance stays an instance of the same app.
    clone = api.ok("tasks.clone", task=new_id)["id"]
    assert get_task(api, clone)["application"]["app_id"] == wizard


def test_only_a_launch_sets_the_application_field(api, wizard):
    forged = {"app_id": wizard, "version": "1.0.0", "resumable": True, "launch_params": {}}
    plain = api.ok("tasks.create", name=unique("plain"), type="training", application=forged)["id"]
    api.ok("tasks.edit", task=plain, application=forged)
    assert "application" not in get_task(api, plain)
    instance = launch(api, wizard, mode="fast")
    # The agent's restart condition reads application.resumable like any other task field.
    rows = api.ok("tasks.get_all", id=[instance], only_fields=["application.resumable"])["tasks"]
    assert rows == [{"id": instance, "application": {"resumable": False}}]


def test_disable_enable_and_delete(api, user):
    app_id = unique("apps-gone")
    uploaded(api, wizard_app(app_id))
    instance = launch(api, app_id, mode="fast")
    assert api.ok("apps.disable", app=app_id) == {"updated": 1}
    assert app_id not in [a["id"] for a in user.ok("apps.get_apps")["apps"]]
    listed = {a["id"]: a for a in api.ok("apps.get_apps", include_disabled=True)["apps"]}
    assert listed[app_id]["enabled"] is False
    reply = api.error("apps.launch_instance", (400, 12), app=app_id, launch_params={"mode": "fast"})
    assert "disabled" in reply.meta["result_msg"]
    api.error("apps.relaunch_instance", (400, 12), instance=instance)
    assert get_task(api, instance)["status"] == "queued"  # a refused relaunch leaves the instance as it was
    assert api.ok("apps.enable", app=app_id) == {"updated": 1}
    assert app_id in [a["id"] for a in user.ok("apps.get_apps")["apps"]]
    assert api.ok("apps.delete", app=app_id) == {"deleted": 1}
    info = api.ok("apps.get_instance_info", instance=instance)
    assert info["app"] is None and info["app_missing"] is True and info["instance"]["id"] == instance
    api.error("apps.relaunch_instance", (400, 10), instance=instance)
    api.error("apps.get_launch_template", (400, 10), app=app_id)


# -- request checks -------------------------------------------------------------------------------------------
APP_ENDPOINTS = ("get_launch_template", "get_info_template", "enable", "disable", "delete")
INSTANCE_ENDPOINTS = ("get_instance_info", "stop_instance", "relaunch_instance")


@pytest.mark.parametrize("name", APP_ENDPOINTS + ("launch_instance",))
def test_app_endpoints_check_the_app_field(api, name):
    api.error(f"apps.{name}", (400, 11))
    api.error(f"apps.{name}", (400, 12), app=["x"])
    reply = api.error(f"apps.{name}", (400, 10), app="no-such-app")
    assert "no-such-app" in reply.meta["result_msg"]


@pytest.mark.parametrize("name", INSTANCE_ENDPOINTS + ("edit_instance",))
def test_instance_endpoints_check_the_instance_field(api, wizard, name):
    extra = {"name": "x"} if name == "edit_instance" else {}
    api.error(f"apps.{name}", (400, 11), **extra)
    api.error(f"apps.{name}", (400, 12), instance=5, **extra)
    api.error(f"apps.{name}", (400, 10), instance="no-such-instance", **extra)
    plain = api.ok("tasks.create", name=unique("plain"), type="training")["id"]
    api.error(f"apps.{name}", (400, 10), instance=plain, **extra)


def test_other_fields_are_checked(api, wizard):
    instance = launch(api, wizard, mode="fast")
    api.error("apps.edit_instance", (400, 11), instance=instance)
    api.error("apps.edit_instance", (400, 12), instance=instance, name="  ")
    api.error("apps.stop_instance", (400, 12), instance=instance, force="maybe")
    api.error("apps.launch_instance", (400, 12), app=wizard, launch_params=[1])
    api.error("apps.launch_instance", (400, 12), app=wizard, launch_params={"mode": "fast"}, task_name=3)
    api.error("apps.get_apps", (400, 12), id="x", category=3)
    api.error("apps.get_apps", (400, 12), include_disabled="sometimes")
    api.error("apps.get_asset", (400, 11), app=wizard)
    api.error("apps.get_info_template", (400, 10), app=wizard, version="0.0.0")
    for bad in ({"status": ["sleeping"]}, {"updated_since": "yesterday"}, {"page": -1}, {"page_size": 501},
                {"page_size": "many"}):
        reply = api.error("apps.get_instances", (400, 12), **bad)
        assert [f.split(".")[0] for f in reply.meta["error_data"]["fields"]] == [next(iter(bad))]
    api.error("apps.get_instances", (400, 10), app="no-such-app")


@pytest.mark.parametrize("name", ("upload", "get_apps", "get_asset") + APP_ENDPOINTS + INSTANCE_ENDPOINTS +
                         ("launch_instance", "get_instances", "edit_instance"))
def test_every_endpoint_refuses_a_caller_without_a_token(anon, name):
    reply = anon.send(f"apps.{name}", {"app": "x", "instance": "x", "file": "x", "name": "x"})
    assert reply.status == 401


# -- the real SDK ---------------------------------------------------------------------------------------------
def test_the_sdk_reads_an_instance(api, api_server, wizard, tmp_path):
    from support.clients import CLIENTS_PYTHON, client_env
    import subprocess
    instance = launch(api, wizard, mode="fast")
    code = ("import json; from clearml import Task; t = Task.get_task(task_id=%r); "
            "print(json.dumps([t.id, str(t.data.type), t.get_parameters().get('Args/mode')]))" % instance)
    env = client_env(api_server.url, api_server.key, api_server.secret, tmp_path)
    run = subprocess.run([str(CLIENTS_PYTHON), "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    task_id, task_type, mode = json.loads(run.stdout.strip().splitlines()[-1])
    assert (task_id, task_type.rpartition(".")[2], mode) == (instance, "application", "fast")
