"""The tasks table with many tasks in one project (opt-in: TRACKSIDE_TABLE_SCALE=<tasks>, e.g. 100000).

Tasks are cloned in the store from one made through the API (with hyper-parameters and scalars, so
last_metrics is the API's own), then the table is timed in Chromium: first page, sort change, status filter,
search, the next scroll page; and the API's time for the exact first-page request. Figures are printed
(run with -s) and written to tests/webapp/screenshots/table-scale.json.
"""
from __future__ import annotations

import copy
import json
import os
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from support.browser import SCREENSHOTS
from support.webapp_data import admin_client, make_project, make_task, unique
from trackside.shared.ids import new_id

SCALE = int(os.environ.get("TRACKSIDE_TABLE_SCALE") or 0)
pytestmark = pytest.mark.skipif(not SCALE, reason="set TRACKSIDE_TABLE_SCALE=<number of tasks> to run")
STATUSES = ["completed"] * 6 + ["failed", "stopped", "in_progress", "created"]


@pytest.fixture(scope="module")
def big_project(webapp_stack, backend):
    api = admin_client(webapp_stack)
    project = make_project(api, unique("Scale"))
    template_id = make_task(api, project, "template", "completed", tags=["seed"],
                            params={"Args": {"lr": "0.1", "batch": "64"}},
                            scalars=[("loss", "train", [1.0, 0.5, 0.25])])
    template = backend.tasks.find_one({"_id": template_id})
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(7)
    started = time.perf_counter()
    batch = []
    for i in range(SCALE):
        doc = copy.deepcopy(template)
        doc["_id"] = new_id()
        doc["name"] = f"task-{i:06d}"
        doc["status"] = rng.choice(STATUSES)
        when = start + timedelta(seconds=i * 7)
        doc["created"] = doc["started"] = doc["last_update"] = doc["last_change"] = when
        doc["last_iteration"] = rng.randint(0, 10_000)
        doc["hyperparams"]["Args"]["lr"]["value"] = str(round(rng.random(), 4))
        for variants in doc.get("last_metrics", {}).values():
            for metric in variants.values():
                metric["value"] = rng.random()
        batch.append(doc)
        if len(batch) == 10_000:
            backend.tasks.insert_many(batch)
            batch = []
    if batch:
        backend.tasks.insert_many(batch)
    seeded = time.perf_counter() - started
    return {"api": api, "id": project, "seed_s": seeded}


def timed(action, until):
    started = time.perf_counter()
    action()
    until()
    return round(time.perf_counter() - started, 3)


def test_table_speed(page, big_project):
    api, project = big_project["api"], big_project["id"]
    figures = {"tasks": SCALE + 1, "seed_s": round(big_project["seed_s"], 1)}
    body = {"project": [project], "size": 30, "scroll_id": None, "order_by": ["-last_update"],
            "system_tags": ["__$not", "archived", "__$not", "pipeline", "__$not", "dataset", "__$not", "reports"],
            "type": ["__$not", "annotation_manual", "__$not", "annotation", "__$not", "dataset_import"],
            "only_fields": ["id", "project.name", "name", "status", "type", "system_tags", "tags", "company",
                            "execution.queue", "user.name", "started", "last_update", "last_iteration"]}
    server = []
    for _ in range(3):
        started = time.perf_counter()
        assert len(api.ok("tasks.get_all_ex", **body)["tasks"]) == 30
        server.append(time.perf_counter() - started)
    figures["api_first_page_s"] = round(min(server), 3)
    started = time.perf_counter()
    api.ok("tasks.get_all_ex", **{**body, "order_by": ["name"]})
    figures["api_sort_by_name_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    api.ok("tasks.get_all_ex", **{**body, "status": ["failed"]})
    figures["api_status_filter_s"] = round(time.perf_counter() - started, 3)

    rows = page.get_by_role("table", name="Tasks").locator("tbody tr[data-id]")
    figures["browser_first_page_s"] = timed(lambda: page.goto(f"/projects/{project}/tasks"),
                                            lambda: expect(rows).to_have_count(30, timeout=60000))
    table = page.get_by_role("table", name="Tasks")
    figures["browser_sort_by_name_s"] = timed(
        lambda: table.get_by_role("button", name="Name", exact=True).click(),
        lambda: expect(rows.first).to_contain_text("task-000000", timeout=60000))
    figures["browser_next_page_s"] = timed(
        lambda: page.locator(".table-scroll").evaluate("el => el.scrollTo(0, el.scrollHeight)"),
        lambda: expect(rows).to_have_count(60, timeout=60000))
    figures["browser_search_s"] = timed(
        lambda: page.get_by_label("Search tasks").fill(f"task-{SCALE // 2:06d}"),
        lambda: expect(rows).to_have_count(1, timeout=60000))  # includes the 300 ms typing debounce
    page.get_by_label("Search tasks").fill("")
    expect(rows).to_have_count(30, timeout=60000)
    page.get_by_role("button", name="Filter Status").click()
    figures["browser_status_filter_s"] = timed(
        lambda: page.get_by_role("dialog", name="Filter Status").get_by_label("Failed").check(),
        lambda: expect(rows.first.get_by_text("Failed")).to_be_visible(timeout=60000))
    print(json.dumps(figures, indent=2))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "table-scale.json").write_text(json.dumps(figures, indent=2))
