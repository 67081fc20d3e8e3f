"""The browser's session: the API token in an HttpOnly cookie, and a double-submit CSRF token.

``trackside_session`` holds the token ``auth.login`` issued; scripts cannot read it (HttpOnly), and
SameSite=Lax keeps other sites' forms and fetches from sending it along with a POST. ``trackside_csrf`` is a
random value scripts can read: every state-changing request must repeat it in the ``X-CSRF-Token`` header
(or, for plain HTML forms, the ``csrf_token`` field). Another site can make the browser send the cookie but
cannot read it, so it cannot repeat it.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Request, Response

from trackside.webapp.settings import Settings

SESSION_COOKIE = "trackside_session"
CSRF_COOKIE = "trackside_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_cookie(request: Request) -> str | None:
    return request.cookies.get(CSRF_COOKIE) or None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_problem(request: Request, allow_form_field: bool = False) -> str | None:
    """Why this request fails the CSRF check, or None when it passes."""
    expected = csrf_cookie(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and allow_form_field:
        sent = request.form.get(CSRF_FIELD)
    if not expected:
        return f"missing CSRF cookie ({CSRF_COOKIE}): reload the page"
    if not sent:
        return f"missing CSRF token: send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header"
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        return f"CSRF token mismatch: the {CSRF_HEADER} header does not match the {CSRF_COOKIE} cookie"
    return None


def set_csrf_cookie(response: Response, settings: Settings, value: str) -> None:
    # Readable by scripts on purpose (not HttpOnly): the page copies it into the header.
    response.set_cookie(CSRF_COOKIE, value, max_age=settings.session_max_age_sec, path="/",
                        secure=settings.cookie_secure, httponly=False, samesite="Lax")


def start_session(response: Response, settings: Settings, token: str) -> None:
    """Signed in: the token cookie, and a fresh CSRF token (never the one from before sign-in)."""
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_max_age_sec, path="/",
                        secure=settings.cookie_secure, httponly=True, samesite="Lax")
    set_csrf_cookie(response, settings, new_csrf_token())


def end_session(response: Response, settings: Settings) -> None:
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=settings.cookie_secure, httponly=http_only, samesite="Lax")
