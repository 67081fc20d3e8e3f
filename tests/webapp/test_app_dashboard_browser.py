"""The application page and an instance's dashboard in a real Chromium. The example app (examples/apps/
numpy-trainer) is uploaded and launched through the API onto a queue no agent serves; the test then plays the
running task through the API as the app's code would (started, Status hyperparameters, the Loss and Learning
rate scalars, the Fit plot, console lines, a Residuals debug image stored on the file server) and checks that the
dashboard shows each element, follows new reports live without a reload, and stops the instance from the page.
A second app without instances shows its no-info page."""
from __future__ import annotations

import io
import json
import re
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from support.app_gallery import stop_open_instances
from support.files import FilesClient
from support.webapp_data import admin_client, unique

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/apps/numpy-trainer"
APP_ID, IDLE_APP_ID = "numpy-trainer", "numpy-trainer-idle"
RUN_NAME = "dashboard run <b>one</b>"  # the html element shows it escaped, as text
JSON_LINES = {"Content-Type": "application/json-lines"}

sys.path.insert(0, str(EXAMPLE / "task"))
import trainer  # noqa: E402  (the example app's own image writer)


# The second app's extra dashboard line: the element types the example does not use.
EXTRA_LINE = """
    { style: "height: 420px", contents: [
      { title: "Loss over time", type: scalar-histogram, metric: "Loss", variant: ["train"], key: iso_time }
      { title: "Schedule", type: configuration, name: "lr_schedule" }
      { title: "Training", type: hyperparameter, section: "Training", name: "iterations" }
    ] }"""


def package(app_id: str = APP_ID) -> bytes:
    """The example's package (the README's zip); another id gives a second app from the same files (with one
    more dashboard line)."""
    conf = (EXAMPLE / f"{APP_ID}.app.conf").read_text()
    if app_id != APP_ID:
        conf = conf.replace(f'id: "{APP_ID}"', f'id: "{app_id}"').replace('name: "NumPy Trainer"',
                                                                          'name: "NumPy Trainer (idle)"')
        assert conf.count("dashboard {\n  lines: [") == 1
        conf = conf.replace("dashboard {\n  lines: [", "dashboard {\n  lines: [" + EXTRA_LINE)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{app_id}.app.conf", conf)
        for path in sorted((EXAMPLE / "assets").iterdir()):
            archive.write(path, f"assets/{path.name}")
    return buffer.getvalue()


def upload(stack, client, app_id: str) -> None:
    reply = client.session.post(f"{stack.api_url}/apps.upload", headers={"Authorization": f"Bearer {client.token}"},
                                files={"file": (f"{app_id}.zip", package(app_id), "application/zip")}, timeout=60)
    assert reply.status_code == 200, reply.text


