"""Issue 15's end-to-end proof, in one journey: the real clearml SDK reports two tasks (a printed line, scalars,
a scatter plot, a debug image uploaded to the file server) and starts a third that keeps running; then a real
Chromium signs in, follows the results-page link the SDK printed, reads the printed line, searches the
console, sees the scalar chart and changes its smoothing and log scale, opens the plot and the debug image
(loaded through /files), goes to the project's tasks table, filters and sorts it, selects the running task and
aborts it with the bulk action, and compares the two reported tasks. Every step is saved as a screenshot
(tests/webapp/screenshots/journey-*.png)."""
from __future__ import annotations

import json
import re
import subprocess
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from support.browser import sign_in_page
from support.client import ApiClient
from support.clients import CLIENTS_PYTHON, SCRIPTS, client_env, run_client_script
from support.names import unique
from support.waiting import wait_for

pytestmark = pytest.mark.slow

RESULTS_LINK = re.compile(r"ClearML results page: (\S+)")
IMAGE_WIDTH = 48  # tests/clients/sdk_webapp_journey.py IMAGE_SIZE
CHART = "figure[data-title='journey loss'] .chart-plot"


@pytest.fixture(scope="module")
def journey(webapp_stack, tmp_path_factory):
    """Two reported tasks and a running one, all from the real SDK with the web app as its web host."""
    home = tmp_path_factory.mktemp("journey-sdk")
    env = client_env(webapp_stack.api_url, webapp_stack.api_key, webapp_stack.api_secret, home,
                     files_url=webapp_stack.files_url, thread_reporting=True)
    env["CLEARML_WEB_HOST"] = webapp_stack.url  # the links Task.init prints point at the web app
    project, marker = unique("Journey"), f"journey marker {unique('line')}"
    run = run_client_script("sdk_webapp_journey.py", ["report", project, marker, "journey-a", "journey-b"], env,
                            timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    tasks = run.result["tasks"]
    links = RESULTS_LINK.findall(run.stdout + "\n" + run.stderr)
    sleeper = start_sleeping_task(env, project, "journey-running")
    try:
        yield {"project": tasks[0]["project"], "tasks": tasks, "links": links, "marker": marker,
               "running": sleeper[1], "stdout": run.stdout}
    finally:
        sleeper[0].kill()
        sleeper[0].wait(10)


def start_sleeping_task(env: dict, project: str, name: str) -> tuple[subprocess.Popen, str]:
    """The SDK script in `sleep` mode; (its process, its task id) once Task.init has run."""
    script = SCRIPTS / "sdk_webapp_journey.py"
    copy = f"{env['HOME']}/{script.name}"
    with open(copy, "w") as out:
        out.write(script.read_text())
    proc = subprocess.Popen([str(CLIENTS_PYTHON), copy, "sleep", project, name], env=env, cwd=env["HOME"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in proc.stdout:  # Task.init prints its link first, then our JSON line
        if line.startswith("{"):
            return proc, json.loads(line)["sleeping"]
    proc.kill()
    raise AssertionError(f"the sleeping task never started (exit code {proc.wait(10)})")


def chart_traces(page) -> list[dict]:
    return page.evaluate("""(selector) => document.querySelector(selector).data.map(
        (t) => ({name: t.name, y: Array.from(t.y), meta: t.meta || {}}))""", CHART)


def test_the_sdk_journey_in_the_browser(anon_page, webapp_stack, journey, shot):
    page = anon_page
    api = ApiClient(webapp_stack.api_url, webapp_stack.api_key, webapp_stack.api_secret).login()
    first, second = journey["tasks"]

    # 1. The link the SDK printed points at the web app; without a session it asks to sign in, then opens it.
    assert len(journey["links"]) >= 2, journey["stdout"][-2000:]
    link = journey["links"][0]
    assert link.startswith(webapp_stack.url + "/"), link
    path = urlparse(link).path
    assert path == f"/projects/{first['project']}/tasks/{first['id']}/output/log", path
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    shot(page, "journey-01-sign-in")
    sign_in_page(page, webapp_stack.admin_user, webapp_stack.admin_password, next_path=path)
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))

    # 2. The console shows the line the script printed.
    console = page.get_by_role("region", name="Console output")
    expect(console.get_by_text(f"{journey['marker']} from journey-a")).to_be_visible()
    expect(page.get_by_role("heading", name="journey-a")).to_be_visible()
    shot(page, "journey-02-console")

    # 3. Searching the console on the server finds the line and marks it.
    search = page.get_by_label("Search console")
    search.fill(journey["marker"].split()[-1])
    search.press("Enter")
    expect(console.locator("mark")).to_have_text(journey["marker"].split()[-1])
    expect(page.get_by_role("status").filter(has_text="Match at line")).to_be_visible()
    shot(page, "journey-03-console-search")

    # 4. The scalar chart of the reported metric; smoothing and log scale change it.
    page.get_by_role("tab", name="Scalars").click()
    page.wait_for_selector(CHART + "[data-drawn='true']")
    traces = chart_traces(page)
    assert [t["name"] for t in traces] == ["train"], traces
    assert len(traces[0]["y"]) == 60 and traces[0]["y"][0] == pytest.approx(10.1)
    shot(page, "journey-04-scalars")
    page.get_by_label("Smoothing", exact=True).select_option(label="Exponential moving average")
    page.get_by_label("Smoothing amount").fill("0.9")
    page.wait_for_function("(s) => document.querySelector(s).data.some((t) => t.meta && t.meta.smoothed)", arg=CHART)
    smoothed = next(t for t in chart_traces(page) if t["meta"].get("smoothed"))
    assert smoothed["y"][31] < 15.0 / 31 + 5.0  # the spike at iteration 30 is flattened
    page.get_by_label("Log scale").check()
    page.wait_for_function("(s) => document.querySelector(s)._fullLayout.yaxis.type === 'log'", arg=CHART)
    shot(page, "journey-05-scalars-smoothed-log")
    page.get_by_label("Log scale").uncheck()  # settings are kept per user: leave them as they were
    page.get_by_label("Smoothing", exact=True).select_option(label="None")

    # 5. The reported plot, drawn by plotly as reported.
    page.get_by_role("tab", name="Plots").click()
    plot = page.get_by_role("figure", name=re.compile(r"^Plot journey scatter \/ points")).locator(".plot-figure")
    expect(plot).to_have_attribute("data-drawn", "true")
    kind = plot.evaluate("(el) => el.data[0].type")
    assert kind == "scatter", kind
    shot(page, "journey-06-plot")

    # 6. The debug image, really loaded from the file server through /files.
    page.get_by_role("tab", name="Debug samples").click()
    thumb = page.get_by_role("button", name="Open journey samples / input iteration 2", exact=True)
    image = thumb.get_by_role("img")
    expect(image).to_have_attribute("src", re.compile(r"^/files/"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("(img) => img.naturalWidth") == IMAGE_WIDTH
    thumb.click()
    viewer = page.get_by_role("dialog", name="journey samples / input")
    expect(viewer.get_by_role("img")).to_be_visible()
    shot(page, "journey-07-debug-image")
    viewer.get_by_role("button", name="Close").click()

    # 7. The project's tasks table: filter to running tasks, sort by name, select the running one, abort it.
    wait_for(lambda: api.ok("tasks.get_by_id", task=journey["running"])["task"]["status"] == "in_progress",
             what="the sleeping task to run", interval=0.5)
    page.goto(f"/projects/{journey['project']}/tasks")
    table = page.get_by_role("table", name="Tasks")
    rows = table.locator("tbody tr[data-id]")
    expect(rows).to_have_count(3)
    table.get_by_role("button", name="Name", exact=True).click()
    expect(rows.first).to_contain_text("journey-a")
    table.get_by_role("button", name="Name", exact=True).click()  # descending
    expect(rows.first).to_contain_text("journey-running")
    shot(page, "journey-08-tasks-sorted")
    page.get_by_role("button", name="Filter Status").click()
    page.get_by_role("dialog", name="Filter Status").get_by_label("Running").check()
    page.keyboard.press("Escape")
    expect(rows).to_have_count(1)
    table.get_by_role("checkbox", name="Select journey-running").check()
    bar = page.get_by_role("region", name="Selection actions")
    expect(bar).to_contain_text("1 selected")
    abort = bar.get_by_role("button", name="Abort", exact=True)  # one task: no "(n of m)"
    shot(page, "journey-09-running-selected")
    abort.click()
    page.get_by_role("dialog", name="Abort").get_by_role("button", name="Abort").click()
    expect(page.get_by_role("status").filter(has_text=re.compile(r"1 task.? aborted"))).to_be_visible()
    wait_for(lambda: api.ok("tasks.get_by_id", task=journey["running"])["task"]["status"] == "stopped",
             what="the running task to be stopped", interval=0.5)
    expect(rows).to_have_count(0)
    shot(page, "journey-10-aborted")

    # 8. Compare the two reported tasks from the table's selection (the aborted task is still selected).
    bar.get_by_role("button", name="Select none").click()
    page.get_by_role("button", name="Filter Status").click()
    page.get_by_role("dialog", name="Filter Status").get_by_label("Running").uncheck()
    page.keyboard.press("Escape")
    expect(rows).to_have_count(3)
    for name in ("journey-a", "journey-b"):
        table.get_by_role("checkbox", name=f"Select {name}").check()
    expect(bar).to_contain_text("2 selected")
    bar.get_by_role("button", name="Compare (2 of 2)").click()
    expect(page).to_have_url(re.compile(r"/compare-tasks"))
    expect(page.get_by_role("heading", name="Compare 2 tasks")).to_be_visible()
    page.get_by_role("tab", name="Scalars", exact=True).click()
    page.wait_for_selector(CHART + "[data-drawn='true']")
    compared = {t["meta"].get("task") for t in chart_traces(page)}
    assert compared == {first["id"], second["id"]}, compared
    shot(page, "journey-11-compare-scalars")
