"""``GET /app-assets/<app>/<version>/<file>``: a custom application's asset (icon, placeholder HTML) streamed
from ``apps.get_asset`` as the signed-in user, so ``<img>`` and ``<iframe>`` can load it with the session
cookie while the token stays out of the page.

Assets are whatever an app's package holds, so they are served as /files are: sandboxed (a script in an HTML
asset runs in an opaque origin, away from this site's cookies and /api) and never content-sniffed.
"""
from __future__ import annotations

import requests
from flask import Blueprint, Response, current_app, request, stream_with_context

from trackside.webapp import session
from trackside.webapp.proxy import FILE_SANDBOX, _chunks, _plain

routes = Blueprint("app_assets", __name__)
EXTENSION = "trackside.webapp"
ANSWER_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "ETag", "Last-Modified", "Cache-Control")
REQUEST_HEADERS = ("If-None-Match", "If-Modified-Since")
# A version's assets change only when that version is uploaded again: a short private cache is enough.
DEFAULT_MAX_AGE_SEC = 300


@routes.get("/app-assets/<app_id>/<version>/<path:file>")
def app_asset(app_id: str, version: str, file: str) -> Response:
    token = session.session_token(request)
    if token is None:
        return _plain(401, "not signed in")
    app = current_app.extensions[EXTENSION]
    headers = {k: request.headers[k] for k in REQUEST_HEADERS if k in request.headers}
    headers["Authorization"] = f"Bearer {token}"
    try:
        # A JSON body, not the query string: the API would read a version such as "2.0" from a query as a number.
        answer = app.api.http.post(f"{app.api.base_url}/apps.get_asset",
                                   json={"app": app_id, "version": version, "file": file},
                                   headers=headers, stream=True, timeout=app.settings.api_timeout_sec)
    except requests.RequestException:
        return _plain(502, "the API server is not reachable")
    if answer.status_code not in (200, 304):
        return _refused(answer)
    body = stream_with_context(_chunks(answer))
    response = Response(body, status=answer.status_code, direct_passthrough=True,
                        headers={k: answer.headers[k] for k in ANSWER_HEADERS if k in answer.headers})
    response.headers["Content-Security-Policy"] = FILE_SANDBOX
    response.headers["X-Content-Type-Options"] = "nosniff"
    if "Cache-Control" not in answer.headers:
        response.cache_control.private = True
        response.cache_control.max_age = DEFAULT_MAX_AGE_SEC
    return response


def _refused(answer: requests.Response) -> Response:
    """The API's refusal as plain text (never its JSON envelope inside an <img>): unknown app, version or file
    is 404, an ended session 401 (and the cookie cleared, as /api does)."""
    status = answer.status_code
    try:
        message = (answer.json().get("meta") or {}).get("result_msg") or ""
    except ValueError:
        message = ""
    finally:
        answer.close()
    if status == 401:
        response = _plain(401, "not signed in")
        session.end_session(response, current_app.extensions[EXTENSION].settings)
        return response
    if status in (400, 404):
        return _plain(404, message or "no such asset")
    if status == 403:
        return _plain(403, message or "forbidden")
    return _plain(502, f"the API answered {status}")

