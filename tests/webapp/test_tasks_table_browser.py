"""The tasks table in a real Chromium: filter by status, sort (shift-click for a second key), page through
scroll ids, search, select and bulk-abort running tasks with the count shown, CSV export of the query, and
column choice (with metric and hyper-parameter columns) kept across reloads in the user's preferences."""
from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from support.webapp_data import admin_client, make_project, make_task, unique

RUNNING, COMPLETED, FAILED, DRAFT = 3, 30, 4, 3


@pytest.fixture(scope="module")
def project(webapp_stack):
    """40 tasks: 3 running, 30 completed, 4 failed, 3 drafts; scalars and hyper-parameters on the completed."""
    api = admin_client(webapp_stack)
    name = unique("Table")
    project_id = make_project(api, name)
    tasks = {}
    for i in range(RUNNING):
        tasks[make_task(api, project_id, f"run-{i:02d}", "in_progress", tags=["live"])] = "in_progress"
    for i in range(COMPLETED):
        tasks[make_task(api, project_id, f"done-{i:02d}", "completed", tags=["best"] if i < 2 else [],
                        params={"Args": {"lr": 0.1 * (i + 1), "batch": 32}},
                        scalars=[("loss", "train", [1.0 / (i + 1), 0.5 / (i + 1)])])] = "completed"
    for i in range(FAILED):
        tasks[make_task(api, project_id, f"fail-{i:02d}", "failed", type_="testing")] = "failed"
    for i in range(DRAFT):
        tasks[make_task(api, project_id, f"draft-{i:02d}", "created", comment="needle in the description")] = "created"
    return {"api": api, "id": project_id, "name": name, "tasks": tasks}


def rows(page):
    return page.get_by_role("table", name="Tasks").locator("tbody tr[data-id]")


def names(page):
    return [text.strip() for text in page.get_by_role("table", name="Tasks").locator("tbody td[data-col=name]")
            .all_inner_texts()]


def test_first_page_is_30_rows_and_scrolling_loads_the_rest(page, project, shot):
    page.goto(f"/projects/{project['id']}/tasks")
    expect(rows(page)).to_have_count(30)
    expect(page.get_by_role("heading", name=project["name"])).to_be_visible()
    shot(page, "tasks-table")
    page.locator(".table-scroll").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    expect(rows(page)).to_have_count(40)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()


def test_filter_by_status_and_type(page, project, shot):
    page.goto(f"/projects/{project['id']}/tasks")
    page.get_by_role("button", name="Filter Status").click()
    filter_box = page.get_by_role("dialog", name="Filter Status")
    filter_box.get_by_label("Running").check()
    expect(rows(page)).to_have_count(RUNNING)
    filter_box.get_by_label("Failed").check()
    expect(rows(page)).to_have_count(RUNNING + FAILED)
    shot(page, "tasks-filter-status")
    expect(page).to_have_url(re.compile(r"filter="))
    filter_box.get_by_role("button", name="Close").click()
    # The filter is in the URL: a reload keeps it.
    page.reload()
    expect(rows(page)).to_have_count(RUNNING + FAILED)
    page.get_by_role("button", name="Filter Type").click()
    page.get_by_role("dialog", name="Filter Type").get_by_label("testing").check()
    expect(rows(page)).to_have_count(FAILED)


def test_sort_by_name_and_a_second_key(page, project):
    page.goto(f"/projects/{project['id']}/tasks")
    table = page.get_by_role("table", name="Tasks")
    table.get_by_role("button", name="Name", exact=True).click()
    expect(table.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "ascending")
    expect(rows(page).first).to_contain_text("done-00")
    assert names(page) == sorted(names(page))
    table.get_by_role("button", name="Name", exact=True).click()
    expect(table.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "descending")
    expect(rows(page).first).to_contain_text("run-02")
    # Status first (shift-click adds a key; then it is moved first by sorting on it alone... keep both keys).
    table.get_by_role("button", name="Status", exact=True).click(modifiers=["Shift"])
    expect(page).to_have_url(re.compile(r"order=-name%2Cstatus|order=-name,status"))
    expect(rows(page).first).to_contain_text("run-02")


