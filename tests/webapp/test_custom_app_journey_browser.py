"""The example custom app end to end with real parts (issue 17): packed and uploaded with `trackside-apps`,
launched from the wizard in Chromium, run by our agent as the custom-apps service (services mode, venv mode,
``--use-owner-token``: the instance acts as the user who launched it), its dashboard showing the html with the
run name typed in the wizard and the Status values the task writes, the Fit plot, the Loss scalars and the log;
then a long instance followed live, stopped from its page and relaunched with the same parameters.

One stack for the module: the session's web app stack, the app installed once, one agent. The first instance
builds the task venv (clearml and numpy from the wheelhouse); the relaunch restores it from the agent's cache.
Screenshots: tests/webapp/screenshots/custom-app-dashboard-{1280,800}.png."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support.browser import shot
from support.custom_apps import (APP_ID, APP_NAME, QUEUE, WORKER_ID, cli_pack, cli_upload, example_repository,
                                 start_custom_apps_agent)
from support.objects import get_task
from support.our_agent import WHEELHOUSE
from support.waiting import wait_for
from support.webapp import signed_in_session
from support.webapp_data import admin_client, make_project, make_task, unique

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason="make setup fills the wheelhouse")]
RUN_NAME = "e2e sine ü 42"
ITERATIONS = 80  # x 0.1 s: long enough for the dashboard's 3 s refresh to see it running
INSTANCE_URL = re.compile(rf"/applications/{APP_ID}/instances/(\w+)$")
FINAL = {"completed", "failed", "stopped", "closed", "published"}


@pytest.fixture(scope="module")
def admin(webapp_stack):
    return admin_client(webapp_stack)


@pytest.fixture(scope="module")
def ada_id(webapp_stack):
    """The admin who signs in to the web app and launches (not the agent's key's user)."""
    http = signed_in_session(webapp_stack.url, webapp_stack.admin_user, webapp_stack.admin_password)
    return http.get(f"{webapp_stack.url}/app-config.json", timeout=30).json()["user"]["id"]


@pytest.fixture(scope="module")
def installed(webapp_stack, tmp_path_factory):
    """The example packed for a local clone of its code and uploaded, both with the CLI as documented."""
    root = tmp_path_factory.mktemp("custom-app")
    repository = example_repository(root / "git")
    archive = cli_pack(root / f"{APP_ID}.zip", repository)
    upload = cli_upload(webapp_stack.api_url, webapp_stack.api_key, webapp_stack.api_secret, archive)
    assert APP_ID in upload.stdout, upload.stdout
    return repository


@pytest.fixture(scope="module")
def agent(webapp_stack, tmp_path_factory):
    """The custom-apps agent, with the stack's admin key (test key user, an administrator)."""
    daemon = start_custom_apps_agent(tmp_path_factory.mktemp("custom-apps-agent"), webapp_stack.api,
                                     webapp_stack.files_url)
    yield daemon
    daemon.stop()


# Every chart of the dashboard drawn at its card's width (plotly follows a resize a moment later).
CHARTS_FIT = """() => [...document.querySelectorAll('.app-dashboard .js-plotly-plot')]
  .every((el) => el._fullLayout && Math.abs(el._fullLayout.width - el.clientWidth) < 2)"""


def console(api, task_id: str) -> str:
    events = api.ok("events.get_task_log", task=task_id, batch_size=5000, navigate_earlier=False)["events"]
    return "\n".join(e.get("msg") or "" for e in events)


def params(task: dict) -> dict:
    return {section: {name: p["value"] for name, p in values.items()}
            for section, values in (task.get("hyperparams") or {}).items()}


def wait_status(api, task_id: str, statuses: set, timeout: float = 120) -> dict:
    wait_for(lambda: get_task(api, task_id)["status"] in statuses, timeout=timeout,
             what=f"instance {task_id} to be {'/'.join(sorted(statuses))}", interval=0.3)
    return get_task(api, task_id)


