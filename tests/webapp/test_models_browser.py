"""The models table and the model page in a real Chromium: columns, filters, sort, selection and bulk
publish/archive with counts; the model page's general, network, labels, metadata, tasks, scalars and plots."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from support.webapp_data import _add_events, admin_client, make_model, make_project, make_task, unique


@pytest.fixture(scope="module")
def models(webapp_stack):
    api = admin_client(webapp_stack)
    project = make_project(api, unique("Models"))
    trainer = make_task(api, project, "trainer", "completed")
    ids = {}
    ids["resnet"] = make_model(api, project, "resnet50", task=trainer, framework="PyTorch", tags=["vision"],
                               design="layer1: conv 3x3\nlayer2: relu", labels={"background": 0, "cat": 1, "dog": 2})
    ids["bert"] = make_model(api, project, "bert-base", framework="TensorFlow", tags=["nlp"])
    ids["tiny"] = make_model(api, project, "tiny-mlp", framework="scikit-learn")
    api.ok("models.add_or_update_metadata", model=ids["resnet"],
           metadata=[{"key": "input_size", "type": "int", "value": "224"}])
    # A task that uses resnet50 as its input model.
    user = make_task(api, project, "fine-tune", "created")
    api.ok("tasks.add_or_update_model", task=user, name="base", type="input", model=ids["resnet"])
    # Events reported on the model itself.
    now = int(time.time() * 1000)
    plot = {"data": [{"type": "bar", "x": ["a", "b"], "y": [3, 5]}], "layout": {"title": "class balance"}}
    _add_events(api, [{"type": "training_stats_scalar", "task": ids["resnet"], "model_event": True, "metric": "eval",
                       "variant": "top1", "iter": i, "value": 0.5 + i / 100, "timestamp": now} for i in range(20)]
                + [{"type": "plot", "task": ids["resnet"], "model_event": True, "metric": "balance", "variant": "train",
                    "iter": 0, "plot_str": json.dumps(plot), "timestamp": now}])
    api.ok("models.set_ready", model=ids["resnet"])  # published after its events (a ready model is locked)
    return {"api": api, "project": project, "ids": ids, "user_task": user, "trainer": trainer}


def rows(page):
    return page.get_by_role("table", name="Models").locator("tbody tr[data-id]")


def test_models_table_filters_sorts_and_bulk_actions(page, models, shot):
    page.goto(f"/projects/{models['project']}/models")
    expect(rows(page)).to_have_count(3)
    table = page.get_by_role("table", name="Models")
    resnet = table.get_by_role("row").filter(has_text="resnet50")
    expect(resnet).to_contain_text("PyTorch")
    expect(resnet).to_contain_text("vision")
    expect(resnet).to_contain_text("Published")
    expect(resnet.get_by_role("link", name="trainer")).to_be_visible()
    shot(page, "models-table")

    table.get_by_role("button", name="Name", exact=True).click()
    expect(table.get_by_role("columnheader", name="Name")).to_have_attribute("aria-sort", "ascending")
    expect(rows(page).first).to_contain_text("bert-base")

    page.get_by_role("button", name="Filter Framework").click()
    page.get_by_role("dialog", name="Filter Framework").get_by_label("TensorFlow").check()
    expect(rows(page)).to_have_count(1)
    page.get_by_role("dialog", name="Filter Framework").get_by_role("button", name="Clear").click()
    expect(rows(page)).to_have_count(3)

    page.get_by_role("button", name="Filter Status").click()
    page.get_by_role("dialog", name="Filter Status").get_by_label("Draft").check()
    expect(rows(page)).to_have_count(2)
    page.keyboard.press("Escape")

    page.get_by_label("Search models").fill("tiny")
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Search models").fill("")
    expect(rows(page)).to_have_count(2)

    for name in ("bert-base", "tiny-mlp"):
        table.get_by_role("checkbox", name=f"Select {name}").check()
    bar = page.get_by_role("region", name="Selection actions")
    expect(bar.get_by_role("button", name="Delete (0 of 2)")).to_be_disabled()
    bar.get_by_role("button", name="Archive (2 of 2)").click()
    expect(page.get_by_role("status").filter(has_text="2 models archived")).to_be_visible()
    expect(rows(page)).to_have_count(0)
    page.get_by_label("Show archived").check()
    expect(rows(page)).to_have_count(2)
    page.get_by_role("checkbox", name="Select all loaded rows").check()
    bar.get_by_role("button", name="Restore (2 of 2)").click()
    expect(rows(page)).to_have_count(0)
    archived = models["api"].ok("models.get_all", id=list(models["ids"].values()), only_fields=["system_tags"])
    assert not [m for m in archived["models"] if "archived" in (m.get("system_tags") or [])]


def test_model_page_tabs(page, models, shot):
    resnet = models["ids"]["resnet"]
    page.goto(f"/projects/{models['project']}/models/{resnet}/general")
    expect(page.get_by_role("heading", name="resnet50")).to_be_visible()
    panel = page.get_by_role("tabpanel")
    expect(panel).to_contain_text("PyTorch")
    expect(panel.get_by_role("link", name="trainer")).to_be_visible()
    shot(page, "model-general")

    page.get_by_role("tab", name="Network").click()
    expect(page).to_have_url(re.compile(rf"/models/{resnet}/network$"))
    expect(page.get_by_role("tabpanel")).to_contain_text("layer1: conv 3x3")

    page.get_by_role("tab", name="Labels").click()
    labels = page.get_by_role("table", name="Labels")
    expect(labels.get_by_role("row")).to_have_count(4)
    expect(labels.get_by_role("row").filter(has_text="dog")).to_contain_text("2")
    shot(page, "model-labels")

    page.get_by_role("tab", name="Metadata").click()
    expect(page.get_by_role("table", name="Metadata").get_by_role("row").filter(has_text="input_size")) \
        .to_contain_text("224")

    page.get_by_role("tab", name="Tasks").click()
    using = page.get_by_role("table", name="Tasks using this model")
    expect(using.locator("tbody tr[data-id]")).to_have_count(1)
    expect(using.get_by_role("link", name="fine-tune")).to_be_visible()
    shot(page, "model-tasks")

    page.get_by_role("tab", name="Scalars").click()
    expect(page).to_have_url(re.compile(rf"/models/{resnet}/scalars$"))
    expect(page.get_by_role("tabpanel")).to_contain_text("eval", timeout=15000)
    expect(page.get_by_role("tabpanel").locator(".js-plotly-plot").first).to_be_visible(timeout=15000)
    shot(page, "model-scalars")

    page.get_by_role("tab", name="Plots").click()
    expect(page.get_by_role("tabpanel")).to_contain_text("balance", timeout=15000)
    expect(page.get_by_role("tabpanel").locator(".js-plotly-plot").first).to_be_visible(timeout=15000)
    shot(page, "model-plots")


def test_model_output_path_and_all_models(page, models):
    resnet = models["ids"]["resnet"]
    page.goto(f"/projects/*/models/{resnet}/output/labels")
    expect(page.get_by_role("tab", name="Labels")).to_have_attribute("aria-selected", "true")
    page.goto("/projects/*/models")
    expect(page.get_by_role("heading", name="All models")).to_be_visible()
    expect(page.get_by_role("table", name="Models").get_by_role("link", name="resnet50")).to_be_visible()
