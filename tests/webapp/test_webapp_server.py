"""The web app over HTTP against a real API and file server: sign-in, session cookies, CSRF, the API and
file proxies, sign-out, the shell's routes, health."""
from __future__ import annotations

import requests

from support.webapp import sign_in, signed_in_session


def test_admin_signs_in_and_calls_the_api(webapp_stack):
    http = signed_in_session(webapp_stack.url, webapp_stack.admin_user, webapp_stack.admin_password)
    resp = http.post(f"{webapp_stack.url}/api/users.get_current_user", json={})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["user"]["name"] == "Ada Admin"
