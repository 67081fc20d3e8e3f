"""Playwright helpers for the web app's browser tests: Debian's Chromium, signing in through the real form,
and screenshots (tests/webapp/screenshots/<name>.png, gitignored: look at them)."""
from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "webapp" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
DEFAULT_TIMEOUT_MS = 15000


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def new_page(browser, base_url: str):
    """A page in a fresh context (its own cookies); close it with ``page.context.close()``."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context.new_page()


def sign_in_page(page, username: str, password: str | None = None, next_path: str | None = None) -> None:
    """Sign in through the real /login form, by the fields' labels, as a person would."""
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label(re.compile(r"^(User name|Your name)$")).fill(username)
    if password is not None:
        page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as tests/webapp/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