def test_search_matches_name_and_description(page, project):
    page.goto(f"/projects/{project['id']}/tasks")
    page.get_by_label("Search tasks").fill("fail-03")
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Search tasks").fill("needle")
    expect(rows(page)).to_have_count(DRAFT)
    expect(page).to_have_url(re.compile(r"q=needle"))


def test_select_and_bulk_abort_says_how_many_it_applies_to(page, project, shot):
    api = project["api"]
    page.goto(f"/projects/{project['id']}/tasks")
    page.get_by_role("button", name="Filter Status").click()
    filter_box = page.get_by_role("dialog", name="Filter Status")
    filter_box.get_by_label("Running").check()
    filter_box.get_by_label("Completed").check()
    filter_box.get_by_role("button", name="Close").click()
    table = page.get_by_role("table", name="Tasks")
    table.get_by_role("button", name="Name", exact=True).click()
    table.get_by_role("button", name="Name", exact=True).click()  # descending: run-02, run-01, run-00, done-29...
    expect(rows(page).first).to_contain_text("run-02")
    for name in ("run-00", "run-01", "done-29"):
        table.get_by_role("checkbox", name=f"Select {name}").check()
    bar = page.get_by_role("region", name="Selection actions")
    expect(bar).to_contain_text("3 selected")
    abort = bar.get_by_role("button", name="Abort (2 of 3)")
    expect(abort).to_be_enabled()
    expect(bar.get_by_role("button", name="Enqueue (0 of 3)")).to_be_disabled()
    expect(bar.get_by_role("button", name="Publish (1 of 3)")).to_be_enabled()
    expect(bar.get_by_role("button", name="Compare (3 of 3)")).to_be_enabled()
    shot(page, "tasks-selection")
    abort.click()
    page.get_by_role("dialog", name="Abort").get_by_role("button", name="Abort").click()
    expect(page.get_by_role("status").filter(has_text="2 tasks aborted")).to_be_visible()
    by_name = {t["name"]: t for t in api.ok("tasks.get_all", project=[project["id"]], only_fields=["name", "status"],
                                           name="^(run-0[01]|done-29)$")["tasks"]}
    assert by_name["run-00"]["status"] == "stopped" and by_name["run-01"]["status"] == "stopped"
    assert by_name["done-29"]["status"] == "completed"
    # The table reloaded: the aborted tasks left the status filter; the others are still there.
    expect(table.get_by_role("row").filter(has_text="run-00")).to_have_count(0)
    expect(table.get_by_role("row").filter(has_text="run-02")).to_contain_text("Running")


def test_select_all_and_none(page, project):
    page.goto(f"/projects/{project['id']}/tasks")
    expect(rows(page)).to_have_count(30)
    page.get_by_role("checkbox", name="Select all loaded rows").check()
    bar = page.get_by_role("region", name="Selection actions")
    expect(bar).to_contain_text("30 selected")
    bar.get_by_role("button", name="Select none").click()
    expect(bar).to_be_hidden()


def test_csv_export_has_the_visible_columns_of_every_matching_task(page, project):
    page.goto(f"/projects/{project['id']}/tasks")
    page.get_by_role("button", name="Filter Status").click()
    page.get_by_role("dialog", name="Filter Status").get_by_label("Failed").check()
    expect(rows(page)).to_have_count(FAILED)
    page.keyboard.press("Escape")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:4] == ["Type", "Name", "Tags", "Status"], table[0]
    assert sorted(row[1] for row in table[1:]) == [f"fail-{i:02d}" for i in range(FAILED)]
    assert {row[3] for row in table[1:]} == {"Failed"}


