"""Fixtures for the web app's tests: a real API (with fixed users), file server and web app
(``webapp_stack``), and Playwright driving Debian's Chromium (``browser``; ``page``, signed in as the admin
through the real form; ``anon_page``). Screenshots: ``shot(page, name)`` from support.browser (also the
``shot`` fixture) saves tests/webapp/screenshots/<name>.png: look at them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.browser import CHROMIUM, launch_chromium, new_page, shot as save_shot, sign_in_page
from support.webapp import WebAppStack, start_webapp_stack


@pytest.fixture(scope="session")
def webapp_stack(mongo_server, redis_server, tmp_path_factory) -> WebAppStack:
    """API with fixed users (``admin_user``/``admin_password`` an admin, ``user_name``/``user_password`` a
    plain user), file server and web app; ``api_key``/``api_secret``: an admin key for the SDK/ApiClient."""
    stack = start_webapp_stack(mongo_server.port, redis_server.port, tmp_path_factory.mktemp("webapp"))
    yield stack
    stack.stop_in_background()


@pytest.fixture(scope="session")
def browser():
    # As the docker tests: skipped on a developer's machine without Chromium, a failure in CI (.ci/run installs it).
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def anon_page(browser, webapp_stack):
    """A page with no session (a fresh browser context)."""
    page = new_page(browser, webapp_stack.url)
    yield page
    page.context.close()


@pytest.fixture
def page(browser, webapp_stack):
    """A page signed in as the admin through the /login form (its own browser context)."""
    page = new_page(browser, webapp_stack.url)
    sign_in_page(page, webapp_stack.admin_user, webapp_stack.admin_password)
    yield page
    page.context.close()


@pytest.fixture
def shot():
    """``shot(page, name)``: tests/webapp/screenshots/<name>.png."""
    return save_shot
