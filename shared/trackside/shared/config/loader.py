"""Load the server configuration tree the way ClearML server documents it.

Order, later wins:
1. the default ``*.conf`` tree shipped in this package (``default/``);
2. each directory in ``CLEARML_CONFIG_DIR`` (several, ``os.pathsep``-separated), or ``/opt/clearml/config``;
3. the fixed ``CLEARML_{MONGODB,ELASTIC,REDIS}_SERVICE_{HOST,PORT}`` variables;
4. dynamic ``CLEARML__<file>__<path>=<value>`` variables (key lower-cased, value parsed as HOCON).

Every ``<name>.conf`` file becomes the top-level key ``<name>``; a sub-folder becomes a nested key, so
``services.conf`` and ``services/tasks.conf`` both land under ``services``.
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Mapping

from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

DEFAULT_DIR = Path(__file__).with_name("default")
DEFAULT_EXTRA_DIR = "/opt/clearml/config"
CONFIG_DIR_ENV = "CLEARML_CONFIG_DIR"
DYNAMIC_PREFIX = "CLEARML__"
_PATH_PART = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


class ConfigError(Exception):
    """A configuration source could not be read; the message names the file (and line) or variable."""


def load_config(
    environ: Mapping[str, str] | None = None, default_dir: Path = DEFAULT_DIR
) -> ConfigTree:
    environ = os.environ if environ is None else environ
    tree = ConfigTree()
    for folder in [default_dir, *_extra_dirs(environ)]:
        _merge(tree, _read_folder(folder))
    _merge(tree, _fixed_service_overrides(environ))
    _merge(tree, _dynamic_overrides(environ))
    return tree


def _extra_dirs(environ: Mapping[str, str]) -> list[Path]:
    value = environ.get(CONFIG_DIR_ENV)
    if value is None:
        return [Path(DEFAULT_EXTRA_DIR)] if Path(DEFAULT_EXTRA_DIR).is_dir() else []
    dirs = [Path(os.path.expandvars(p)).expanduser() for p in value.split(os.pathsep) if p]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise ConfigError(f"{CONFIG_DIR_ENV} names folders that do not exist: {', '.join(missing)}")
    return dirs


def _read_folder(folder: Path) -> ConfigTree:
    tree = ConfigTree()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix == ".conf":
            _merge(tree, _nest(path.stem, _parse_file(path)))
        elif path.is_dir() and not path.name.startswith((".", "_")):
            _merge(tree, _nest(path.name, _read_folder(path)))
    return tree


def _parse_file(path: Path) -> ConfigTree:
    try:
        return ConfigFactory.parse_file(str(path), resolve=True)
    except ParseBaseException as exc:
        raise ConfigError(f"{path}: line {exc.lineno}, column {exc.col}: invalid syntax: {exc.line.strip()!r}") from None
    except (ConfigException, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _nest(key: str, value: ConfigTree) -> ConfigTree:
    tree = ConfigTree()
    tree.put(key, value)
    return tree


def _merge(base: ConfigTree, overrides: ConfigTree) -> ConfigTree:
    """Deep-merge ``overrides`` into ``base``: sub-trees merge, every other value replaces."""
    for key, value in overrides.items():
        current = dict.get(base, key)
        if isinstance(value, ConfigTree) and isinstance(current, ConfigTree):
            _merge(current, value)
        else:
            OrderedDict.__setitem__(base, key, value)  # a plain key, not a dotted path
    return base


def _fixed_service_overrides(environ: Mapping[str, str]) -> ConfigTree:
    tree = ConfigTree()
    mongo_host, mongo_port = _host_port(environ, "MONGODB")
    if mongo_host or mongo_port:
        for db in ("backend", "auth"):
            tree.put(f"hosts.mongo.{db}.host", f"mongodb://{mongo_host or '127.0.0.1'}:{mongo_port or 27017}/{db}")
    elastic_host, elastic_port = _host_port(environ, "ELASTIC")
    if elastic_host or elastic_port:
        for cluster in ("events", "workers"):
            tree.put(
                f"hosts.elastic.{cluster}.hosts",
                [{"host": elastic_host or "127.0.0.1", "port": int(elastic_port or 9200), "scheme": "http"}],
            )
    redis_host, redis_port = _host_port(environ, "REDIS")
    for role in ("apiserver", "workers"):
        if redis_host:
            tree.put(f"hosts.redis.{role}.host", redis_host)
        if redis_port:
            tree.put(f"hosts.redis.{role}.port", int(redis_port))
    return tree


def _host_port(environ: Mapping[str, str], service: str) -> tuple[str | None, str | None]:
    host = environ.get(f"CLEARML_{service}_SERVICE_HOST") or None
    port = environ.get(f"CLEARML_{service}_SERVICE_PORT") or None
    if port is not None and not port.isdigit():
        raise ConfigError(f"CLEARML_{service}_SERVICE_PORT must be a port number, got {port!r}")
    return host, port


def _dynamic_overrides(environ: Mapping[str, str]) -> ConfigTree:
    tree = ConfigTree()
    for name in sorted(k for k in environ if k.startswith(DYNAMIC_PREFIX)):
        path = name[len(DYNAMIC_PREFIX):].replace("__", ".").lower()
        if not _PATH_PART.fullmatch(path):
            raise ConfigError(f"{name}: not a valid configuration path")
        try:
            parsed = ConfigFactory.parse_string(f"{path}: {environ[name]}")
        except ParseBaseException as exc:
            raise ConfigError(f"{name}: value is not valid HOCON (column {exc.col}): {environ[name]!r}") from None
        except ConfigException as exc:
            raise ConfigError(f"{name}: {exc}") from None
        _merge(tree, parsed)
    return tree


def dirs_in_use(environ: Mapping[str, str] | None = None) -> Iterable[Path]:
    """The folders :func:`load_config` reads, in order; for start-up logs."""
    environ = os.environ if environ is None else environ
    return [DEFAULT_DIR, *_extra_dirs(environ)]
