"""reports.*: task-backed reports in hidden ``.reports`` projects, their status rules, listing with paging and
scrolling, and the event data a report embeds; raw HTTP at 2.23 and 2.31, and through the real SDK's session."""
from __future__ import annotations

import pytest

from support.event_reports import SINGLE, add_batch, image, plot, scalar
from support.names import unique
from support.objects import create_project, get_task
from support.sdk_api import call, run_calls

ENDPOINTS = ("reports.create", "reports.update", "reports.move", "reports.publish", "reports.archive",
             "reports.unarchive", "reports.delete", "reports.get_all_ex", "reports.get_tags",
             "reports.get_task_data")


def project_by_id(api, project_id: str) -> dict:
    return api.ok("projects.get_all", id=[project_id], search_hidden=True)["projects"][0]


def project_exists(api, project_id: str) -> bool:
    return bool(api.ok("projects.get_all", id=[project_id], search_hidden=True)["projects"])


def new_report(api, project: str | None = None, **fields) -> dict:
    return api.ok("reports.create", name=unique("report"), **({"project": project} if project else {}), **fields)


# -- creating, editing, the status rules ---------------------------------------------------------------------
def test_a_report_is_a_hidden_task_in_its_projects_reports_folder(api):
    name = unique("rp")
    project = create_project(api, name)
    created = api.ok("reports.create", name="Quarterly", project=project, tags=["b", "a"], comment="c",
                     report="# Title", report_assets=["http://files/x.png"])
    task = get_task(api, created["id"])
    assert task["type"] == "report" and task["status"] == "created" and task["name"] == "Quarterly"
    assert set(task["system_tags"]) == {"reports", "hidden"} and task["project"] == created["project_id"]
    assert task["report"] == "# Title" and task["report_assets"] == ["http://files/x.png"]
    folder = project_by_id(api, created["project_id"])
    assert folder["name"] == f"{name}/.reports" and folder["basename"] == ".reports"
    assert set(folder["system_tags"]) == {"reports", "hidden"}
    # Hidden from plain task listings, as every report is.
    assert not api.ok("tasks.get_all", project=[created["project_id"]])["tasks"]
    # A second report shares the folder; one without a project goes to the root's ".reports".
    assert new_report(api, project)["project_id"] == created["project_id"]
    root = new_report(api)
    assert project_by_id(api, root["project_id"])["name"] == ".reports"


def test_update_is_limited_to_name_comment_and_tags_once_published(api):
    report = new_report(api)["id"]
    long_text = "word " * 60
    updated = api.ok("reports.update", task=report, report=long_text, tags=["z", "y"], report_assets=["a"])
    assert updated["updated"] == 1 and updated["fields"]["tags"] == ["y", "z"]
    assert len(updated["fields"]["report"]) <= 100 and updated["fields"]["report"].endswith("[...]")
    assert get_task(api, report)["report"] == long_text
    assert api.ok("reports.update", task=report) == {"updated": 0}

    published = api.ok("reports.publish", task=report, message="done")
    assert published["updated"] == 1 and published["fields"]["status"] == "published"
    task = get_task(api, report)
    assert task["status"] == "published" and task["status_message"] == "done" and task["published"]
    api.error("reports.update", (400, 110), task=report, report="new text")
    assert api.ok("reports.update", task=report, name="Renamed", comment="ok")["updated"] == 1
    assert get_task(api, report)["report"] == long_text and get_task(api, report)["name"] == "Renamed"


def test_archive_unarchive_and_delete(api):
    project = create_project(api, unique("rd"))
    created = new_report(api, project)
    report, folder = created["id"], created["project_id"]
    api.ok("reports.publish", task=report)
    api.error("reports.delete", (400, 123), task=report)
    assert api.ok("reports.archive", task=report, message="old") == {"archived": 1}
    assert "archived" in get_task(api, report)["system_tags"]
    assert api.ok("reports.unarchive", task=report) == {"unarchived": 1}
    assert "archived" not in get_task(api, report)["system_tags"]
    api.ok("reports.archive", task=report)
    assert api.ok("reports.delete", task=report) == {"deleted": 1}
    api.error("tasks.get_by_id", (400, 101), task=report)
    # The folder went with its last report; a published one goes with force.
    assert not project_exists(api, folder)
    forced = new_report(api, project)["id"]
    api.ok("reports.publish", task=forced)
    assert api.ok("reports.delete", task=forced, force=True) == {"deleted": 1}


