"""The file server's settings, read once from the shared configuration tree (``fileserver.conf``)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pyhocon import ConfigTree
from pyhocon.exceptions import ConfigException

from trackside.shared.auth_tokens import token_secret
from trackside.shared.config import ConfigError

# ClearML's file server takes its folder from these variables only; they win over the configuration here too.
UPLOAD_FOLDER_ENVS = ("CLEARML_UPLOAD_FOLDER", "TRAINS_UPLOAD_FOLDER")
MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    upload_folder: Path
    auth_enabled: bool
    token_secret: str | None  # None only when auth is off
    cookie_names: tuple[str, ...]
    max_upload_bytes: int | None
    cache_timeout_sec: int
    disable_browser_caching: bool
    allow_batch_delete: bool
    cors_origins: list
    cors_supports_credentials: bool

    @property
    def bind(self) -> str:
        return f"{self.host}:{self.port}"


def read_settings(config: ConfigTree, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    section = config.get_config("fileserver", ConfigTree())
    try:
        auth_enabled = section.get_bool("auth.enabled", True)
        folder = next((environ[name] for name in UPLOAD_FOLDER_ENVS if environ.get(name)), None)
        folder = folder or section.get_string("upload_folder", "")
        if not folder:
            raise ConfigError("fileserver.conf: upload_folder is empty; set it or CLEARML_UPLOAD_FOLDER")
        max_mb = section.get_int("upload.max_upload_size_mb", 0)
        return Settings(
            host=section.get_string("listen.host", "127.0.0.1"),
            port=section.get_int("listen.port", 8081),
            upload_folder=Path(folder).expanduser().absolute(),
            auth_enabled=auth_enabled,
            token_secret=token_secret(config) if auth_enabled else None,
            cookie_names=tuple(str(name) for name in section.get_list("auth.cookie_names", [])),
            max_upload_bytes=max_mb * MB if max_mb > 0 else None,
            cache_timeout_sec=section.get_int("download.cache_timeout_sec", 300),
            disable_browser_caching=section.get_bool("download.disable_browser_caching", False),
            allow_batch_delete=section.get_bool("delete.allow_batch", True),
            cors_origins=list(section.get_list("cors.origins", [])),
            cors_supports_credentials=section.get_bool("cors.supports_credentials", True),
        )
    except (ConfigException, ValueError, TypeError) as exc:
        raise ConfigError(f"fileserver.conf: {exc}") from None