class RunningTask:
    """Reports what the example app's main.py reports, through the API, as the instance's task."""

    def __init__(self, stack, client, task: str):
        self.stack, self.client, self.task = stack, client, task
        self.files = FilesClient.logged_in(stack.files_url, client)
        self.stamp = int(time.time() * 1000)

    def events(self, events: list[dict]) -> None:
        for event in events:
            self.stamp += 1
            event.setdefault("timestamp", self.stamp)
            event["task"] = self.task
        reply = self.client.send("events.add_batch", method="POST", body="\n".join(json.dumps(e) for e in events),
                                 headers=JSON_LINES)
        assert reply.code == (200, 0) and reply.data["errors"] == 0, reply.body

    def status(self, **values) -> None:
        self.client.ok("tasks.edit_hyper_params", task=self.task, force=True, hyperparams=[
            {"section": "Status", "name": name, "value": str(value), "type": "str"} for name, value in values.items()])

    def log(self, *lines: str) -> None:
        self.events([{"type": "log", "msg": line, "level": "info", "worker": "test"} for line in lines])

    def iterations(self, first: int, last: int) -> None:
        events = []
        for i in range(first, last + 1):
            events += [{"type": "training_stats_scalar", "metric": "Loss", "variant": "train", "iter": i,
                        "value": 1.0 / i},
                       {"type": "training_stats_scalar", "metric": "Loss", "variant": "validation", "iter": i,
                        "value": 1.2 / i},
                       {"type": "training_stats_scalar", "metric": "Learning rate", "variant": "lr", "iter": i,
                        "value": 0.4}]
        self.events(events)

    def fit(self, iteration: int) -> None:
        x = np.linspace(-1, 1, 20)
        for variant, mode, y in (("data", "markers", np.sin(3 * x)), ("model", "lines", 2.5 * x - x ** 3)):
            figure = {"data": [{"type": "scatter", "mode": mode, "x": x.tolist(), "y": y.tolist(), "name": variant}],
                      "layout": {"xaxis": {"title": "x"}, "yaxis": {"title": "y"}}}
            self.events([{"type": "plot", "metric": "Fit", "variant": variant, "iter": iteration,
                          "plot_str": json.dumps(figure)}])

    def residuals(self, iteration: int) -> str:
        name = f"{unique('app-dashboard')}/Residuals/residuals_{iteration}.png"
        png = trainer.png_bytes(trainer.residual_image(np.sin(np.linspace(0, 6, 40)) * 0.3))
        assert self.files.upload(name, png).status_code == 200
        self.events([{"type": "training_debug_image", "metric": "Residuals", "variant": "residuals",
                      "iter": iteration, "key": "residuals", "url": f"{self.stack.files_url}/{name}"}])
        return name


@pytest.fixture(scope="module")
def instance(webapp_stack):
    """The example app uploaded (and a second, idle copy), an instance launched and reporting as if running."""
    client = admin_client(webapp_stack)
    upload(webapp_stack, client, APP_ID)
    upload(webapp_stack, client, IDLE_APP_ID)
    task = client.ok("apps.launch_instance", app=APP_ID, task_name=unique("numpy instance"),
                     launch_params={"run_name": RUN_NAME, "iterations": 40, "data": {"samples": 64}})["id"]
    run = RunningTask(webapp_stack, client, task)
    client.ok("tasks.started", task=task)
    run.status(state="running", iteration=20, loss="0.06000", baseline="no project chosen")
    run.log("baseline: no project chosen", *(f"iteration {i}/40: train {1 / i:.5f}" for i in range(10, 21, 10)))
    run.iterations(1, 20)
    run.fit(20)
    run.residuals(20)
    yield run
    stop_open_instances(client, APP_ID)
    stop_open_instances(client, IDLE_APP_ID)


def open_dashboard(page, run) -> None:
    page.goto(f"/applications/{APP_ID}")
    # The app page opens its newest instance.
    expect(page).to_have_url(re.compile(rf"/applications/{APP_ID}/instances/{run.task}$"))
    expect(page.locator(".app-instance-title .status")).to_have_text("in_progress")


def html_text(page) -> str:
    return page.frame_locator("section[data-type='html'] iframe").locator("body").inner_text()


def charts_fit(page) -> None:
    """Plotly follows a window resize a moment later: wait until every chart fits its card."""
    page.wait_for_function("""() => [...document.querySelectorAll('.app-element .js-plotly-plot')].every((plot) =>
        plot.querySelector('svg.main-svg').getBoundingClientRect().right
        <= plot.closest('.app-element').getBoundingClientRect().right + 1)""")


