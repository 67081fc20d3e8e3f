"""The browser's door to the API and the file server, as the signed-in user.

``POST /api/[v<version>/]<service>.<action>``: the body goes to the API as it is, with the session's token;
the API's answer (status, envelope) comes back unchanged, except its cookies, which are dropped (the web
app owns the browser's cookies). No session: 401; missing or wrong CSRF header: 403.

``GET /files/<path>``: the file streamed from the file server with the session's token (Range requests
too). Files are whatever users uploaded (HTML debug samples included), so they are served sandboxed: a
script in one runs in an opaque origin, with no access to this site's cookies or its /api.
"""
from __future__ import annotations

import re

import requests
from flask import Blueprint, Response, current_app, request, stream_with_context

from trackside.webapp import envelope, session
from trackside.webapp.api_client import ApiUnreachable

routes = Blueprint("proxy", __name__)
EXTENSION = "trackside.webapp"
ENDPOINT_PATH = re.compile(r"(v\d+\.\d+/)?[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
# Endpoints the browser must not call through the session: they would hand a token to scripts.
BLOCKED = frozenset({"auth.login", "auth.get_token_for_user"})
ANSWER_HEADERS = ("Content-Type",)
FILE_REQUEST_HEADERS = ("Range", "If-Range", "If-None-Match", "If-Modified-Since", "Accept-Encoding")
FILE_ANSWER_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Content-Disposition",
                       "Content-Encoding", "ETag", "Last-Modified", "Cache-Control", "Expires")
FILE_SANDBOX = "sandbox allow-scripts allow-popups allow-downloads"
CHUNK = 256 * 1024


def webapp():
    return current_app.extensions[EXTENSION]


@routes.post("/api/<path:path>")
def api(path: str) -> Response:
    endpoint = path.rsplit("/", 1)[-1]
    if not ENDPOINT_PATH.fullmatch(path):
        return envelope.error(envelope.BAD_ENDPOINT, f"not an endpoint name: {path!r}", path)
    token = session.session_token(request)
    if token is None:
        return envelope.error(envelope.MISSING_CREDENTIALS, "not signed in", endpoint)
    problem = session.csrf_problem(request)
    if problem:
        return envelope.error(envelope.FORBIDDEN, problem, endpoint)
    if endpoint in BLOCKED:
        return envelope.error(envelope.FORBIDDEN, f"{endpoint} is not available through the web app", endpoint)
    try:
        answer = webapp().api.forward(path, request.get_data(), token)
    except ApiUnreachable:
        return envelope.error(envelope.UNREACHABLE, "the API server is not reachable", endpoint)
    response = Response(answer.content, status=answer.status_code,
                        headers={k: answer.headers[k] for k in ANSWER_HEADERS if k in answer.headers})
    response.cache_control.no_store = True
    if answer.status_code == 401:
        session.end_session(response, webapp().settings)  # expired or revoked: the next page asks to sign in
    return response


@routes.get("/files/<path:path>")
def files(path: str) -> Response:
    token = session.session_token(request)
    if token is None:
        return _plain(401, "not signed in")
    app = webapp()
    url = f"{app.settings.files_url}/{path}"
    headers = {k: request.headers[k] for k in FILE_REQUEST_HEADERS if k in request.headers}
    headers["Authorization"] = f"Bearer {token}"
    try:
        answer = app.files_http.get(url, params=request.args, headers=headers, stream=True,
                                    timeout=app.settings.api_timeout_sec)
    except requests.RequestException:
        return _plain(502, "the file server is not reachable")
    # Bytes as stored: no decompression (raw), so Content-Length and Content-Encoding stay true.
    body = stream_with_context(_chunks(answer))
    response = Response(body, status=answer.status_code, direct_passthrough=True,
                        headers={k: answer.headers[k] for k in FILE_ANSWER_HEADERS if k in answer.headers})
    response.headers["Content-Security-Policy"] = FILE_SANDBOX
    if "Cache-Control" not in answer.headers:
        response.cache_control.private = True
    return response


def _chunks(answer: requests.Response):
    try:
        yield from answer.raw.stream(CHUNK, decode_content=False)
    finally:
        answer.close()


def _plain(status: int, message: str) -> Response:
    response = Response(f"{status} {message}\n", status=status, mimetype="text/plain")
    response.cache_control.no_store = True
    return response
