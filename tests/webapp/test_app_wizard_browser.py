"""The launch wizard in a real Chromium, on the example app (examples/apps/numpy-trainer, whose wizard has every
field type): a dropdown's conditional field hides and shows, a default follows another field until it is edited,
the collapsible group, two list items titled live from their values, live validation that blocks Launch, a
server refusal shown under the list item's field, and a launch whose instance task holds the typed values (read
back through the API); and, on a small app opened from its gallery card, a required list of single values with
suggestions, and a checkbox that shows a field inside a group. The instances go to a queue no agent serves:
nothing runs."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from support.app_gallery import EXAMPLE_ID, example_files, small_app_files, stop_open_instances, upload_app
from support.webapp_data import admin_client, make_project, unique

WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 800, "height": 700}
SMALL_ID = "wizard-small"
SMALL_ENTRIES = """
  { name: verbose, title: "Verbose", type: checkbox, default: false,
    target { field: hyperparams, section: General, name: verbose } }
  { name: tags, title: "Tags", type: list, required: true,
    item_template { name: tag, title: "Tag", type: string, choices: ["alpha", "beta"] },
    target { field: configuration, name: tags } }
  { name: advanced, title: "Advanced", type: group, item_template: [
    { name: level, title: "Log level", type: integer, default: 1,
      conditional { entries: [ { name: verbose, value: true } ] },
      target { field: hyperparams, section: Advanced, name: level } }
    { name: comment, title: "Comment", type: multiline_text,
      target { field: hyperparams, section: Advanced, name: comment } }
  ] }
