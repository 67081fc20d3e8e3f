"""The task page in a real Chromium, on tasks reported by the real SDK: the link the SDK printed opens the
console with the printed line; the console searches the whole log on the server; scalar charts with their
smoothing and log-scale controls; a plot and a debug image; the configuration; every tab renders."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from support.webapp_reports import CONSOLE_LINE, long_console_task, sdk_tasks

CHART = "figure[data-title='{}'] .chart-plot"


@pytest.fixture(scope="module")
def reported(webapp_stack, tmp_path_factory):
    return sdk_tasks(webapp_stack, tmp_path_factory.mktemp("sdk-home"))


def task_url(reported, tab: str, index: int = 0) -> str:
    task = reported.tasks[index]
    return f"/projects/{task['project']}/tasks/{task['id']}/{tab}"


def chart_state(page, title: str) -> dict:
    return page.evaluate("""(selector) => {
        const el = document.querySelector(selector);
        return {traces: el.data.map((t) => ({name: t.name, n: t.y.length, y: Array.from(t.y), meta: t.meta || {}})),
                ytype: el._fullLayout.yaxis.type};
    }""", CHART.format(title))


def test_the_link_the_sdk_printed_opens_the_console_with_the_printed_line(page, reported, shot):
    assert len(reported.links) >= 1, reported.stdout[-2000:]
    path = urlparse(reported.links[0]).path
    assert re.fullmatch(r"/projects/[0-9a-f]+/tasks/[0-9a-f]+/output/log", path), path
    assert reported.tasks[0]["id"] in path
    page.goto(path)
    expect(page.get_by_role("tab", name="Console")).to_have_attribute("aria-selected", "true")
    console = page.get_by_role("region", name="Console output")
    expect(console.get_by_text(f"{CONSOLE_LINE} (first)")).to_be_visible()
    expect(page.get_by_role("heading", name="first")).to_be_visible()
    shot(page, "task-console-from-sdk-link")


def test_console_search_finds_a_line_that_was_never_loaded(page, webapp_stack, reported, shot):
    lines, needle_at, needle = 20000, 37, "the needle is here"
    task = long_console_task(webapp_stack, reported.project, lines, needle_at, needle)
    page.goto(f"/projects/{reported.project}/tasks/{task}/info-output/log")
    console = page.get_by_role("region", name="Console output")
    expect(console.get_by_text(f"log line {lines - 1}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"{lines:,} lines")).to_be_visible()
    # Virtual: only the visible rows are in the DOM, the needle is not among them.
    assert page.locator(".console-row").count() < 100
    assert page.get_by_text(needle).count() == 0
    shot(page, "task-console-long-tail")

    page.get_by_label("Search console").fill("NEEDLE is")
    page.get_by_label("Search console").press("Enter")
    expect(console.locator("mark")).to_have_text("needle is")
    expect(console.locator(".console-hit")).to_contain_text(needle)
    expect(page.get_by_role("status").filter(has_text="Match at line")).to_contain_text(f"line {needle_at + 1}")
    expect(page.get_by_role("status").filter(has_text="Match at line")).to_contain_text(re.compile(r"· 1\+? match"))
    shot(page, "task-console-search-hit")

    # Next wraps around to the same single hit; a regex reaches lines far from the view.
    page.get_by_label("Regex").check()
    page.get_by_label("Search console").fill(r"^log line 1999\d$")
    page.get_by_role("button", name="Next match").click()
    expect(console.locator(".console-hit")).to_contain_text("log line 19990", timeout=30000)


def test_scalar_chart_and_its_smoothing_and_log_scale_controls(page, reported, shot):
    page.goto(task_url(reported, "info-output/metrics/scalar"))
    page.wait_for_selector(CHART.format("loss") + "[data-drawn='true']")
    state = chart_state(page, "loss")
    names = sorted(t["name"] for t in state["traces"])
    assert names == ["train", "validation"], names
    train = next(t for t in state["traces"] if t["name"] == "train")
    assert train["n"] == 200 and abs(train["y"][0] - 1.01) < 1e-9
    assert state["ytype"] == "linear"
    expect(page.get_by_role("table", name="Single values")).to_contain_text("best_accuracy")
    shot(page, "task-scalars")

    page.get_by_label("Smoothing", exact=True).select_option(label="Exponential moving average")
    page.get_by_label("Smoothing amount").fill("0.9")
    page.wait_for_function("""(selector) => document.querySelector(selector).data
        .some((t) => t.meta && t.meta.smoothed)""", arg=CHART.format("loss"))
    state = chart_state(page, "loss")
    smoothed = next(t for t in state["traces"] if t["meta"].get("smoothed") and t["meta"]["variant"] == "train")
    raw = next(t for t in state["traces"] if t["meta"].get("raw") and t["meta"]["variant"] == "train")
    assert raw["y"][0] == pytest.approx(1.01)
    assert smoothed["y"][5] > raw["y"][5]  # a falling curve smoothed lags above it
    shot(page, "task-scalars-smoothed")

    page.get_by_label("Log scale").check()
    page.wait_for_function("""(selector) => document.querySelector(selector)._fullLayout.yaxis.type === 'log'""",
                           arg=CHART.format("loss"))
    shot(page, "task-scalars-log")
    # Settings are kept for the next visit; put them back for the other tests.
    page.get_by_label("Log scale").uncheck()
    page.get_by_label("Smoothing", exact=True).select_option(label="None")

    page.get_by_label("X axis").select_option(label="Wall time")
    page.wait_for_function("(s) => document.querySelector(s)._fullLayout.xaxis.type === 'date'",
                           arg=CHART.format("loss"))
    page.get_by_label("X axis").select_option(label="Relative time")
    page.wait_for_function("(s) => { const el = document.querySelector(s);"
                           " return el._fullLayout.xaxis.type === 'linear'"
                           " && Math.min(...el.data.map((t) => t.x[0])) === 0; }", arg=CHART.format("loss"))
    page.get_by_label("X axis").select_option(label="Iterations")
    page.get_by_label("Group by").select_option(label="Series (one chart each)")
    page.wait_for_selector(CHART.format("loss / validation") + "[data-drawn='true']")
    shot(page, "task-scalars-by-series")
    page.get_by_label("Group by").select_option(label="Metric")


def test_a_plot_and_a_debug_image_render(page, reported, shot):
    page.goto(task_url(reported, "info-output/metrics/plots"))
    figure = page.locator("figure[data-metric='confusion'] .plot-figure[data-drawn='true']")
    expect(figure).to_have_count(1)
    kind = page.evaluate("() => document.querySelector(\"figure[data-metric='confusion'] .plot-figure\").data[0].type")
    assert kind == "heatmap"
    expect(page.locator("figure[data-metric='confusion']")).to_contain_text("matrix")
    shot(page, "task-plots")

    page.get_by_role("tab", name="Debug samples").click()
    expect(page).to_have_url(re.compile(r"/info-output/debugImages$"))
    thumb = page.get_by_role("button", name="Open samples / input iteration 3", exact=True)
    image = thumb.get_by_role("img")
    expect(image).to_have_attribute("src", re.compile(r"^/files/"))
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 32", arg=image.element_handle())
    shot(page, "task-debug-samples")
    thumb.click()
    viewer = page.get_by_role("dialog", name="samples / input")
    expect(viewer.get_by_role("img")).to_be_visible()
    expect(viewer.get_by_label("Iteration")).to_be_visible()
    expect(viewer.get_by_role("button", name="Next sample")).to_be_visible()
    shot(page, "task-debug-sample-viewer")
    viewer.get_by_role("button", name="Close").click()


def test_configuration_tab_shows_the_connected_hyperparameters(page, reported, shot):
    page.goto(task_url(reported, "hyper-params"))
    page.get_by_role("navigation", name="Configuration sections").get_by_role("link", name="General").click()
    expect(page).to_have_url(re.compile(r"/hyper-params/hyper-param/General$"))
    table = page.get_by_role("table", name="General parameters")
    expect(table.get_by_role("row", name=re.compile(r"learning_rate"))).to_contain_text("0.01")
    expect(table.get_by_role("row", name=re.compile(r"optimizer"))).to_contain_text("adam")
    shot(page, "task-configuration")


@pytest.mark.parametrize("tab", ["Execution", "Artifacts", "Info", "Console", "Scalars", "Plots", "Debug samples",
                                 "Configuration"])
def test_every_tab_renders_at_its_path(page, reported, shot, tab):
    page.goto(task_url(reported, "execution", index=1))
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel")).not_to_contain_text("Loading…")
    assert page.locator(".error-box").count() == 0
    expect(page.get_by_role("heading", name="second")).to_be_visible()
    shot(page, f"task-tab-{tab.lower().replace(' ', '-')}")


def test_artifacts_link_the_model_page_and_download_through_the_web_app(page, reported, shot):
    page.goto(task_url(reported, "artifacts"))
    side = page.get_by_role("navigation", name="Artifacts and models")
    side.get_by_role("link", name="webapp model").click()
    expect(page).to_have_url(re.compile(r"/artifacts/output-model/[0-9a-f]+$"))
    expect(page.get_by_role("link", name="Open model page")).to_have_attribute(
        "href", re.compile(r"^/projects/[^/]+/models/[0-9a-f]+/general$"))
    shot(page, "task-artifacts-model")

    side.get_by_role("link", name="summary").click()
    expect(page).to_have_url(re.compile(r"/artifacts/other/summary/output$"))
    download = page.get_by_role("link", name="Download", exact=True)
    href = download.get_attribute("href")
    assert href.startswith("/files/"), href
    answer = page.request.get(href)  # the page's cookies: through the web app with the user's token
    assert answer.status == 200 and b"learning_rate" in answer.body()
    shot(page, "task-artifacts-artifact")


def test_a_draft_tasks_hyperparameter_is_edited_in_place(page, webapp_stack, reported, shot):
    from support.webapp_reports import api_client

    client = api_client(webapp_stack)
    draft = client.ok("tasks.clone", task=reported.tasks[0]["id"], new_task_name="draft to edit")["id"]
    page.goto(f"/projects/{reported.project}/tasks/{draft}/hyper-params/hyper-param/General")
    page.get_by_role("button", name="Edit General").click()
    page.get_by_label("Value of learning_rate").fill("0.5")
    page.get_by_role("button", name="Remove optimizer").click()
    shot(page, "task-configuration-editing")
    page.get_by_role("button", name="Save").click()
    table = page.get_by_role("table", name="General parameters")
    expect(table.get_by_role("row", name=re.compile(r"learning_rate"))).to_contain_text("0.5")
    expect(table.get_by_role("row", name=re.compile(r"optimizer"))).to_have_count(0)
    params = client.ok("tasks.get_by_id", task=draft)["task"]["hyperparams"]["General"]
    assert params["learning_rate"]["value"] == "0.5" and "optimizer" not in params

    page.get_by_role("navigation", name="Configuration sections").get_by_role("link", name="model config").click()
    page.get_by_role("button", name="Edit model config").click()
    page.get_by_label("Value of model config").fill('{"layers": [8]}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("region", name=re.compile("Configuration model config")).or_(
        page.get_by_label("Configuration model config"))).to_contain_text('"layers": [8]')
    config = client.ok("tasks.get_by_id", task=draft)["task"]["configuration"]["model config"]
    assert config["value"] == '{"layers": [8]}'
    shot(page, "task-configuration-edited")


def test_a_running_tasks_console_and_charts_follow_it_without_reload(page, webapp_stack, reported, shot):
    import json

    from support.webapp_reports import JSON_LINES, api_client

    client = api_client(webapp_stack)
    task = client.ok("tasks.create", name="running live", type="training", project=reported.project)["id"]
    client.ok("tasks.started", task=task)

    def add(events):
        reply = client.send("events.add_batch", body="\n".join(json.dumps(e) for e in events), headers=JSON_LINES,
                            version="2.23")
        assert reply.code == (200, 0), reply.meta

    add([{"type": "log", "task": task, "msg": "first live line", "level": "info", "timestamp": 1_700_000_000_000},
         {"type": "training_stats_scalar", "task": task, "metric": "live", "variant": "a", "iter": 0, "value": 1.0}])
    # The page's own timers run faster on demand (fast_forward): its 3 s and 5 s refreshes come at once.
    page.clock.install()
    page.goto(f"/projects/{reported.project}/tasks/{task}/info-output/log")
    console = page.get_by_role("region", name="Console output")
    expect(console.get_by_text("first live line")).to_be_visible()
    expect(page.get_by_label("Follow")).to_be_checked()
    add([{"type": "log", "task": task, "msg": f"later line {n}", "level": "info", "timestamp": 1_700_000_000_001 + n}
         for n in range(300)])
    page.clock.fast_forward(5000)
    expect(console.get_by_text("later line 299", exact=True)).to_be_visible(timeout=15000)  # followed the tail
    shot(page, "task-console-live")

    page.get_by_role("tab", name="Scalars").click()
    selector = CHART.format("live")
    page.wait_for_selector(selector + "[data-drawn='true']")
    add([{"type": "training_stats_scalar", "task": task, "metric": "live", "variant": "a", "iter": i, "value": 1.0 + i}
         for i in range(1, 50)])
    page.clock.fast_forward(5000)
    page.wait_for_function("(s) => document.querySelector(s).data[0].y.length === 50", arg=selector, timeout=20000)
    shot(page, "task-scalars-live")
