"""Load ``clearml.conf`` the way clearml-agent does, validate the ``agent`` section, apply env overrides.

    config = load_config()                     # CLEARML_CONFIG_FILE, else ~/clearml.conf
    config.get("agent.venvs_cache.path")       # typed, defaults filled in, "~" expanded where it is a path
    config.api_server, config.access_key       # the server address and credentials

A missing file is fine when the environment gives the server and the credentials (CI, containers), or a
token instead of the credentials (``auth_token``: the owner's token a task container's agent runs with).
``CLEARML_AGENT__<SECTION>__<KEY>=<value>`` sets any key, as clearml-agent reads them: ``__`` nests, the path
is lowercased, the value is HOCON (``true``, ``30``, ``["a", "b"]``, ``"quoted"``; text that does not parse as
HOCON is taken as it is). They win over the file; the named variables (``env.py``) win over them.
Bad input stops the agent with a ConfigError that names the file and the key: an unknown ``agent`` key
(usually a typo that would otherwise be silently ignored), or a value of the wrong type.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping as MappingType

from pyhocon import ConfigFactory, ConfigTree
from pyparsing import ParseBaseException

from trackside.agent.config import env as env_names
from trackside.agent.config.schema import AGENT, API, Kind, StrList, plain

DEFAULT_FILE = "~/clearml.conf"
GENERIC_PREFIX, GENERIC_SEP = "CLEARML_AGENT__", "__"
# The file holding the token a task container's agent authenticates with (--use-owner-token in docker mode).
TOKEN_FILE_ENV = "TRACKSIDE_AGENT_AUTH_TOKEN_FILE"
TOKEN_ENV = "CLEARML_AUTH_TOKEN"
# List variables split as clearml-agent splits them (shlex: their items may hold commas, "--gpus 0,1").
SHELL_SPLIT_KEYS = {"agent.extra_docker_arguments", "agent.extra_docker_labels"}
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
    auth_token: str | None = None     # a token to call the API with instead of the credentials
    auth_token_file: Path | None = None   # where that token came from (renewed tokens are written back)

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
    _apply_generic_environment(config, environ)
    _apply_environment(config, environ)
    config.auth_token, config.auth_token_file = _auth_token(config, environ)
    if require_credentials and not config.auth_token:
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
            value: Any = raw
            if isinstance(kind, StrList):
                value = _split_list(key, raw)
            config.set(key, _check(kind, value, key, f"environment variable {name}"))
            config.overrides[key] = name
            break


def _split_list(key: str, raw: str) -> list[str]:
    """Words; commas separate items too, except in docker arguments and labels, where only a comma before
    the next option does (``--ipc=host,--shm-size=1g``)."""
    if key not in SHELL_SPLIT_KEYS:
        return shlex.split(raw.replace(",", " "))
    words = shlex.split(raw)
    if key == "agent.extra_docker_arguments":
        words = [part for word in words for part in re.split(r",(?=-)", word) if part]
    return words


def _apply_generic_environment(config: AgentConfig, environ: MappingType[str, str]) -> None:
    """``CLEARML_AGENT__AGENT__DOCKER_CONTAINER_NAME_FORMAT=...``: any key, typed and checked like the file's."""
    for name in sorted(n for n in environ if n.startswith(GENERIC_PREFIX) and len(n) > len(GENERIC_PREFIX)):
        key = name[len(GENERIC_PREFIX):].replace(GENERIC_SEP, ".").lower()
        if not all(key.split(".")):
            raise ConfigError(f"environment variable {name}: {key!r} is not a configuration key")
        value = _hocon_value(environ[name])
        where = f"environment variable {name}"
        section, _, rest = key.partition(".")
        schema = {"agent": AGENT, "api": API}.get(section)
        if schema is None or not rest:
            _merge(config, key, value, where, schema)
            continue
        node: Any = schema
        for part in rest.split("."):
            if not isinstance(node, dict) or part not in node:
                if section == "agent" and isinstance(node, dict):
                    raise ConfigError(f"{where}: {key}: unknown key")
                node = None   # inside a free-form value, or an api key that is the SDK's own
                break
            node = node[part]
        if isinstance(node, Kind):
            config.set(key, _check(node, value, key, where))
        else:
            _merge(config, key, value, where, node if isinstance(node, dict) else None)
        config.overrides[key] = name


def _merge(config: AgentConfig, key: str, value: Any, where: str, schema: dict | None) -> None:
    """A section given as an object merges into what the file set; anything else replaces it."""
    current = config.get(key)
    if isinstance(value, dict) and isinstance(current, dict):
        value = _deep_merge(current, value)
    if schema is not None:
        value = _validate(value, schema, key, where, strict=key.startswith("agent"))
    config.set(key, value)


def _deep_merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def _hocon_value(raw: str) -> Any:
    """The value as clearml-agent parses it (``key: <value>`` in HOCON); text HOCON refuses (a name format's
    ``{task_id}``) is the value as written, rather than an agent that cannot start."""
    try:
        return plain(ConfigFactory.parse_string(f"value: {raw}")["value"])
    except Exception:  # noqa: BLE001 - pyparsing's and pyhocon's errors alike
        return raw


def _auth_token(config: AgentConfig, environ: MappingType[str, str]) -> tuple[str | None, Path | None]:
    """The token file a task container's agent is given (it wins: the container has no credentials), else
    ``CLEARML_AUTH_TOKEN`` when no credentials are configured. ``(token, its file)``."""
    path = environ.get(TOKEN_FILE_ENV)
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"environment variable {TOKEN_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
        if token:
            return token, Path(path)
    if not (config.access_key and config.secret_key):
        return (environ.get(TOKEN_ENV) or "").strip() or None, None
    return None, None