def test_the_dashboard_shows_what_the_instance_reported(page, instance, shot):
    # Tall windows: the page scrolls inside <main>, so a full-page shot holds only what the window shows.
    page.set_viewport_size({"width": 1280, "height": 1900})
    open_dashboard(page, instance)
    expect(page.get_by_role("heading", name="NumPy Trainer")).to_be_visible()
    # Other modules' instances of the example may be listed too (stopped): the newest, this one, comes first.
    expect(page.get_by_role("list", name="Instances").locator("li").first).to_contain_text("in_progress")

    frame = page.frame_locator("section[data-type='html'] iframe")
    expect(frame.get_by_role("heading", name=RUN_NAME)).to_be_visible()  # escaped: the <b> is text
    expect(frame.locator("body")).to_contain_text("running: iteration 20 of 40")
    expect(frame.locator("body")).to_contain_text("validation loss 0.06000")
    expect(frame.locator("body")).to_contain_text("no project chosen")
    # Sized to its content: nothing cut off, no inner scroll bar.
    assert page.evaluate("""() => { const f = document.querySelector("section[data-type='html'] iframe");
        return f.contentDocument.documentElement.scrollHeight <= f.clientHeight; }""")

    loss = page.locator("section[aria-label='Loss'] .chart-plot[data-drawn='true']")
    expect(loss).to_have_count(1)
    traces = loss.evaluate("(el) => el.data.map((t) => [t.name, t.y.length])")
    assert sorted(traces) == [["train", 20], ["validation", 20]], traces
    rate = page.locator("section[aria-label='Learning rate'] .chart-plot[data-drawn='true']")
    expect(rate).to_have_count(1)
    assert rate.evaluate("(el) => el._fullLayout.showlegend") is False  # hide_legend

    fit = page.locator("section[aria-label='Fit'] .chart-plot[data-drawn='true']")
    expect(fit).to_have_count(1)
    assert fit.evaluate("(el) => el.data.map((t) => t.name)") == ["data", "model"]

    image = page.locator("section[aria-label='Residuals'] img")
    expect(image).to_have_attribute("src", re.compile(r"^/files/"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 160", arg=image.element_handle())

    console = page.locator("section[aria-label='Log']").get_by_role("region", name="Console output")
    expect(console).to_contain_text("iteration 20/40")
    params = page.locator("section[aria-label='Parameters']")
    expect(params.get_by_role("table", name="Training parameters")).to_contain_text("learning_rate")
    expect(params.get_by_role("table", name="Status parameters")).to_contain_text("0.06000")
    charts_fit(page)
    shot(page, "app-dashboard-1280")
    page.set_viewport_size({"width": 800, "height": 2900})
    # Narrow: the cards of a line stack, each keeping its height.
    page.wait_for_function("""() => {
        const box = (title) => document.querySelector(`section[aria-label='${title}']`).getBoundingClientRect();
        return box('Learning rate').top > box('Loss').bottom; }""")
    for title in ("Run", "Loss", "Fit", "Residuals", "Log", "Parameters"):
        assert page.locator(f"section[aria-label='{title}']").bounding_box()["height"] > 100, title
    charts_fit(page)
    shot(page, "app-dashboard-800")


def test_the_dashboard_follows_the_run_live_and_stops_it(page, instance, webapp_stack, shot):
    open_dashboard(page, instance)
    frame = page.frame_locator("section[data-type='html'] iframe")
    expect(frame.locator("body")).to_contain_text("iteration 20 of 40")
    draws = page.locator("section[aria-label='Fit'] .chart-plot[data-drawn='true']").get_attribute("data-draws")

    # The task reports on; the page follows without a reload.
    instance.iterations(21, 30)
    instance.fit(30)
    instance.log("iteration 30/40: a line reported while the page was open")
    instance.status(iteration=30, loss="0.04000")
    expect(frame.locator("body")).to_contain_text("iteration 30 of 40", timeout=15000)
    expect(frame.locator("body")).to_contain_text("validation loss 0.04000")
    console = page.locator("section[aria-label='Log']").get_by_role("region", name="Console output")
    expect(console).to_contain_text("a line reported while the page was open", timeout=15000)
    page.wait_for_function("""(before) => { const el = document.querySelector("section[aria-label='Loss'] .chart-plot");
        return el && el.data && el.data[0].y.length === 30; }""", arg=None, timeout=15000)
    page.wait_for_function("""(before) => document.querySelector("section[aria-label='Fit'] .chart-plot")
        .dataset.draws !== before""", arg=draws, timeout=15000)
    shot(page, "app-dashboard-live")

    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("dialog", name="Stop instance").get_by_role("button", name="Stop").click()
    expect(page.locator(".app-instance-title .status")).to_have_text("stopped", timeout=15000)
    expect(page.get_by_role("list", name="Instances").locator(".status").first).to_have_text("stopped")
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_disabled()
    task = instance.client.ok("tasks.get_by_id", task=instance.task)["task"]
    assert task["status"] == "stopped"
    open_task = page.get_by_role("link", name="Open task")
    expect(open_task).to_have_attribute("href", f"/projects/{task['project']}/tasks/{instance.task}/execution")
    shot(page, "app-dashboard-stopped")

    page.get_by_role("button", name="Rename").click()
    rename = page.get_by_role("dialog", name="Rename instance")
    rename.get_by_label("Name").fill("renamed instance")
    rename.get_by_role("button", name="Rename").click()
    expect(page.locator(".app-instance-name")).to_have_text("renamed instance")
    expect(page.get_by_role("list", name="Instances")).to_contain_text("renamed instance")

    # Relaunch: the stopped task is archived and the page moves to the new instance, queued again.
    page.get_by_role("button", name="Relaunch").click()
    page.get_by_role("dialog", name="Relaunch instance").get_by_role("button", name="Relaunch").click()
    expect(page).not_to_have_url(re.compile(rf"/instances/{instance.task}$"))
    new_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".app-instance-title .status")).to_have_text("queued")
    # The archived task leaves the list (other modules' stopped instances of the example may stay).
    expect(page.locator(f"li[data-instance='{instance.task}']")).to_have_count(0)
    expect(page.locator(f"li[data-instance='{new_id}']")).to_contain_text("renamed instance")
    old = instance.client.ok("tasks.get_by_id", task=instance.task)["task"]
    assert "archived" in old["system_tags"]
    instance.client.ok("apps.stop_instance", instance=new_id)  # nothing left queued for other tests


