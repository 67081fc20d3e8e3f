"""The sign-in form under the API's throttle (no browser): the web app forwards the browser's address, and a
throttled attempt is a clear 429 page with Retry-After, not "API unreachable"; the real user still signs in."""
from __future__ import annotations

import requests

from support.names import unique
from support.webapp import sign_in

FAILURES_PER_KEY_AND_ADDRESS = 5  # the shipped default (apiserver.auth.login_throttle)


def browser_at(address: str) -> requests.Session:
    """A client the web app sees coming through a local proxy that names ``address`` (the API trusts the web
    app on 127.0.0.1, the web app's peer is 127.0.0.1 too), so this test's failures are charged to it alone."""
    http = requests.Session()
    http.trust_env = False
    http.headers["X-Forwarded-For"] = address
    return http


def test_repeated_wrong_passwords_get_a_429_page_and_others_still_sign_in(webapp_stack):
    intruder, username = browser_at("203.0.113.77"), unique("nobody")
    for _ in range(FAILURES_PER_KEY_AND_ADDRESS):
        assert sign_in(intruder, webapp_stack.url, username, "guess").status_code == 401
    resp = sign_in(intruder, webapp_stack.url, username, "guess")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert "Too many failed sign-in attempts: try again in 1 s." in resp.text
    elsewhere = sign_in(browser_at("203.0.113.78"), webapp_stack.url, webapp_stack.admin_user,
                        webapp_stack.admin_password)
    assert elsewhere.status_code == 303
