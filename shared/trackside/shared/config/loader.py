"""Load the server configuration tree the way ClearML server documents it.

Order, later wins:
1. the default ``*.conf`` tree shipped in this package (``default/``);
2. each directory in ``CLEARML_CONFIG_DIR`` (several, ``os.pathsep``-separated), or ``/opt/clearml/config``
   (the legacy ``TRAINS_CONFIG_DIR`` and ``/opt/trains/config`` are read too);
3. the fixed ``CLEARML_{MONGODB,ELASTIC,REDIS}_SERVICE_{HOST,PORT}`` variables;
4. dynamic ``CLEARML__<file>__<path>=<value>`` variables (key lower-cased, value parsed as HOCON; a JSON
   list or object is read as JSON, exactly as a file holding it would be; legacy ``TRAINS__`` ones first, so
   ``CLEARML__`` wins).

Every ``<name>.conf`` file becomes the top-level key ``<name>``; a sub-folder becomes a nested key, so
``services.conf`` and ``services/tasks.conf`` both land under ``services``. Sections merge key by key; a key
written ``-name`` replaces the section ``name`` instead (e.g. ``-credentials { ... }`` drops the defaults).
"""
from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Mapping

from pyhocon import ConfigFactory, ConfigTree
from pyhocon.exceptions import ConfigException
from pyparsing import ParseBaseException

DEFAULT_DIR = Path(__file__).with_name("default")
DEFAULT_EXTRA_DIRS = ("/opt/trains/config", "/opt/clearml/config")
CONFIG_DIR_ENVS = ("CLEARML_CONFIG_DIR", "TRAINS_CONFIG_DIR")
DYNAMIC_PREFIXES = ("TRAINS__", "CLEARML__")  # later wins
REPLACE_PREFIX = "-"
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
    env_name = next((name for name in CONFIG_DIR_ENVS if environ.get(name) is not None), None)
    if env_name is None:
        return [Path(d) for d in DEFAULT_EXTRA_DIRS if Path(d).is_dir()]
    dirs = [Path(os.path.expandvars(p)).expanduser() for p in environ[env_name].split(os.pathsep) if p]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise ConfigError(f"{env_name} names folders that do not exist: {', '.join(missing)}")
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
        raise ConfigError(_syntax_error(path, exc)) from None
    except (ConfigException, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _syntax_error(path: Path, exc: ParseBaseException) -> str:
    if exc.line.strip():
        return f"{path}: line {exc.lineno}, column {exc.col}: invalid syntax: {exc.line.strip()!r}"
    # The parser stopped at the end of the file: something opened earlier was never closed.
    lines = path.read_text(errors="replace").splitlines()
    last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=1)
    return f"{path}: line {last}: unexpected end of file (an unclosed bracket, brace or quote?)"


def _nest(key: str, value: ConfigTree) -> ConfigTree:
    tree = ConfigTree()
    tree.put(key, value)
    return tree


def _merge(base: ConfigTree, overrides: ConfigTree) -> ConfigTree:
    """Deep-merge ``overrides`` into ``base``: sub-trees merge, every other value replaces."""
    for key, value in overrides.items():
        replace = key.startswith(REPLACE_PREFIX)
        if replace:
            key = key[len(REPLACE_PREFIX):]
        current = dict.get(base, key)
        if not replace and isinstance(value, ConfigTree) and isinstance(current, ConfigTree):
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
    names = [n for prefix in DYNAMIC_PREFIXES for n in sorted(k for k in environ if k.startswith(prefix))]
    for name in names:
        path = name.split("__", 1)[1].replace("__", ".").lower()
        if not _PATH_PART.fullmatch(path):
            raise ConfigError(f"{name}: not a valid configuration path")
        structured = _json_structure(environ[name])
        if structured is not None:
            parsed = ConfigTree()
            parsed.put(path, structured)
            _merge(tree, parsed)
            continue
        try:
            parsed = ConfigFactory.parse_string(f"{path}: {environ[name]}")
        except ParseBaseException as exc:
            raise ConfigError(f"{name}: value is not valid HOCON (column {exc.col}): {environ[name]!r}") from None
        except ConfigException as exc:
            raise ConfigError(f"{name}: {exc}") from None
        _merge(tree, parsed)
    return tree


def _json_structure(value: str):
    """A JSON list or object as configuration values, or None for anything else (parsed as HOCON then).

    pyhocon reads JSON too, but leaves ``\\uXXXX`` escapes undecoded, and ``json.dumps`` writes every
    non-ASCII character that way (a password with an accent would stop matching)."""
    text = value.strip()
    if not text.startswith(("[", "{")):
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    return _as_config(loaded)


def _as_config(value):
    if isinstance(value, dict):
        tree = ConfigTree()
        for key, item in value.items():
            key = str(key)
            # A dotted key is one key, kept in quotes as pyhocon keeps a quoted key read from a file.
            OrderedDict.__setitem__(tree, f'"{key}"' if "." in key else key, _as_config(item))
        return tree
    if isinstance(value, list):
        return [_as_config(item) for item in value]
    return value
