"""The settings pages in a real Chromium: the profile (name edited, server summary), workspace credentials
(created with a label, the secret shown once in a clearml.conf snippet that works against the API, then
revoked and refused), and webhooks (created with the secret shown once, a refused URL shown next to its field,
deleted)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support.browser import VIEWPORT, new_page, sign_in_page
from support.waiting import wait_for
from support.client import ApiClient
from support.webapp_data import admin_client, make_project, unique

NARROW = {"width": 800, "height": 900}


def conf_value(snippet: str, key: str) -> str:
    match = re.search(rf'^\s*"?{key}"?\s*[:=]\s*"?([^"\s]+)"?\s*$', snippet, re.M)
    assert match, (key, snippet)
    return match.group(1)


def test_profile_edits_the_name_and_summarises_the_server(browser, webapp_stack, shot):
    page = new_page(browser, webapp_stack.url)
    try:
        sign_in_page(page, webapp_stack.user_name, webapp_stack.user_password)
        page.goto("/settings")
        expect(page).to_have_url(re.compile(r"/settings/profile$"))
        expect(page.get_by_role("link", name="Profile")).to_have_attribute("aria-current", "page")
        user = page.get_by_role("region", name="User")
        expect(user.get_by_label("Name")).to_have_value("Bob User")
        expect(user).to_contain_text("user")  # the role
        server = page.get_by_role("region", name="Server")
        expect(server).to_contain_text("API version")
        expect(server).to_contain_text("2.31")
        expect(server).to_contain_text("User name and password")
        expect(server).to_contain_text("MongoDB")

        user.get_by_label("Name").fill("  ")
        user.get_by_role("button", name="Save").click()
        expect(user.get_by_role("alert")).to_have_text("Enter a name.")
        user.get_by_label("Name").fill("Bob Builder")
        user.get_by_role("button", name="Save").click()
        expect(page.locator("#user-name")).to_have_text("Bob Builder")
        expect(user.get_by_role("alert")).to_be_hidden()
        shot(page, "settings-profile")
        page.set_viewport_size(NARROW)
        shot(page, "settings-profile-narrow")
        page.reload()
        expect(page.get_by_role("region", name="User").get_by_label("Name")).to_have_value("Bob Builder")
    finally:
        page.context.close()
        api = admin_client(webapp_stack)
        bob = next(u for u in api.ok("users.get_all")["users"] if u["name"] == "Bob Builder")
        api.ok("users.update", user=bob["id"], name="Bob User")  # other tests know him by this name


def test_credentials_created_shown_once_working_then_revoked(page, webapp_stack, shot):
    label = unique("laptop")
    page.goto("/settings/workspace-configuration")
    page.get_by_role("button", name="Create new credentials").click()
    dialog = page.get_by_role("dialog", name="Create credentials")
    dialog.get_by_label("Label").fill(label)
    dialog.get_by_role("button", name="Create").click()

    shown = page.get_by_role("dialog", name="New credentials")
    key = shown.locator("[data-secret-row='Access key']").inner_text()
    secret = shown.locator("[data-secret-row='Secret key']").inner_text()
    snippet = shown.locator(".secret-block").filter(has_text="clearml.conf").locator("pre").inner_text()
    command = shown.locator(".secret-block").filter(has_text="trackside-agent").locator("pre").inner_text()
    assert conf_value(snippet, "access_key") == key and conf_value(snippet, "secret_key") == secret
    assert conf_value(snippet, "web_server") == webapp_stack.url
    assert f"# {label}" in snippet
    assert f"--secret-key={secret}" in command or f"--secret-key='{secret}'" in command
    assert f"--access-key {key}" in command
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    shown.get_by_role("button", name="Copy clearml.conf section").click()
    expect(shown.get_by_role("button", name="Copy clearml.conf section")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    shot(page, "settings-credentials-created")
    page.set_viewport_size(NARROW)
    shot(page, "settings-credentials-created-narrow")
    page.set_viewport_size(VIEWPORT)

    # The snippet works: its API address and key sign in.
    client = ApiClient(conf_value(snippet, "api_server"), key, secret)
    assert client.send("auth.login", auth=(key, secret), version=None).status == 200

    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()
    row = page.get_by_role("row").filter(has_text=label)
    expect(row).to_contain_text(key)
    expect(page.locator("body")).not_to_contain_text(secret)  # shown once: gone with the dialog
    shot(page, "settings-credentials")
    page.set_viewport_size(NARROW)
    shot(page, "settings-credentials-narrow")

    row.get_by_role("button", name=f"Edit label of {key}").click()
    edit = page.get_by_role("dialog", name="Edit label")
    edit.get_by_label("Label").fill(label + " (renamed)")
    edit.get_by_role("button", name="Save").click()
    row = page.get_by_role("row").filter(has_text=f"{label} (renamed)")
    expect(row).to_contain_text(key)

    row.get_by_role("button", name=f"Revoke {key}").click()
    confirm = page.get_by_role("dialog", name="Revoke credentials")
    expect(confirm).to_contain_text(key)
    confirm.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row").filter(has_text=label)).to_have_count(0)
    assert client.send("auth.login", auth=(key, secret), version=None).status == 401


@pytest.fixture
def webhooks_served(webapp_stack):
    api = admin_client(webapp_stack)
    if api.send("webhooks.get_event_types", {}).status != 200:
        pytest.fail("webhooks.get_event_types is not served")
    return api


def test_webhook_created_with_secret_once_refusal_on_its_field_and_deleted(page, webhooks_served, shot):
    api = webhooks_served
    name, project = unique("ci-hook"), unique("Hooked")
    project_id = make_project(api, project)
    page.goto("/settings/webhooks")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.get_by_role("button", name="New webhook").click()
    dialog = page.get_by_role("dialog", name="New webhook")
    create = dialog.get_by_role("button", name="Create webhook")
    create.click()  # empty: the browser's own checks, next to each field
    expect(dialog.locator("[data-field=name] .field-error")).to_have_text("Enter a name.")
    expect(dialog.locator("[data-field=event_types] .field-error")).to_have_text("Choose at least one event type.")

    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("URL").fill("http://127.0.0.1:9/hook")  # loopback: the server refuses it
    dialog.get_by_role("checkbox", name=re.compile(r"^task\.status_changed")).check()
    dialog.get_by_role("checkbox", name="failed", exact=True).check()
    create.click()
    url_error = dialog.locator("[data-field=url] .field-error")
    expect(url_error).to_contain_text("loopback")
    expect(dialog.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
    assert not [w for w in api.ok("webhooks.get_all")["webhooks"] if w["name"] == name]  # nothing stored
    shot(page, "settings-webhook-refused")

    dialog.get_by_label("URL").fill("https://93.184.215.14/hooks/trackside")  # public, never contacted here
    dialog.get_by_label("Projects", exact=True).fill(project + "-missing")
    dialog.get_by_role("button", name="Add project").click()
    expect(dialog.locator("[data-field=projects] .field-error")).to_have_text(f'No project named "{project}-missing".')
    dialog.get_by_label("Projects", exact=True).fill(project)
    dialog.get_by_role("button", name="Add project").click()
    expect(dialog.get_by_role("list", name="Chosen projects")).to_have_text(re.compile(project))
    create.click()
    shown = page.get_by_role("dialog", name=f'Webhook "{name}" created')
    secret = shown.locator("[data-secret-row='Signing secret']").inner_text()
    assert secret.startswith("whsec_")
    shot(page, "settings-webhook-secret")
    shown.get_by_role("button", name="Done").click()

    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name, exact=True))
    expect(card).to_contain_text("Enabled")
    expect(card).to_contain_text("task.status_changed")
    expect(card).to_contain_text(f"projects: {project} · statuses: failed")
    expect(page.locator("body")).not_to_contain_text(secret)
    stored = [w for w in api.ok("webhooks.get_all")["webhooks"] if w["name"] == name]
    assert len(stored) == 1 and stored[0]["statuses"] == ["failed"] and stored[0]["projects"] == [project_id]
    assert "secret" not in str(stored[0])

    card.get_by_role("button", name=f"Deliveries of {name}").click()
    expect(card.get_by_role("region", name="Deliveries")).to_contain_text("No deliveries yet.")
    card.get_by_role("button", name=f"Test {name}").click()
    test_row = card.get_by_role("row").filter(has_text="webhook.test")
    expect(test_row).to_have_count(1)
    delivery = test_row.get_attribute("data-delivery")
    test_row.get_by_role("button", name=f"Redeliver {delivery}").click()
    expect(page.get_by_text("Redelivery queued")).to_be_visible()
    shot(page, "settings-webhooks")

    card.get_by_role("button", name=f"Edit {name}").click()
    edit = page.get_by_role("dialog", name=f'Edit webhook "{name}"')
    edit.get_by_role("checkbox", name="stopped", exact=True).check()
    edit.get_by_label("Payload template").fill('{"text": "${data.name} is ${data.status}"}')
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_be_hidden()
    expect(card).to_contain_text("statuses: stopped, failed · custom payload")
    stored = api.ok("webhooks.get_all", id=[stored[0]["id"]])["webhooks"][0]
    assert sorted(stored["statuses"]) == ["failed", "stopped"] and stored["payload_template"].startswith('{"text"')

    card.get_by_role("button", name=f"Rotate secret {name}").click()
    page.get_by_role("dialog", name="Rotate signing secret").get_by_role("button", name="Rotate").click()
    rotated = page.get_by_role("dialog", name=f'New secret for "{name}"')
    new_secret = rotated.locator("[data-secret-row='Signing secret']").inner_text()
    assert new_secret.startswith("whsec_") and new_secret != secret
    rotated.get_by_role("button", name="Done").click()
    page.set_viewport_size(NARROW)
    shot(page, "settings-webhooks-narrow")

    card.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog", name="Delete webhook").get_by_role("button", name="Delete").click()
    expect(card).to_have_count(0)
    assert not [w for w in api.ok("webhooks.get_all")["webhooks"] if w["name"] == name]


@pytest.fixture(scope="module")
def delivering(webapp_stack, tmp_path_factory):
    """One RQ webhooks worker for the web app's API (loopback targets allowed for it) and a loopback receiver.
    The webhook goes straight into the database: the API refuses loopback URLs, as it should."""
    from support.webhooks import Receiver, WebhooksStack

    worker = WebhooksStack(webapp_stack.api, tmp_path_factory.mktemp("webhooks-worker"))
    worker.work_dir.mkdir(parents=True, exist_ok=True)
    receiver = Receiver().start()
    try:
        worker.add_worker()  # webhooks.test enqueues straight to RQ: no stream consumer needed
        yield receiver
    finally:
        worker.stop()
        receiver.stop()


def test_deliveries_panel_follows_a_real_delivery_retried_then_delivered(page, webapp_stack, backend, delivering, shot):
    from support.users import company_of
    from support.webhooks import insert_webhook

    api = admin_client(webapp_stack)
    path = f"/{unique('hook')}"
    delivering.plan(path, [500])  # the first attempt fails, the retry gets 200
    hook_id, _ = insert_webhook(backend, webapp_stack.api, company_of(api), delivering.url(path), ["task.created"])
    name = api.ok("webhooks.get_all", id=[hook_id])["webhooks"][0]["name"]
    try:
        page.goto("/settings/webhooks")
        card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name, exact=True))
        card.get_by_role("button", name=f"Deliveries of {name}").click()
        card.get_by_role("button", name=f"Test {name}").click()
        row = card.get_by_role("row").filter(has_text="webhook.test")
        expect(row.locator(".status")).to_have_text("succeeded", timeout=30000)  # followed without a click
        row.locator("summary").click()
        attempts = row.locator(".attempts li")
        expect(attempts).to_have_count(2)
        expect(attempts.nth(0)).to_contain_text("HTTP 500")
        expect(attempts.nth(1)).to_contain_text("HTTP 200")
        shot(page, "settings-webhook-delivered")
        assert [r.status for r in delivering.requests if r.path == path] == [500, 200]

        # 410 Gone disables the webhook; its card says why, and enabling it clears the reason.
        delivering.plan(path, [410])
        card.get_by_role("button", name=f"Test {name}").click()
        wait_for(lambda: not api.ok("webhooks.get_all", id=[hook_id])["webhooks"][0]["enabled"], 30, "410 disables")
        page.reload()
        expect(card.locator(".status").first).to_have_text("Disabled")
        reason = api.ok("webhooks.get_all", id=[hook_id])["webhooks"][0]["disabled_reason"]
        assert reason and "410" in reason
        expect(card.locator(".state-detail")).to_have_text(reason)
        shot(page, "settings-webhook-disabled")
        card.get_by_role("button", name=f"Enable {name}").click()
        expect(card.locator(".status").first).to_have_text("Enabled")
        expect(card.locator(".state-detail")).to_have_count(0)
    finally:
        api.ok("webhooks.delete", webhook=hook_id)
