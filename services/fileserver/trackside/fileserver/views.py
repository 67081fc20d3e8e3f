"""The file server's routes: upload, download (ranges, attachments), HEAD, delete, delete_many, ping."""
from __future__ import annotations

import json
import mimetypes
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from trackside.fileserver import uploads
from trackside.fileserver.auth import TokenCheck
from trackside.fileserver.settings import Settings
from trackside.fileserver.storage import ObjectNotFound, Storage

EXTENSION = "trackside.fileserver"
MAX_JSON_BODY = 16 * 1024 * 1024
routes = Blueprint("files", __name__)


@dataclass(frozen=True)
class FileServer:
    settings: Settings
    storage: Storage
    tokens: TokenCheck | None  # None: authentication turned off in configuration


def _server() -> FileServer:
    return current_app.extensions[EXTENSION]


def _authorize() -> None:
    tokens = _server().tokens
    if tokens is not None:
        tokens.require(request)


@routes.get("/")
def ping():
    # Public health check; a token sent along is still checked, so clients can test theirs.
    tokens = _server().tokens
    token = tokens.token_in(request) if tokens else None
    if token is not None:
        tokens.verify(token)
    return "OK"


@routes.post("/")
def upload():
    _authorize()
    if request.content_encoding:
        raise UnsupportedMediaType(f"Content-Encoding {request.content_encoding!r} is not supported")
    boundary = request.mimetype_params.get("boundary", "")
    if request.mimetype != "multipart/form-data" or not boundary:
        raise BadRequest("expected a multipart/form-data body with a boundary")
    names = uploads.receive(request.stream, boundary.encode("latin-1"), _server().storage)
    return jsonify(names)


@routes.get("/<path:path>")
def download(path: str):
    _authorize()
    server = _server()
    found = server.storage.existing_file(path)
    guessed, encoding = mimetypes.guess_type(found.path.name)
    response = send_file(
        found.path,
        # A compressed file is served as the bytes it is, never for the browser to unpack.
        mimetype="application/octet-stream" if encoding or not guessed else guessed,
        as_attachment="download" in request.args,
        download_name=found.path.name,
        conditional=True,  # Range, If-None-Match, If-Modified-Since
        max_age=server.settings.cache_timeout_sec,
    )
    _cache_headers(response, server.settings)
    # Uploaded HTML or SVG must not run as this origin: scripts only in a sandbox with an opaque origin.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox allow-scripts"
    return response


def _cache_headers(response: Response, settings: Settings) -> None:
    cache = response.cache_control
    cache.public = False
    if settings.disable_browser_caching:
        cache.max_age = None
        cache.no_cache = True
        cache.no_store = True
    else:
        cache.private = True  # a shared cache would hand files to callers without a token


@routes.delete("/<path:path>")
def delete(path: str):
    _authorize()
    return jsonify(_server().storage.delete_file(path))


def delete_many():
    """``{files: [path, ...]}``: files or whole folders. A path the server refuses fails the whole request
    before anything is deleted; missing ones are reported per path under ``errors``."""
    _authorize()
    storage = _server().storage
    files = _json_body().get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise BadRequest("expected {\"files\": [path, ...]} with at least one path")
    located = [(file, storage.locate(urllib.parse.unquote_plus(file))) for file in files]
    deleted, errors = {}, defaultdict(list)
    for file, found in located:
        try:
            storage.delete_any(found)
        except ObjectNotFound:
            errors["Not found"].append(file)
        except OSError as exc:
            errors[exc.strerror or "Cannot delete"].append(file)
        else:
            deleted[file] = found.name
    return jsonify({"deleted": deleted, "errors": errors})


def _json_body() -> dict:
    raw = request.stream.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise RequestEntityTooLarge(f"a JSON body may hold at most {MAX_JSON_BODY} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
