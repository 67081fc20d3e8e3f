"""Compare two tasks reported by the real SDK in a real Chromium: the differing hyperparameter is highlighted,
the overlaid scalar chart has both tasks' traces; details, parallel coordinates, values and plots render."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support.webapp_reports import sdk_tasks


@pytest.fixture(scope="module")
def reported(webapp_stack, tmp_path_factory):
    return sdk_tasks(webapp_stack, tmp_path_factory.mktemp("sdk-home"))


def compare_url(reported, tab: str) -> str:
    ids = ",".join(t["id"] for t in reported.tasks)
    return f"/projects/{reported.project}/compare-tasks;ids={ids}/{tab}"


def test_the_differing_hyperparameter_is_highlighted(page, reported, shot):
    page.goto(compare_url(reported, "hyper-params/values"))
    table = page.get_by_role("table", name="Hyperparameters")
    differing = table.get_by_role("row", name=re.compile(r"learning_rate"))
    expect(differing).to_have_class(re.compile(r"\bdiffers\b"))
    expect(differing).to_contain_text("0.01")
    expect(differing).to_contain_text("0.1")
    expect(table.get_by_role("row", name=re.compile(r"batch_size"))).not_to_have_class(re.compile(r"\bdiffers\b"))
    shot(page, "compare-hyperparameters")
    page.get_by_label("Only differences").check()
    expect(table.get_by_role("row", name=re.compile(r"batch_size"))).to_have_count(0)


def test_the_overlaid_scalar_chart_has_both_tasks(page, reported, shot):
    page.goto(compare_url(reported, "scalars/graph"))
    selector = "figure[data-title='loss'] .chart-plot"
    page.wait_for_selector(selector + "[data-drawn='true']")
    traces = page.evaluate("(s) => document.querySelector(s).data.map((t) => ({name: t.name, meta: t.meta}))",
                           selector)
    assert {t["meta"]["task"] for t in traces} == {t["id"] for t in reported.tasks}
    assert any(t["name"].startswith("first") for t in traces) and any(t["name"].startswith("second") for t in traces)
    shot(page, "compare-scalars")


def test_the_query_form_and_the_other_tabs_render(page, reported, shot):
    ids = ",".join(t["id"] for t in reported.tasks)
    page.goto(f"/projects/{reported.project}/compare-tasks?ids={ids}")
    expect(page.get_by_role("heading", name="Compare 2 tasks")).to_be_visible()
    expect(page.get_by_role("tab", name="Details")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("table", name="Task details").get_by_role("row", name=re.compile("^User"))).to_contain_text(
        "Test User")
    shot(page, "compare-details")
    for tab, name in [("Parallel coordinates", "compare-parallel"), ("Scalar values", "compare-scalar-values"),
                      ("Plots", "compare-plots"), ("Debug samples", "compare-debug-samples")]:
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("tabpanel")).not_to_contain_text("Loading")
        assert page.locator(".error-box").count() == 0
        if tab == "Parallel coordinates":
            page.wait_for_selector(".parallel-plot[data-drawn='true']")
        if tab == "Plots":
            expect(page.locator(".plot-figure[data-drawn='true']")).to_have_count(2)
        if tab == "Debug samples":
            expect(page.get_by_role("tabpanel").get_by_role("img")).to_have_count(2)
        if tab == "Scalar values":
            expect(page.get_by_role("table", name="Scalar values")).to_contain_text("loss / train")
        shot(page, name)
