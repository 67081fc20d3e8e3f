"""The projects page in a real Chromium: cards with task counts and status breakdown, nested projects, search,
and create / rename / move / delete with the reference app's validation, through roles and names."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support.webapp_data import admin_client, make_model, make_project, make_task, unique


@pytest.fixture(scope="module")
def tree(webapp_stack):
    api = admin_client(webapp_stack)
    root = unique("Vision")
    root_id = make_project(api, root, "Image models")
    child_id = make_project(api, f"{root}/Detection")
    make_project(api, f"{root}/Segmentation")
    for status in ("completed", "completed", "failed", "in_progress"):
        make_task(api, root_id, unique("root-task"), status)
    make_task(api, child_id, unique("child-task"), "completed")
    return {"api": api, "root": root, "root_id": root_id, "child_id": child_id}


def card(page, name):
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name, exact=True))


def test_cards_show_counts_breakdown_and_nesting(page, tree, shot):
    page.goto("/projects")
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="All tasks")).to_have_attribute("href", "/projects/*/tasks")
    root_card = card(page, tree["root"])
    expect(root_card).to_contain_text("5 tasks")  # summed over its sub-projects
    expect(root_card).to_contain_text("Completed 3")
    expect(root_card).to_contain_text("Failed 1")
    expect(root_card).to_contain_text("Running 1")
    expect(root_card.get_by_role("link", name=f"Sub-projects of {tree['root']}")).to_have_text("2 sub-projects")
    shot(page, "projects")

    root_card.get_by_role("link", name=tree["root"], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/projects/{tree['root_id']}/projects$"))
    expect(page.get_by_role("heading", name=tree["root"], exact=True)).to_be_visible()
    expect(card(page, "Detection")).to_contain_text("1 task")
    expect(card(page, "Segmentation")).to_contain_text("0 tasks")
    own = card(page, f"{tree['root']} tasks")
    expect(own).to_contain_text("4 tasks")  # its own
    shot(page, "projects-nested")
    card(page, "Detection").get_by_role("link", name="Detection", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/projects/{tree['child_id']}/tasks$"))


def test_search_finds_nested_projects(page, tree):
    page.goto("/projects")
    page.get_by_label("Search projects").fill("Segmentation")
    expect(card(page, "Segmentation")).to_be_visible()
    expect(card(page, tree["root"])).to_have_count(0)
    expect(page).to_have_url(re.compile(r"\?q=Segmentation$"))


def test_create_validates_like_the_reference_and_shows_api_errors(page, tree, shot):
    page.goto(f"/projects/{tree['root_id']}/projects")
    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog", name="New project")
    expect(dialog.get_by_label("Create in")).to_have_value(tree["root"])
    name = dialog.get_by_label("Project name")
    submit = dialog.get_by_role("button", name="Create project")
    for value, message in [("", "Please add name."), ("ab", "Project name should contain more than 3 characters."),
                           ("   ", "Project name can't contain only spaces."),
                           ("a/bc", "Project name can't contain slash (/)"),
                           ("Detection", "Project name in this path already exists.")]:
        name.fill(value)
        submit.click()
        expect(dialog.get_by_role("alert")).to_have_text(message)
    shot(page, "projects-create-invalid")
    name.fill("Tracking")
    dialog.get_by_label("Description").fill("multi-object tracking")
    submit.click()
    expect(dialog).to_be_hidden()
    expect(card(page, "Tracking")).to_contain_text("multi-object tracking")
    assert tree["api"].ok("projects.get_all", name=f"^{tree['root']}/Tracking$")["projects"]


def test_rename_move_and_delete(page, tree, shot):
    api = tree["api"]
    old = unique("Scratch")
    make_project(api, f"{tree['root']}/{old}")
    page.goto(f"/projects/{tree['root_id']}/projects")

    card(page, old).get_by_role("button", name=f"Actions for {old}").click()
    page.get_by_role("menuitem", name="Rename").click()
    dialog = page.get_by_role("dialog", name="Rename project")
    dialog.get_by_label("Project name").fill("Detection")
    dialog.get_by_role("button", name="Rename").click()
    expect(dialog.get_by_role("alert")).to_have_text("Project name in this path already exists.")
    new = unique("Renamed")
    dialog.get_by_label("Project name").fill(new)
    dialog.get_by_role("button", name="Rename").click()
    expect(card(page, new)).to_be_visible()
    expect(card(page, old)).to_have_count(0)

    # Move it under Detection.
    card(page, new).get_by_role("button", name=f"Actions for {new}").click()
    page.get_by_role("menuitem", name="Move to").click()
    dialog = page.get_by_role("dialog", name=f'Move "{new}" to')
    dialog.get_by_label("Project").fill(f"{tree['root']}/Detection")
    dialog.get_by_role("button", name="Move").click()
    expect(card(page, new)).to_have_count(0)
    moved = api.ok("projects.get_all", name=f"^{tree['root']}/Detection/{new}$")["projects"]
    assert len(moved) == 1

    # A project with an un-archived task cannot be deleted; the reason is shown.
    make_task(api, moved[0]["id"], unique("keep"), "created")
    page.goto(f"/projects/{tree['child_id']}/projects")
    card(page, new).get_by_role("button", name=f"Actions for {new}").click()
    page.get_by_role("menuitem", name="Delete").click()
    alert = page.get_by_role("dialog", name="Unable to delete project")
    expect(alert).to_contain_text("1 un-archived task")
    shot(page, "projects-delete-refused")
    alert.get_by_role("button", name="OK").click()

    # An empty one is deleted after confirming.
    empty = unique("Empty")
    make_project(api, f"{tree['root']}/Detection/{empty}")
    page.reload()
    card(page, empty).get_by_role("button", name=f"Actions for {empty}").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("dialog", name="Delete project").get_by_role("button", name="Delete").click()
    expect(card(page, empty)).to_have_count(0)
    assert not api.ok("projects.get_all", name=f"^{tree['root']}/Detection/{empty}$")["projects"]