def test_an_app_without_instances_shows_its_no_info_page(page, instance, shot):
    page.goto(f"/applications/{IDLE_APP_ID}")
    expect(page.get_by_role("heading", name="NumPy Trainer (idle)")).to_be_visible()
    expect(page.get_by_text("No instances yet")).to_be_visible()
    frame = page.locator("iframe.app-no-info")
    expect(frame).to_have_attribute("src", re.compile(rf"^/app-assets/{IDLE_APP_ID}/"))
    expect(page.frame_locator("iframe.app-no-info").locator("body")).to_contain_text("No NumPy Trainer runs yet")
    shot(page, "app-no-instances")

    # The first instance appears without a reload: the page moves to its dashboard.
    client = instance.client
    task = client.ok("apps.launch_instance", app=IDLE_APP_ID, launch_params={
        "lr_schedule": [{"at_iteration": 10, "factor": 0.5}], "iterations": 12})["id"]
    run = RunningTask(instance.stack, client, task)
    client.ok("tasks.started", task=task)
    run.iterations(1, 12)
    expect(page).to_have_url(re.compile(rf"/applications/{IDLE_APP_ID}/instances/{task}$"), timeout=15000)
    line = page.locator(".app-line", has=page.locator("section[aria-label='Loss over time']"))
    expect(line).to_have_css("height", "420px")  # the line's style
    bars = page.locator("section[aria-label='Loss over time'] .chart-plot[data-drawn='true']")
    expect(bars).to_have_count(1, timeout=15000)
    assert bars.evaluate("(el) => [el.data.map((t) => t.type), el._fullLayout.xaxis.type]") == [["bar"], "date"]
    schedule = page.locator("section[aria-label='Schedule']")
    expect(schedule).to_contain_text('"at_iteration": 10')
    training = page.locator("section[aria-label='Training']").get_by_role("table")
    expect(training).to_contain_text("iterations")
    expect(training.locator("tbody tr")).to_have_count(1)  # narrowed to one name
    page.locator("section[aria-label='Loss over time']").scroll_into_view_if_needed()
    shot(page, "app-dashboard-more-elements")
    client.ok("apps.stop_instance", instance=task)

    # ?launch=1 (the gallery's link) opens the launch form on the app page.
    page.goto(f"/applications/{IDLE_APP_ID}?launch=1")
    expect(page.get_by_role("dialog", name="Launch NumPy Trainer (idle)")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/applications/{IDLE_APP_ID}/instances/{task}$"))
