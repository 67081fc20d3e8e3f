"""Load ``clearml.conf`` the way clearml-agent does, validate the ``agent`` section, apply env overrides.

    config = load_config()                     # CLEARML_CONFIG_FILE, else ~/clearml.conf
    config.get("agent.venvs_cache.path")       # typed, defaults filled in, "~" expanded where it is a path
    config.api_server, config.access_key       # the server address and credentials

A missing file is fine when the environment gives the server and the credentials (CI, containers).
Bad input stops the agent with a ConfigError that names the file and the key: an unknown ``agent`` key
(usually a typo that would otherwise be silently ignored), or a value of the wrong type.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping as MappingType

from pyhocon import ConfigFactory, ConfigTree
from pyparsing import ParseBaseException

from trackside.agent.config import env as env_names
from trackside.agent.config.schema import AGENT, API, Kind, StrList, plain

DEFAULT_FILE = "~/clearml.conf"
# Leaves that name a folder or file: "~" is expanded on read.
PATH_KEYS = {"agent.venvs_dir", "agent.venvs_cache.path", "agent.vcs_cache.path", "agent.pip_download_cache.path",
             "agent.docker_pip_cache", "agent.docker_apt_cache"}


class ConfigError(Exception):
    """A configuration problem, said in one line naming the file and the key."""


@dataclass
class AgentConfig:
    values: dict                      # {"agent": {...}, "api": {...}, plus other sections untouched}
    path: Path | None = None          # the file it came from, if any
    overrides: dict = field(default_factory=dict)  # key -> env var name that set it

    def get(self, key: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        if key in PATH_KEYS and isinstance(node, str) and node:
            return os.path.expanduser(node)
        return node

    def set(self, key: str, value: Any) -> None:
        """Set a value after load (command-line flags that override the file)."""
        *parents, leaf = key.split(".")
        node = self.values
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    @property
    def api_server(self) -> str:
        return self.get("api.api_server").rstrip("/")

    @property
    def web_server(self) -> str:
        return self.get("api.web_server").rstrip("/")

    @property
    def files_server(self) -> str:
        return self.get("api.files_server").rstrip("/")

    @property
    def access_key(self) -> str:
        return self.get("api.credentials.access_key")

    @property
    def secret_key(self) -> str:
        return self.get("api.credentials.secret_key")


def config_file_path(explicit: str | None = None, environ: MappingType[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    chosen = explicit or env_names.first_set(environ, env_names.CONFIG_FILE) or DEFAULT_FILE
    return Path(os.path.expanduser(chosen))


def load_config(path: str | Path | None = None, environ: MappingType[str, str] | None = None,
                require_credentials: bool = True) -> AgentConfig:
    environ = os.environ if environ is None else environ
    file = config_file_path(str(path) if path else None, environ)
    raw: dict = {}
    if file.exists():
        raw = _parse(file)
    elif path or env_names.first_set(environ, env_names.CONFIG_FILE):
        raise ConfigError(f"{file}: configuration file not found")
    where = str(file) if file.exists() else "configuration"
    values = dict(raw)
    values["agent"] = _validate(raw.get("agent") or {}, AGENT, "agent", where, strict=True)
    values["api"] = _validate(raw.get("api") or {}, API, "api", where, strict=False)
    config = AgentConfig(values, file if file.exists() else None)
    _apply_environment(config, environ)
    if require_credentials:
        missing = [key for key in ("api.api_server", "api.credentials.access_key", "api.credentials.secret_key")
                   if not config.get(key)]
        if missing:
            raise ConfigError(f"{where}: {', '.join(missing)} not set (run `trackside-agent init`, or set "
                              "CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY)")
    return config


def _parse(file: Path) -> dict:
    try:
        tree = ConfigFactory.parse_file(str(file), resolve=True)
    except ParseBaseException as exc:
        raise ConfigError(f"{file}: line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # pyhocon reports unresolved substitutions and bad includes its own way
        raise ConfigError(f"{file}: {exc}") from None
    return plain(tree) if isinstance(tree, (ConfigTree, dict)) else {}


def _validate(given: Any, schema: dict, prefix: str, where: str, strict: bool) -> dict:
    """Defaults filled in, each given value checked; unknown keys refused when ``strict``, else kept."""
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: {prefix}: expected a section ({{...}}), got {given!r}")
    result: dict = {}
    for key, spec in schema.items():
        name = f"{prefix}.{key}"
        if isinstance(spec, dict):
            result[key] = _validate(given.get(key) or {}, spec, name, where, strict)
        elif key in given:
            result[key] = _check(spec, given[key], name, where)
        else:
            result[key] = spec.default
    for key, value in given.items():
        if key not in schema:
            if strict:
                raise ConfigError(f"{where}: {prefix}.{key}: unknown key")
            result[key] = value
    return result


def _check(kind: Kind, value: Any, name: str, where: str) -> Any:
    try:
        return kind.check(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name}: expected {kind.name}, got {value!r}") from None


def _kind_of(key: str) -> Kind:
    node: Any = {"agent": AGENT, "api": API}
    for part in key.split("."):
        node = node[part]
    return node


def _apply_environment(config: AgentConfig, environ: MappingType[str, str]) -> None:
    for key, names in env_names.OVERRIDES.items():
        for name in names:
            raw = environ.get(name)
            if raw is None:
                continue
            kind = _kind_of(key)
            value: Any = shlex.split(raw.replace(",", " ")) if isinstance(kind, StrList) else raw
            config.set(key, _check(kind, value, key, f"environment variable {name}"))
            config.overrides[key] = name
            break
