"""The Flask application factory for the web app."""
from __future__ import annotations

import logging.config
import threading
import time

from flask import Flask, Response
from pyhocon import ConfigTree

from trackside.shared.config import load_config
from trackside.webapp import app_assets, health, proxy, views
from trackside.webapp.api_client import ApiCallError, ApiClient, ApiUnreachable, pooled_session
from trackside.webapp.name_login import NameLogin
from trackside.webapp.settings import Settings, read_settings

EXTENSION = "trackside.webapp"
# login.supported_modes and server.info change only when the API restarts; a page load must not wait on them.
MODES_TTL_SEC = 10.0
INFO_TTL_SEC = 60.0


class WebApp:
    """What every request shares: settings and the pooled connections to the API and the file server."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.api = ApiClient(settings.api_url, settings.api_timeout_sec, settings.api_pool_size,
                             settings.proxy_proof_key)
        self.files_http = pooled_session(settings.api_pool_size)
        self.name_login = NameLogin(self.api, settings.name_login_key, settings.name_login_secret)
        self._modes_lock = threading.Lock()
        self._mode: tuple[float, str] | None = None
        self._info: tuple[float, dict] | None = None

    def login_mode(self) -> str:
        """``password`` (the API has fixed users), ``name`` (name only), or ``unavailable`` (name only, but
        the webserver credential that it needs is not configured)."""
        with self._modes_lock:
            if self._mode and time.monotonic() - self._mode[0] < MODES_TTL_SEC:
                return self._mode[1]
        try:
            modes = self.api.call("login.supported_modes")
        except ApiCallError as exc:
            raise ApiUnreachable(str(exc)) from None
        if (modes.get("basic") or {}).get("enabled"):
            mode = "password"
        else:
            mode = "name" if self.name_login.available else "unavailable"
        with self._modes_lock:
            self._mode = (time.monotonic(), mode)
        return mode


    def server_info(self) -> dict:
        """``server.info`` (versions), kept a minute."""
        cached = self._info
        if cached and time.monotonic() - cached[0] < INFO_TTL_SEC:
            return cached[1]
        info = self.api.call("server.info")
        self._info = (time.monotonic(), info)
        return info


def create_app(config: ConfigTree | None = None) -> Flask:
    config = config if config is not None else load_config()
    logging.config.dictConfig(config.get_config("logging").as_plain_ordered_dict())
    settings = read_settings(config)
    app = Flask("trackside.webapp", static_url_path="/static")
    app.extensions[EXTENSION] = WebApp(settings)
    app.register_blueprint(health.routes)
    app.register_blueprint(proxy.routes)
    app.register_blueprint(app_assets.routes)
    app.register_blueprint(views.routes)
    app.after_request(_security_headers)
    # Compress plotly.js before the first page asks for it (about 0.4 s of CPU per worker).
    threading.Thread(target=views.warm_plotly, args=(settings.plotly_js,), daemon=True).start()
    return app


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Our pages may frame our own files (debug samples); nobody else may frame them (clickjacking).
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response
