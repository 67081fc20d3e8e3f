"""Sign in and out in a real Chromium, through the form, by the fields' labels."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from support.browser import sign_in_page


def test_sign_in_lands_on_projects_and_sign_out_returns_to_the_form(anon_page, webapp_stack, shot):
    page = anon_page
    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/login\?next=/projects$"))
    expect(page.get_by_role("heading", name="Sign in to Trackside")).to_be_visible()
    shot(page, "login")

    page.get_by_label("User name").fill(webapp_stack.admin_user)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    assert not [c for c in page.context.cookies() if c["name"] == "trackside_session"]
    shot(page, "login-wrong-password")

    sign_in_page(page, webapp_stack.admin_user, webapp_stack.admin_password, next_path="/projects")
    expect(page).to_have_url(re.compile(r"/projects$"))
    session = next(c for c in page.context.cookies() if c["name"] == "trackside_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").count("trackside_session") == 0
    shot(page, "projects-signed-in")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "trackside_session"]
    page.goto("/projects")
    expect(page).to_have_url(re.compile(r"/login\?next=/projects$"))