def test_column_choice_and_order_persist_in_preferences_and_url(page, webapp_stack, shot):
    api = admin_client(webapp_stack)
    project_id = make_project(api, unique("Columns"))
    for i in range(3):
        make_task(api, project_id, f"metric-{i}", "completed", params={"Args": {"lr": f"0.{i + 1}"}},
                  scalars=[("accuracy", "val", [0.5, 0.7 + i / 10, 0.6])])
    page.goto(f"/projects/{project_id}/tasks")
    expect(rows(page)).to_have_count(3)
    page.get_by_role("button", name="Columns").click()
    chooser = page.get_by_role("dialog", name="Columns")
    chooser.get_by_label("Tags", exact=True).uncheck()
    chooser.get_by_label("ID", exact=True).check()
    chooser.get_by_role("button", name="Move ID up").click()
    chooser.get_by_label("Metric", exact=True).select_option(label="accuracy › val")
    chooser.get_by_label("Value", exact=True).select_option(label="Max")
    chooser.get_by_role("button", name="Add metric column").click()
    chooser.get_by_label("Hyperparameter", exact=True).select_option(label="Args/lr")
    chooser.get_by_role("button", name="Add hyperparameter column").click()
    shot(page, "tasks-columns")
    chooser.get_by_role("button", name="Done").click()
    table = page.get_by_role("table", name="Tasks")
    expect(table.get_by_role("columnheader", name="accuracy › val (Max)")).to_be_visible()
    expect(table.get_by_role("row").filter(has_text="metric-2")).to_contain_text("0.9")
    expect(table.get_by_role("row").filter(has_text="metric-2")).to_contain_text("0.3")
    expect(page).to_have_url(re.compile(r"columns="))
    shot(page, "tasks-metric-columns")

    # A fresh visit without the query string: the preferences bring the same columns in the same order.
    page.wait_for_load_state("networkidle")  # the last preferences write has left
    page.goto(f"/projects/{project_id}/tasks")
    headers = table.get_by_role("columnheader")
    expect(table.get_by_role("columnheader", name="accuracy › val (Max)")).to_be_visible()
    texts = [t.replace("▾", "").strip() for t in headers.all_inner_texts()]
    assert "Tags" not in " ".join(texts)
    assert texts.index("ID") < texts.index("Iteration") and texts[-2:] == ["accuracy › val (Max)", "Args/lr"], texts
    # The hyper-parameter column filters by its values.
    page.get_by_role("button", name="Filter Args/lr").click()
    page.get_by_role("dialog", name="Filter Args/lr").get_by_label("0.2").check()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("metric-1")
    page.get_by_role("dialog", name="Filter Args/lr").get_by_role("button", name="Clear").click()
    expect(rows(page)).to_have_count(3)
    # Sorting by the metric column: highest max first.
    table.get_by_role("button", name="accuracy › val (Max)", exact=True).click()
    table.get_by_role("button", name="accuracy › val (Max)", exact=True).click()
    expect(rows(page).first).to_contain_text("metric-2")


