"""What the admin commands operate on, read from the same configuration as the services."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from trackside.shared.config.loader import CONFIG_DIR_ENVS, DEFAULT_EXTRA_DIRS, load_config

# The file server reads its folder the same way (trackside.fileserver.settings): these variables first.
UPLOAD_FOLDER_ENVS = ("CLEARML_UPLOAD_FOLDER", "TRAINS_UPLOAD_FOLDER")
# The roles whose databases a backup holds, by their keys under hosts.mongo.
DATABASES = ("auth", "backend")


@dataclass(frozen=True)
class Installation:
    mongo: dict[str, str]  # role -> URI (hosts.mongo.<role>.host)
    upload_folder: Path | None
    events_store: str  # "mongo" or "elastic"


def load_installation(environ: Mapping[str, str] | None = None) -> Installation:
    environ = os.environ if environ is None else environ
    config = load_config(environ)
    folder = next((environ[name] for name in UPLOAD_FOLDER_ENVS if environ.get(name)), None)
    folder = folder or config.get_string("fileserver.upload_folder", "")
    return Installation(
        mongo={role: config.get_string(f"hosts.mongo.{role}.host") for role in DATABASES},
        upload_folder=Path(folder).expanduser().absolute() if folder else None,
        events_store=config.get_string("services.events.store", "mongo"),
    )


def default_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where init-config writes: the first folder of CLEARML_CONFIG_DIR, else the documented default."""
    environ = os.environ if environ is None else environ
    for name in CONFIG_DIR_ENVS:
        first = next((p for p in (environ.get(name) or "").split(os.pathsep) if p), None)
        if first:
            return Path(os.path.expandvars(first)).expanduser()
    return Path(DEFAULT_EXTRA_DIRS[-1])