"""


@pytest.fixture(scope="module")
def example_app(webapp_stack):
    api = admin_client(webapp_stack)
    upload_app(webapp_stack, api, example_files())
    project = unique("wizard-compare")  # the project dropdown lists it (its filter drops names starting "example")
    make_project(api, project)
    files = small_app_files(SMALL_ID, "Small Wizard", "Tools", 20, [], "Lists, suggestions, a checkbox",
                            entries=SMALL_ENTRIES)
    upload_app(webapp_stack, api, files)
    yield api, project
    stop_open_instances(api, EXAMPLE_ID)
    stop_open_instances(api, SMALL_ID)
    api.ok("apps.delete", app=SMALL_ID)


def field(dialog, label, scope=None):
    return (scope or dialog).get_by_label(label, exact=True)


def error_of(control):
    """The message under a field (its aria-describedby error paragraph)."""
    return control.locator("xpath=ancestor::div[contains(@class, 'wizard-field')][1]").locator(".field-error")


def test_wizard_fields_validation_errors_and_launch(page, example_app, shot):
    api, project = example_app
    page.set_viewport_size(WIDE)
    page.goto(f"/applications?launch={EXAMPLE_ID}")
    dialog = page.get_by_role("dialog", name="Launch NumPy Trainer")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(r"/applications$"))  # a reload does not open it again
    launch = dialog.get_by_role("button", name="Launch", exact=True)
    expect(field(dialog, "Instance name")).to_have_value("NumPy Trainer")
    expect(field(dialog, "Run name")).to_have_value("numpy run")
    expect(field(dialog, "Run name")).to_have_attribute("placeholder", "e.g. sine fit, lower noise")
    expect(dialog.get_by_text("Shown at the top of the dashboard")).to_be_visible()  # info as a hint
    expect(field(dialog, "Iterations")).to_have_value("200")
    expect(field(dialog, "Model")).to_have_value("1")  # polynomial, the second choice
    expect(launch).to_be_enabled()
    shot(page, "apps-wizard-opened")

    # conditional: the degree exists for polynomials only; default_conditional_on: the rate follows the model.
    degree, rate = field(dialog, "Polynomial degree"), field(dialog, "Learning rate")
    field(dialog, "Model").select_option(label="Linear (a line)")
    expect(degree).to_be_hidden()
    expect(rate).to_have_value("0.8")
    field(dialog, "Model").select_option(label="Polynomial")
    expect(degree).to_be_visible()
    expect(rate).to_have_value("0.4")
    rate.fill("0.25")
    field(dialog, "Model").select_option(label="Linear (a line)")
    expect(rate).to_have_value("0.25")  # edited: it no longer follows
    field(dialog, "Model").select_option(label="Polynomial")

    # Live validation: a bad integer is named under the field and Launch waits.
    degree.fill("3x")
    expect(error_of(degree)).to_have_text("Enter a whole number, e.g. 3.")
    expect(degree).to_have_attribute("aria-invalid", "true")
    expect(launch).to_be_disabled()
    expect(dialog.locator(".wizard-summary")).to_have_text("To launch, fix: Polynomial degree")
    shot(page, "apps-wizard-invalid")
    degree.fill("5")
    expect(error_of(degree)).to_be_hidden()
    expect(launch).to_be_enabled()

    field(dialog, "Run name").fill("wizard run")
    field(dialog, "Instance name").fill("wizard instance")
    field(dialog, "Compare with project").select_option(label=project)
    field(dialog, "Stop when the validation loss no longer improves").check()
    field(dialog, "Notes").fill("first line\nsecond line")

    # The collapsible group hides and shows its fields.
    toggle = dialog.get_by_role("button", name="Data", exact=True)
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(field(dialog, "Samples")).to_be_hidden()
    toggle.click()
    expect(field(dialog, "Samples")).to_be_visible()
    field(dialog, "Noise (standard deviation)").fill("0.3")

    # Two list items, titled from their own values as they are typed; a required item field blocks Launch.
    add = dialog.get_by_role("button", name="Add an item to Learning-rate steps")
    add.click()
    items = dialog.locator(".wizard-list-item")
    expect(items.nth(0).locator(".item-title")).to_have_text("From iteration …: x0.5")
    expect(launch).to_be_disabled()  # "From iteration" is required
    field(dialog, "From iteration", items.nth(0)).fill("50")
    expect(items.nth(0).locator(".item-title")).to_have_text("From iteration 50: x0.5")
    add.click()
    field(dialog, "From iteration", items.nth(1)).fill("120")
    field(dialog, "Factor", items.nth(1)).fill("0.1")
    expect(items.nth(1).locator(".item-title")).to_have_text("From iteration 120: x0.1")
    expect(launch).to_be_enabled()
    shot(page, "apps-wizard")
    page.set_viewport_size(NARROW)
    box, body = dialog.bounding_box(), dialog.locator(".wizard-body")
    assert box["y"] >= 0 and box["y"] + box["height"] <= NARROW["height"] and box["width"] <= NARROW["width"], box
    assert body.evaluate("el => el.scrollHeight > el.clientHeight")  # the form scrolls inside the dialog
    launch_box = launch.bounding_box()
    assert launch_box["y"] + launch_box["height"] <= NARROW["height"], launch_box
    shot(page, "apps-wizard-narrow")
    page.set_viewport_size(WIDE)

    # A value only the server refuses (here: the request altered on its way) is shown under its field.
    def bad_factor(route):
        body = json.loads(route.request.post_data)
        body["launch_params"]["lr_schedule"][1]["factor"] = "fast"
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/apps.launch_instance", bad_factor)
    launch.click()
    factor = field(dialog, "Factor", items.nth(1))
    expect(error_of(factor)).to_contain_text("Factor must be a number")
    expect(dialog.get_by_role("alert")).to_have_text("The server refused some values: see the marked fields.")
    expect(factor).to_be_focused()
    shot(page, "apps-wizard-server-error")
    page.unroute("**/api/apps.launch_instance")
    factor.fill("0.1")
    expect(error_of(factor)).to_be_hidden()

    launch.click()
    page.wait_for_url(re.compile(rf"/applications/{EXAMPLE_ID}/instances/[0-9a-f]+$"))
    expect(dialog).to_have_count(0)
    task_id = page.url.rsplit("/", 1)[-1]
    task = api.ok("tasks.get_by_id", task=task_id)["task"]
    assert task["name"] == "wizard instance"
    assert task["application"]["app_id"] == EXAMPLE_ID
    params = {(s, n): v["value"] for s, section in task["hyperparams"].items() for n, v in section.items()}
    assert params[("General", "run_name")] == "wizard run"
    assert params[("General", "compare_project")] == project
    assert params[("General", "notes")] == "first line\nsecond line"
    assert params[("Model", "kind")] == "polynomial" and params[("Model", "degree")] == "5"
    assert params[("Training", "learning_rate")] == "0.25" and params[("Training", "iterations")] == "200"
    assert params[("Training", "early_stop")] == "True"
    assert params[("Data", "noise")] == "0.3" and params[("Data", "samples")] == "200"
    assert json.loads(task["configuration"]["lr_schedule"]["value"]) == [
        {"at_iteration": 50, "factor": 0.5}, {"at_iteration": 120, "factor": 0.1}]
    assert task["application"]["launch_params"]["lr_schedule"][1] == {"at_iteration": 120, "factor": 0.1}


def test_single_value_list_suggestions_and_a_checkbox_condition_in_a_group(page, example_app, shot):
    api, _ = example_app
    page.set_viewport_size(WIDE)
    page.goto("/applications")
    page.get_by_role("button", name="Launch Small Wizard").click()
    dialog = page.get_by_role("dialog", name="Launch Small Wizard")
    launch = dialog.get_by_role("button", name="Launch", exact=True)
    expect(dialog.locator(".wizard-summary")).to_have_text("To launch, fix: Tags")  # required, and empty
    expect(launch).to_be_disabled()

    level = field(dialog, "Log level")
    expect(level).to_be_hidden()  # its condition names the checkbox outside its group
    field(dialog, "Verbose").check()
    expect(level).to_have_value("1")

    add = dialog.get_by_role("button", name="Add an item to Tags")
    add.click()
    items = dialog.locator(".wizard-list-item")
    tag = field(dialog, "Tag", items.nth(0))
    expect(tag).to_be_focused()
    expect(dialog.locator(f"datalist#{tag.get_attribute('list')} option")).to_have_count(2)  # the suggestions
    tag.fill("alpha")
    add.click()
    field(dialog, "Tag", items.nth(1)).blur()
    expect(error_of(field(dialog, "Tag", items.nth(1)))).to_have_text("Enter a value or remove the item.")
    expect(launch).to_be_disabled()
    shot(page, "apps-wizard-small")
    dialog.get_by_role("button", name="Remove Tags item 2").click()
    expect(items).to_have_count(1)
    expect(launch).to_be_enabled()
    field(dialog, "Comment").fill("two\nlines")

    launch.click()
    page.wait_for_url(re.compile(rf"/applications/{SMALL_ID}/instances/[0-9a-f]+$"))
    task = api.ok("tasks.get_by_id", task=page.url.rsplit("/", 1)[-1])["task"]
    assert task["application"]["launch_params"] == {"verbose": True, "tags": ["alpha"],
                                                    "advanced": {"level": 1, "comment": "two\nlines"}}
    assert json.loads(task["configuration"]["tags"]["value"]) == ["alpha"]
    assert task["hyperparams"]["General"]["verbose"]["value"] == "True"
    assert task["hyperparams"]["Advanced"]["level"]["value"] == "1"
