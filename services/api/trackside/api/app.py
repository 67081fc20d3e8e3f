"""The Flask application factory."""
from __future__ import annotations

import logging.config

from flask import Flask, Response, g
from flask_cors import CORS
from pyhocon import ConfigTree
from werkzeug.exceptions import HTTPException

from trackside.api import dispatch, endpoints, health, openapi  # noqa: F401  (importing endpoints registers them)
from trackside.api.jsonio import APIJSONProvider
from trackside.api.services import AppServices
from trackside.shared.config import load_config


def create_app(config: ConfigTree | None = None) -> Flask:
    config = config if config is not None else load_config()
    logging.config.dictConfig(config.get_config("logging").as_plain_ordered_dict())
    services = AppServices(config)
    services.initialize()

    app = Flask("trackside.api")
    app.json = APIJSONProvider(app)
    app.extensions["trackside"] = services
    _configure_cors(app, config)
    app.add_url_rule("/", "root", lambda: "OK")
    health.register(app, services)
    openapi.register(app, services.max_version)
    app.add_url_rule("/<path:path>", "api", dispatch.handle, methods=["GET", "POST", "PUT"])
    app.register_error_handler(HTTPException, dispatch.http_error)
    app.after_request(_retry_after_header)
    return app


def _retry_after_header(response: Response) -> Response:
    """The sign-in throttle's wait (auth/throttle.py), as the header HTTP clients honour on a 429."""
    if g.get("retry_after"):
        response.headers["Retry-After"] = str(g.retry_after)
    return response


def _configure_cors(app: Flask, config: ConfigTree) -> None:
    origins = config.get_list("apiserver.cors.origins", [])
    if origins:
        CORS(app, origins=origins, supports_credentials=config.get_bool("apiserver.cors.supports_credentials", True))