def instance_in(url: str) -> str | None:
    found = INSTANCE_URL.search(url)
    return found.group(1) if found else None


def launch_from_wizard(page, api, values: dict, choose: dict | None = None) -> str:
    """Fill the open launch wizard by the fields' labels, launch, land on the new instance's page: its id.
    (The app page itself shows its newest instance meanwhile: the new one is the id not seen before.)"""
    before = {i["id"] for i in api.ok("apps.get_instances", app=APP_ID)["instances"]}
    dialog = page.get_by_role("dialog", name=f"Launch {APP_NAME}")
    expect(dialog).to_be_visible()
    for label, value in values.items():
        dialog.get_by_label(re.compile(rf"^{re.escape(label)}")).fill(value)
    for label, option in (choose or {}).items():
        dialog.get_by_label(re.compile(rf"^{re.escape(label)}")).select_option(label=option)
    dialog.get_by_role("button", name="Launch", exact=True).click()
    page.wait_for_url(lambda url: instance_in(url) not in (None, *before))
    return instance_in(page.url)


def html_frame(page):
    return page.locator("section[aria-label='Run'] iframe").content_frame


def test_launched_from_the_wizard_the_dashboard_follows_the_run(page, webapp_stack, admin, ada_id, installed, agent):
    # The gallery lists the uploaded app; its card opens the wizard.
    page.goto("/applications")
    card = page.locator(f".app-card[data-app='{APP_ID}']")
    expect(card).to_be_visible()
    card.get_by_role("button", name="Launch").click()
    instance = launch_from_wizard(page, admin, {"Run name": RUN_NAME, "Iterations": str(ITERATIONS),
                                         "Pause per iteration (seconds)": "0.1"})

    task = get_task(admin, instance)
    assert task["user"] == ada_id and task["type"] == "application" and "application" in task["system_tags"]
    assert task["application"]["app_id"] == APP_ID and task["application"]["launch_params"]["run_name"] == RUN_NAME
    assert params(task)["General"]["run_name"] == RUN_NAME and task["script"]["repository"] == installed

    # Live: the html follows the Status values the task writes while it runs, then its end.
    html = html_frame(page).locator("body")
    expect(html.locator("h2")).to_have_text(RUN_NAME, timeout=30000)
    expect(html).to_contain_text(re.compile(rf"running: iteration [1-9]\d* of {ITERATIONS}"), timeout=90000)
    expect(html).to_contain_text(f"completed: iteration {ITERATIONS} of {ITERATIONS}", timeout=60000)
    expect(html).to_contain_text("Model: polynomial, learning rate 0.4")
    expect(html).to_contain_text("Baseline: no project chosen")
    done = wait_status(admin, instance, FINAL)  # the html says "completed" a moment before the process ends
    assert done["status"] == "completed", (done.get("status_reason"), console(admin, instance)[-3000:])

    # Plot, scalars, debug image and log, drawn from what the task reported.
    fit = page.locator("section[aria-label='Fit'] .app-plot[data-drawn='true']")
    expect(fit).to_be_visible()
    assert fit.evaluate("el => el.data.map(t => t.name)") == ["data", "model"]
    loss = page.locator("section[aria-label='Loss'] .chart-plot[data-drawn='true']")
    expect(loss).to_be_visible()
    assert {"train", "validation"} <= set(loss.evaluate("el => el.data.map(t => t.name)"))
    # ... up to the last iteration: the dashboard reads what was reported after its last live refresh
    page.wait_for_function("([el, last]) => el.data.every((t) => Math.max(...t.x) === last)",
                           arg=[loss.element_handle(), ITERATIONS])
    expect(page.locator("section[aria-label='Residuals'] img").first).to_be_visible()
    log = page.locator("section[aria-label='Log']")
    expect(log).to_contain_text(f"run '{RUN_NAME}': polynomial model (degree 3), {ITERATIONS} iterations")
    expect(log).to_contain_text(f"iteration {ITERATIONS}/{ITERATIONS}")
    expect(log).to_contain_text("Process completed successfully")  # the agent's last line, after the run

    # The agent ran it as the custom-apps service, with the launching user's token.
    text = console(admin, instance)
    assert admin.ok("users.get_current_user")["user"]["id"] != ada_id  # the agent's key is another admin's
    assert f"running the task with its owner's token (user {ada_id})" in text
    assert done["last_worker"].startswith(f"{WORKER_ID}:service:") and "venv built in" in text
    queue = admin.ok("queues.get_all", name=f"^{QUEUE}$")["queues"]  # the app's default_queue
    assert [q["id"] for q in queue] == [done["execution"]["queue"]]

    for width, height in ((1280, 1800), (800, 2700)):  # tall enough for the whole dashboard (it scrolls inside)
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(CHARTS_FIT)
        shot(page, f"custom-app-dashboard-{width}")


