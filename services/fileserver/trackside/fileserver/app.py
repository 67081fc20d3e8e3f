"""The Flask application factory for the file server."""
from __future__ import annotations

import errno
import logging
import logging.config

from flask import Flask, Response
from flask_cors import CORS
from pyhocon import ConfigTree
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

from trackside.fileserver import health, views
from trackside.fileserver.auth import TokenCheck
from trackside.fileserver.settings import Settings, read_settings
from trackside.fileserver.storage import BadPath, ObjectNotFound, Storage
from trackside.fileserver.uploads import BadUpload, UploadInterrupted
from trackside.shared import revocation
from trackside.shared.config import ConfigError, load_config

log = logging.getLogger(__name__)
AUTH_OFF_WARNING = (
    "file server authentication is OFF (fileserver.auth.enabled: false): anyone who can reach {bind} "
    "can read, write and delete every file in {folder}"
)


class InsufficientStorage(HTTPException):
    code = 507
    description = "the storage folder is full"


def create_app(config: ConfigTree | None = None) -> Flask:
    config = config if config is not None else load_config()
    logging.config.dictConfig(config.get_config("logging").as_plain_ordered_dict())
    settings = read_settings(config)
    storage = prepare_storage(settings)
    if settings.auth_enabled:
        # Connects lazily (each gunicorn worker on its first request); never fails a request when down.
        tokens = TokenCheck(settings.token_secret, settings.cookie_names, revocation.for_checking(config))
    else:
        tokens = None
        log.warning(AUTH_OFF_WARNING.format(bind=settings.bind, folder=settings.upload_folder))

    app = Flask("trackside.fileserver")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.extensions[views.EXTENSION] = views.FileServer(settings, storage, tokens)
    _configure_cors(app, settings)
    app.extensions[health.EXTENSION] = health.Readiness(storage, tokens and tokens.revocations, config)
    app.register_blueprint(health.routes)
    app.register_blueprint(views.routes)
    if settings.allow_batch_delete:
        app.add_url_rule("/delete_many", "delete_many", views.delete_many, methods=["POST"])
    _register_error_handlers(app)
    return app


def prepare_storage(settings: Settings) -> Storage:
    storage = Storage(settings.upload_folder)
    try:
        storage.prepare()
    except OSError as exc:
        raise ConfigError(f"fileserver.upload_folder {settings.upload_folder}: {exc.strerror or exc}") from None
    return storage


def _configure_cors(app: Flask, settings: Settings) -> None:
    if settings.cors_origins:
        CORS(app, origins=settings.cors_origins, supports_credentials=settings.cors_supports_credentials,
             expose_headers=["Content-Disposition", "Content-Length", "Content-Range", "Accept-Ranges"])


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(UploadInterrupted)
    def interrupted(exc: UploadInterrupted):
        log.info("%s", exc)  # the client went away; nothing was stored
        return _plain(BadRequest(str(exc)))

    @app.errorhandler(BadPath)
    @app.errorhandler(BadUpload)
    def bad_input(exc: ValueError):
        log.warning("rejected: %s", exc)
        return _plain(BadRequest(str(exc)))

    @app.errorhandler(ObjectNotFound)
    def not_found(exc: ObjectNotFound):
        return _plain(NotFound(f"no such file: {exc}"))

    @app.errorhandler(OSError)
    def storage_error(exc: OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("storage full: %s", exc.strerror)
            return _plain(InsufficientStorage())
        if exc.errno == errno.ENAMETOOLONG:
            return _plain(BadRequest("a file or folder name is too long"))
        raise exc

    app.register_error_handler(HTTPException, _plain)


def _plain(exc: HTTPException) -> Response:
    """Errors as one line of text (the reference answers text too; the SDK only reads the status)."""
    response = exc.get_response()
    response.set_data(f"{exc.code} {exc.name}: {exc.description}\n")
    response.mimetype = "text/plain"
    return response