def test_move_between_projects(api):
    source, target_name = create_project(api, unique("src")), unique("dst")
    target = create_project(api, target_name)
    created = new_report(api, source)
    moved = api.ok("reports.move", task=created["id"], project=target)["project_id"]
    assert project_by_id(api, moved)["name"] == f"{target_name}/.reports"
    assert get_task(api, created["id"])["project"] == moved
    assert not project_exists(api, created["project_id"])  # the emptied folder is gone
    by_name = unique("made")
    named = api.ok("reports.move", task=created["id"], project_name=by_name)["project_id"]
    assert project_by_id(api, named)["name"] == f"{by_name}/.reports"
    root = api.ok("reports.move", task=created["id"], project=None)["project_id"]
    assert project_by_id(api, root)["name"] == ".reports"
    api.error("reports.move", (400, 11), task=created["id"])
    api.error("reports.move", (400, 401), task=created["id"], project="0" * 32)


def test_operations_refuse_tasks_that_are_not_reports(api):
    task = api.ok("tasks.create", name=unique("plain"), type="training")["id"]
    for name, extra in (("reports.update", {"name": "abcd"}), ("reports.publish", {}), ("reports.archive", {}),
                        ("reports.delete", {}), ("reports.move", {"project": None})):
        api.error(name, (400, 150), task=task, **extra)
    assert get_task(api, task)["status"] == "created"
    api.error("reports.publish", (400, 101), task="f" * 32)


def test_bad_input(api, anon):
    api.error("reports.create", (400, 11))
    api.error("reports.create", (400, 12), name="ab")
    api.error("reports.create", (400, 12), name="good name", tags=[1])
    api.error("reports.create", (400, 401), name="good name", project="0" * 32)
    api.error("reports.update", (400, 11), name="abc")
    api.error("reports.delete", (400, 12), task=new_report(api)["id"], force="maybe")
    api.error("reports.get_all_ex", (400, 12), page="first")
    created = api.ok("reports.create", name=unique("extra"), unknown_key=1, method="get")
    assert get_task(api, created["id"])["type"] == "report"
    for name in ENDPOINTS:
        assert anon.send(name, {}).code == (401, 20), name
    # Reports came with API 2.23.
    reply = api.send("reports.get_tags", {}, version="2.22")
    assert reply.code == (404, 0)


# -- listing ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listed(api_server):
    from support.client import ApiClient
    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    name = unique("list")
    project = create_project(api, name)
    child = create_project(api, f"{name}/child")
    tag = unique("tag")
    ids = [api.ok("reports.create", name=f"r{i}-{unique('x')}", project=project, tags=[tag])["id"] for i in range(5)]
    child_report = api.ok("reports.create", name=unique("child"), project=child, tags=[tag])["id"]
    return {"project": project, "child": child, "ids": ids, "child_report": child_report, "tag": tag}


