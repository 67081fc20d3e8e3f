"""The applications gallery in a real Chromium, and the web app's asset route it loads icons through.

Three apps are uploaded as the admin: the example (examples/apps/numpy-trainer, category Training, featured 100)
and two small ones of category Data (featured 10, and 900 disabled). Other modules of the session may install
more apps, so the checks look at these three cards and their relative order only."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from support.app_gallery import EXAMPLE_ID, example_files, small_app_files, upload_app
from support.browser import new_page, sign_in_page
from support.webapp import signed_in_session
from support.webapp_data import admin_client

WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 800, "height": 900}
FIRST, LAST = "gallery-csv-inspector", "gallery-archive-cleaner"


@pytest.fixture(scope="module")
def apps(webapp_stack):
    api = admin_client(webapp_stack)
    upload_app(webapp_stack, api, example_files())
    upload_app(webapp_stack, api, small_app_files(FIRST, "CSV Inspector", "Data", 10, ["beta", "csv"],
                                                  "Summarises a CSV file's columns"))
    upload_app(webapp_stack, api, small_app_files(LAST, "Archive Cleaner", "Data", 900, [],
                                                  "Removes archived tasks older than a date"))
    api.ok("apps.disable", app=LAST)
    yield api
    api.ok("apps.delete", app=FIRST)
    api.ok("apps.delete", app=LAST)


def card(page, name):
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name, exact=True))


def card_names(page) -> list[str]:
    return page.locator(".app-card h2").all_inner_texts()


def test_gallery_tabs_order_badges_icons_and_enabled_switch(page, apps, webapp_stack, shot):
    page.set_viewport_size(WIDE)
    page.goto("/applications")
    expect(page.get_by_role("link", name="Applications")).to_have_attribute("aria-current", "page")
    trainer = card(page, "NumPy Trainer")
    expect(trainer).to_be_visible()
    names = card_names(page)
    # Featured order (lower first): 10, 100, then the disabled 900 that only admins see.
    assert names.index("CSV Inspector") < names.index("NumPy Trainer") < names.index("Archive Cleaner"), names

    summary = next(a for a in apps.ok("apps.get_apps", id=[EXAMPLE_ID])["apps"])
    expect(trainer).to_contain_text("Trackside examples")
    expect(trainer).to_contain_text("v1.0.0")
    expect(trainer.get_by_role("list", name="Badges")).to_have_text(re.compile(r"example\s*numpy"))
    total, running = summary["instances"]["total"], summary["instances"]["running"]
    expect(trainer.locator(".app-instance-count")).to_have_text(
        f"{running} running · {total} instance{'' if total == 1 else 's'}" if total else "No instances")
    icon = trainer.locator("img.app-icon")
    expect(icon).to_have_attribute("src", "/app-assets/numpy-trainer/1.0.0/numpy-trainer.svg")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=icon.element_handle())
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=card(page, "CSV Inspector").locator("img.app-icon").element_handle())

    cleaner = card(page, "Archive Cleaner")
    expect(cleaner).to_have_class(re.compile(r"\bapp-disabled\b"))
    expect(cleaner.get_by_role("button", name="Launch Archive Cleaner")).to_be_disabled()
    expect(cleaner.get_by_role("switch")).not_to_be_checked()
    expect(card(page, "CSV Inspector").get_by_role("button", name="Launch CSV Inspector")).to_be_enabled()

    page.get_by_role("tab", name="Data").click()
    expect(page).to_have_url(re.compile(r"/applications\?category=Data$"))
    expect(page.get_by_role("tab", name="Data")).to_have_attribute("aria-selected", "true")
    expect(trainer).to_have_count(0)
    names = card_names(page)
    assert names.index("CSV Inspector") < names.index("Archive Cleaner") and "NumPy Trainer" not in names, names
    shot(page, "apps-gallery-data-tab")
    page.get_by_role("tab", name="All").click()
    expect(trainer).to_be_visible()
    shot(page, "apps-gallery")
    page.set_viewport_size(NARROW)
    shot(page, "apps-gallery-narrow")
    page.set_viewport_size(WIDE)

    # A plain user never sees a disabled app.
    user_page = new_page(page.context.browser, webapp_stack.url)
    try:
        sign_in_page(user_page, webapp_stack.user_name, webapp_stack.user_password, next_path="/applications")
        expect(card(user_page, "NumPy Trainer")).to_be_visible()
        expect(card(user_page, "Archive Cleaner")).to_have_count(0)
        expect(card(user_page, "NumPy Trainer").get_by_role("switch")).to_have_count(0)
    finally:
        user_page.context.close()

    # The admin's switch enables it (apps.enable) and disables it again.
    cleaner.get_by_role("switch").check()
    expect(cleaner).not_to_have_class(re.compile(r"\bapp-disabled\b"))
    expect(cleaner.get_by_role("button", name="Launch Archive Cleaner")).to_be_enabled()
    assert apps.ok("apps.get_apps", id=[LAST], include_disabled=True)["apps"][0]["enabled"] is True
    cleaner.get_by_role("switch").uncheck()
    expect(cleaner).to_have_class(re.compile(r"\bapp-disabled\b"))
    assert apps.ok("apps.get_apps", id=[LAST], include_disabled=True)["apps"][0]["enabled"] is False


def test_empty_gallery_names_the_upload_command(page, webapp_stack, shot):
    page.route("**/api/apps.get_apps", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body='{"meta": {"result_code": 200, "result_subcode": 0, "result_msg": "OK"}, "data": {"apps": []}}'))
    page.goto("/applications")
    expect(page.get_by_role("heading", name="No applications installed")).to_be_visible()
    expect(page.locator(".empty-state pre")).to_contain_text(
        f"trackside-apps upload --host {webapp_stack.api_url} --user <admin key> --password <admin secret>")
    expect(page.get_by_role("tab")).to_have_count(0)
    shot(page, "apps-gallery-empty")


def test_asset_route_streams_sandboxed_assets_as_the_user(apps, webapp_stack):
    http = signed_in_session(webapp_stack.url, webapp_stack.user_name, webapp_stack.user_password)
    base = f"{webapp_stack.url}/app-assets"
    icon = http.get(f"{base}/{EXAMPLE_ID}/1.0.0/numpy-trainer.svg", timeout=30)
    assert icon.status_code == 200, icon.text
    assert icon.headers["Content-Type"].startswith("image/svg+xml")
    assert icon.headers["Content-Security-Policy"].startswith("sandbox")
    assert icon.headers["X-Content-Type-Options"] == "nosniff"
    assert icon.content == (example_files()["assets/numpy-trainer.svg"])
    page = http.get(f"{base}/{FIRST}/1.0.0/no-info.html", timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"].startswith("sandbox")  # its script runs in an opaque origin
    for path in (f"{FIRST}/1.0.0/missing.png", f"{FIRST}/9.9.9/icon.png", "no-such-app/1.0.0/icon.png"):
        missing = http.get(f"{base}/{path}", timeout=30)
        assert missing.status_code == 404, (path, missing.status_code, missing.text)
        assert missing.headers["Content-Type"].startswith("text/plain")
    anonymous = requests.get(f"{base}/{EXAMPLE_ID}/1.0.0/numpy-trainer.svg", timeout=30)
    assert anonymous.status_code == 401
    revoked = requests.get(f"{base}/{EXAMPLE_ID}/1.0.0/numpy-trainer.svg", timeout=30,
                           cookies={"trackside_session": "not-a-token"})
    assert revoked.status_code == 401 and "trackside_session=;" in revoked.headers.get("Set-Cookie", "")