def test_a_long_instance_stopped_from_its_page_then_relaunched(page, admin, ada_id, installed, agent):
    # A project to compare with (the wizard's project dropdown): one completed task reporting Loss/validation.
    baseline = unique("e2e baseline")
    make_task(admin, make_project(admin, baseline), "earlier fit", "completed",
              scalars=[("Loss", "validation", [0.5, 0.25])])
    page.goto(f"/applications/{APP_ID}?launch=1")
    old = launch_from_wizard(page, admin, {"Run name": "e2e long run", "Iterations": "100000",
                                           "Pause per iteration (seconds)": "0.1"},
                             choose={"Compare with project": baseline})
    html = html_frame(page).locator("body")
    expect(html).to_contain_text(re.compile(r"running: iteration [1-9]\d* of 100000"), timeout=90000)
    # The task read that project as the launching user (Task.get_tasks with the owner's token).
    expect(html).to_contain_text(f"Baseline: best validation loss 0.2500 in '{baseline}' (1 completed tasks)")

    head = page.locator(".app-instance-head")
    head.get_by_role("button", name="Stop").click()
    page.get_by_role("dialog", name="Stop instance").get_by_role("button", name="Stop").click()
    expect(head).to_contain_text(re.compile("stopped", re.I), timeout=60000)
    stopped = wait_status(admin, old, FINAL)
    assert stopped["status"] == "stopped", (stopped.get("status_message"), stopped.get("status_reason"),
                                            console(admin, old)[-2000:], agent.log()[-2000:])

    head.get_by_role("button", name="Relaunch").click()
    page.get_by_role("dialog", name="Relaunch instance").get_by_role("button", name="Relaunch").click()
    page.wait_for_url(lambda url: instance_in(url) not in (None, old))
    new = instance_in(page.url)
    fresh, archived = get_task(admin, new), get_task(admin, old)
    assert "archived" in archived["system_tags"]
    assert fresh["user"] == ada_id
    assert fresh["application"]["launch_params"] == stopped["application"]["launch_params"]
    typed = [("General", "run_name"), ("General", "compare_project"), ("Training", "iterations"),
             ("Training", "sleep_seconds"), ("Training", "learning_rate"), ("Model", "kind"), ("Model", "degree"),
             ("Data", "samples")]
    assert [params(fresh)[s][n] for s, n in typed] == [params(stopped)[s][n] for s, n in typed]
    assert params(fresh)["General"]["run_name"] == "e2e long run"

    # The relaunch runs from the agent's venv cache; stopped again so that nothing outlives the module.
    expect(html).to_contain_text(re.compile(r"running: iteration [1-9]\d*"), timeout=60000)
    assert re.search(r"venv cache: hit \w+", console(admin, new))
    shot(page, "custom-app-relaunched")
    admin.ok("apps.stop_instance", instance=new)
    assert wait_status(admin, new, FINAL)["status"] == "stopped"