def test_tag_filter_any_all_exclude_and_numeric_range(page, project, shot):
    page.goto(f"/projects/{project['id']}/tasks")
    page.get_by_role("button", name="Filter Tags").click()
    tags = page.get_by_role("dialog", name="Filter Tags")
    tags.get_by_label("best").select_option("include")
    expect(rows(page)).to_have_count(2)
    tags.get_by_label("live").select_option("include")
    expect(rows(page)).to_have_count(2 + RUNNING)  # any of them
    tags.get_by_label("Match").select_option("all")
    expect(rows(page)).to_have_count(0)  # no task has both
    tags.get_by_label("Match").select_option("any")
    tags.get_by_label("best").select_option("")
    tags.get_by_label("live").select_option("exclude")
    expect(rows(page)).to_have_count(30)  # every task without "live" (37), first page
    shot(page, "tasks-filter-tags")
    tags.get_by_role("button", name="Clear").click()
    page.get_by_role("button", name="Filter Iteration").click()
    page.get_by_role("dialog", name="Filter Iteration").get_by_label("Minimum").fill("1")
    expect(rows(page)).to_have_count(30)
    expect(rows(page).filter(has_text="run-")).to_have_count(0)
    page.get_by_role("dialog", name="Filter Iteration").get_by_label("Maximum").fill("0")
    expect(rows(page)).to_have_count(0)
    page.get_by_role("dialog", name="Filter Iteration").get_by_role("button", name="Clear").click()
    expect(rows(page)).to_have_count(30)
    # Started in a range: none started before 2020 (an open lower bound also finds the never-started drafts,
    # as the reference's range filter does); since 2020, every started task and no draft.
    page.get_by_role("button", name="Filter Started").click()
    started = page.get_by_role("dialog", name="Filter Started")
    started.get_by_label("To").fill("2020-01-01T00:00")
    expect(rows(page)).to_have_count(DRAFT)
    expect(rows(page).filter(has_text="draft-")).to_have_count(DRAFT)
    started.get_by_label("To").fill("")
    started.get_by_label("From").fill("2020-01-01T00:00")
    expect(rows(page)).to_have_count(30)
    expect(rows(page).filter(has_text="draft-")).to_have_count(0)


def test_bulk_tags_move_archive_and_delete(page, webapp_stack, shot):
    api = admin_client(webapp_stack)
    source = make_project(api, unique("Bulk"))
    target_name = unique("Target")
    target = make_project(api, target_name)
    for i in range(3):
        make_task(api, source, f"bulk-{i}", "completed")
    page.goto(f"/projects/{source}/tasks")
    expect(rows(page)).to_have_count(3)
    page.get_by_role("checkbox", name="Select all loaded rows").check()
    bar = page.get_by_role("region", name="Selection actions")

    bar.get_by_role("button", name="Tags (3 of 3)").click()
    dialog = page.get_by_role("dialog", name="Tags of 3 tasks")
    dialog.get_by_label("Add tag").fill("reviewed")
    dialog.get_by_label("Add tag").press("Enter")
    shot(page, "tasks-tags-dialog")
    dialog.get_by_role("button", name="Apply").click()
    expect(rows(page).filter(has_text="reviewed")).to_have_count(3)

    table = page.get_by_role("table", name="Tasks")
    table.get_by_role("checkbox", name="Select bulk-0").uncheck()
    bar.get_by_role("button", name="Move to project (2 of 2)").click()
    dialog = page.get_by_role("dialog", name="Move 2 tasks to project")
    dialog.get_by_label("Project").fill(target_name)
    dialog.get_by_role("button", name="Move").click()
    expect(rows(page)).to_have_count(1)
    moved = api.ok("tasks.get_all", project=[target], only_fields=["name", "tags"])["tasks"]
    assert sorted(t["name"] for t in moved) == ["bulk-1", "bulk-2"]
    assert all("reviewed" in t["tags"] for t in moved)

    # The moved tasks left the table but stay selected (as in the reference app): the bar says so.
    expect(bar).to_contain_text("2 selected")
    bar.get_by_role("button", name="Select none").click()
    table.get_by_role("checkbox", name="Select bulk-0").check()
    expect(bar).to_contain_text("1 selected")
    bar.get_by_role("button", name="Archive", exact=True).click()
    expect(rows(page)).to_have_count(0)
    page.get_by_label("Show archived").check()
    expect(rows(page)).to_have_count(1)
    table.get_by_role("checkbox", name="Select bulk-0").check()
    shot(page, "tasks-archived-selection")
    bar.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete").get_by_role("button", name="Delete").click()
    expect(rows(page)).to_have_count(0)
    assert api.ok("tasks.get_all", project=[source], only_fields=["id"], search_hidden=True)["tasks"] == []
    still = api.ok("tasks.get_all", project=[target], only_fields=["system_tags"])["tasks"]
    assert len(still) == 2 and not [t for t in still if "archived" in (t.get("system_tags") or [])]