def test_get_all_ex_pages_to_the_last_page(api, listed):
    pages = [api.ok("reports.get_all_ex", project=[listed["project"]], order_by=["name"], page=p, page_size=2)
             ["tasks"] for p in range(4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    names = [t["name"] for page in pages for t in page]
    assert names == sorted(names) and {t["id"] for page in pages for t in page} == set(listed["ids"])
    # By a projects's id, its .reports folder is searched; with include_subprojects, the children's too.
    deep = api.ok("reports.get_all_ex", project=[listed["project"]], include_subprojects=True)["tasks"]
    assert {t["id"] for t in deep} == {*listed["ids"], listed["child_report"]}
    assert api.ok("reports.get_all_ex", project=[create_project(api, unique("none"))]) == {"tasks": []}
    # One project id as a plain string, as the reference reads list filters; null: the root's reports.
    assert len(api.ok("reports.get_all_ex", project=listed["project"])["tasks"]) == 5
    root = new_report(api)["id"]
    assert [t["id"] for t in api.ok("reports.get_all_ex", project=None, id=[root])["tasks"]] == [root]
    assert api.ok("reports.get_all_ex", project=listed["project"], id=[root]) == {"tasks": []}
    # Old clients: 2.23 has no include_subprojects in its schema, but the reference reads it all the same.
    old = api.send("reports.get_all_ex", {"tags": [listed["tag"]]}, version="2.23")
    assert old.code == (200, 0) and len(old.data["tasks"]) == 6
    # 2.27 field filters.
    filtered = api.ok("reports.get_all_ex", filters={"tags": {"any": {"include": [listed["tag"]]}}},
                      project=[listed["project"]])
    assert len(filtered["tasks"]) == 5


def test_get_all_ex_scrolls(api, listed):
    query = {"project": [listed["project"]], "size": 2, "only_fields": ["name", "project.name"]}
    seen, scroll_id = [], None
    for expected in (2, 2, 1, 0):
        reply = api.ok("reports.get_all_ex", scroll_id=scroll_id, **query)
        assert len(reply["tasks"]) == expected and reply["scroll_id"]
        scroll_id = reply["scroll_id"]
        seen.extend(reply["tasks"])
    assert {t["id"] for t in seen} == set(listed["ids"])
    assert seen[0]["project"]["name"].endswith("/.reports") and set(seen[0]) == {"id", "name", "project"}
    again = api.ok("reports.get_all_ex", scroll_id=scroll_id, refresh_scroll=True, **query)
    assert [t["id"] for t in again["tasks"]] == [t["id"] for t in seen]
    api.error("reports.get_all_ex", (400, 12), scroll_id="", project=[listed["project"]])


def test_get_tags(api, listed):
    tags = api.ok("reports.get_tags")["tags"]
    assert listed["tag"] in tags and tags == sorted(tags)


# -- the data a report embeds -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reported(api_server):
    from support.client import ApiClient
    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    task = api.ok("tasks.create", name=unique("embedded"), type="training")["id"]
    add_batch(api, [scalar(task, "loss", "train", i, float(i)) for i in range(10)]
              + [scalar(task, "Summary", "acc", SINGLE, 0.9)]
              + [plot(task, "conf", "matrix", i) for i in (1, 2)]
              + [image(task, "samples", "img", i, f"img-{i}.png") for i in (1, 2, 3)])
    model = api.ok("models.create", name=unique("embedded-model"), uri="file:///m.bin")["id"]
    add_batch(api, [{**scalar(model, "mloss", "m", i, float(i)), "model_event": True} for i in range(3)])
    return api, task, model


def test_get_task_data_returns_the_events_asked_for(reported):
    api, task, _ = reported
    data = api.ok("reports.get_task_data", id=[task], only_fields=["name"],
                  scalar_metrics_iter_histogram={"metrics": [{"metric": "loss"}]},
                  plots={"iters": 1}, debug_images={"iters": 2, "metrics": [{"metric": "samples"}]},
                  single_value_metrics={})
    assert [t["id"] for t in data["tasks"]] == [task]
    train = data["scalar_metrics_iter_histogram"]["loss"]["train"][task]
    assert train["x"] == list(range(10)) and train["y"] == [float(i) for i in range(10)]
    assert list(data["plots"]["conf"]["matrix"][task]) == ["2"]
    images = data["debug_images"]
    assert images[0]["task"] == task and [it["iter"] for it in images[0]["iterations"]] == [3, 2]
    assert data["single_value_metrics"][0]["values"][0]["value"] == 0.9
    # Without event parts, only the tasks; at 2.23 as at 2.31.
    old = api.send("reports.get_task_data", {"id": [task]}, version="2.23")
    assert old.code == (200, 0) and list(old.data) == ["tasks"] and old.data["tasks"][0]["id"] == task
    api.error("reports.get_task_data", (400, 12), id=[task], plots={"iters": 0})
    api.error("reports.get_task_data", (400, 12), id=[task], scalar_metrics_iter_histogram={"key": "bad"})


def test_get_task_data_of_models(reported):
    api, _, model = reported
    data = api.ok("reports.get_task_data", id=[model], model_events=True, scalar_metrics_iter_histogram={},
                  single_value_metrics={})
    assert [m["id"] for m in data["tasks"]] == [model] and data["single_value_metrics"] == []
    assert data["scalar_metrics_iter_histogram"]["mloss"]["m"][model]["y"] == [0.0, 1.0, 2.0]


def test_get_task_data_with_no_task_found(api):
    data = api.ok("reports.get_task_data", id=["f" * 32], plots={}, debug_images={})
    assert data == {"tasks": [], "plots": {}, "debug_images": []}


# -- through the real SDK's session -------------------------------------------------------------------------
def test_through_the_sdk(api, api_server, tmp_path):
    project = create_project(api, unique("sdk"))
    created = api.ok("reports.create", name=unique("sdk-report"), project=project)
    answers = run_calls(api_server, [
        call("reports.update", raw=True, version="2.24", task=created["id"], report="# hi", report_assets=["a"]),
        call("reports.get_all_ex", raw=True, version="2.23", id=[created["id"]], only_fields=["report"]),
        call("reports.publish", raw=True, task=created["id"]),
        call("reports.create", raw=True, name="x"),
    ], tmp_path / "home")
    assert answers[0] == {"ok": True, "data": {"updated": 1, "fields": {"report": "# hi", "report_assets": ["a"]}}}
    assert answers[1]["data"]["tasks"] == [{"id": created["id"], "report": "# hi"}]
    assert answers[2]["ok"] and answers[2]["data"]["fields"]["status"] == "published"
    assert answers[3]["ok"] is False and answers[3]["code"] == [400, 12]
