"""Which URL git is given for a task's repository, and with which credentials.

The rules follow clearml-agent's documented behaviour:
- credentials come from the repository URL itself (``https://user:token@host/repo``), else from
  ``agent.git_user``/``agent.git_pass`` when ``agent.git_host`` is unset or matches the repository's host;
- ``agent.force_git_ssh_protocol`` turns https URLs into ssh ones (keys, no passwords);
- otherwise, with credentials at hand and ``agent.translate_ssh``, ssh URLs become https ones so the
  credentials can be used.
The URL handed to git never holds credentials: they travel separately (see ``git.GitSession``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from trackside.agent.config import AgentConfig
from trackside.agent.redact import strip_url_credentials, url_credentials

# scp-like ssh syntax: [user@]host:path (no scheme)
SCP_LIKE = re.compile(r"^(?:(?P<user>[^/@:#]*?)@)?(?P<host>[^/@:#]+?):(?P<path>[^/@:#].*)?$")
SSH_ONLY_USERS = {"git", "hg"}   # conventional ssh users, meaningless for https


@dataclass(frozen=True)
class Remote:
    url: str                                   # what git is given: never holds credentials
    host: str                                  # host[:port] ('' for a local path)
    user: str = ""
    password: str = field(default="", repr=False)

    @property
    def has_credentials(self) -> bool:
        return bool(self.user and self.password)

    @property
    def is_http(self) -> bool:
        return self.url.lower().startswith(("http://", "https://"))


def resolve_remote(url: str, config: AgentConfig, log=lambda text: None) -> Remote:
    url = (url or "").strip()
    scp = None if "://" in url else SCP_LIKE.match(url)
    if scp:
        return _resolve_ssh(url, scp["host"], scp["path"] or "", config, log)
    if "://" not in url:
        return Remote(url=url, host="")  # a local path
    parts = urlsplit(url)
    clean = strip_url_credentials(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    scheme = parts.scheme.lower()
    if scheme == "ssh":   # the ssh user stays (git@...), a password never does
        keep_user = url if parts.password is None else url.replace(f":{parts.password}@", "@", 1)
        return _resolve_ssh(keep_user, host, parts.path.lstrip("/"), config, log, port_host=parts.hostname or host)
    if scheme in ("http", "https"):
        if config.get("agent.force_git_ssh_protocol") and _host_selected(config, clean, parts.hostname or host):
            ssh_url = _https_to_ssh(parts.hostname or host, parts.path, config)
            log(f"Using SSH credentials - replacing https url '{clean}' with ssh url '{ssh_url}'")
            return Remote(url=ssh_url, host=parts.hostname or host)
        user, password = url_credentials(url)
        if not (user and password):
            user, password = config_credentials(config, clean, parts.hostname or host)
        return Remote(url=clean, host=host, user=user, password=password)
    return Remote(url=clean, host=host)       # file://, git:// ...: no credentials


def config_credentials(config: AgentConfig, url: str, hostname: str) -> tuple[str, str]:
    """``agent.git_user``/``git_pass`` when they apply to this repository (``agent.git_host``)."""
    user, password = config.get("agent.git_user") or "", config.get("agent.git_pass") or ""
    if not (user and password) or not _host_selected(config, url, hostname):
        return "", ""
    return user, password


def _host_selected(config: AgentConfig, url: str, hostname: str) -> bool:
    wanted = (config.get("agent.git_host") or "").strip().lower()
    if not wanted:
        return True
    if config.get("agent.git_host_match_prefix"):
        bare = url.split("://", 1)[-1].lower()
        return url.lower().startswith(wanted) or bare.startswith(wanted)
    return (hostname or "").lower() == wanted


def _resolve_ssh(url: str, host: str, path: str, config: AgentConfig, log, port_host: str | None = None) -> Remote:
    hostname = (port_host or host).split(":")[0]
    if config.get("agent.force_git_ssh_protocol"):
        forced = config.get("agent.force_git_ssh_port") or config.get("agent.force_git_ssh_user")
        if url.startswith("ssh://") and forced:
            rewritten = _https_to_ssh(hostname, "/" + path, config)
            if rewritten != url:
                log(f"Using SSH credentials - replacing ssh url '{url}' with ssh url '{rewritten}'")
            return Remote(url=rewritten, host=hostname)
        return Remote(url=url, host=hostname)
    if config.get("agent.translate_ssh"):
        user, password = config_credentials(config, f"{hostname}:{path}", hostname)
        if user and password:
            scheme = config.get("agent.translate_ssl_replacement_scheme") or "https"
            https_url = f"{scheme}://{hostname}/{path.lstrip('/')}"
            log(f"Using user/pass credentials - replacing ssh url '{url}' with https url '{https_url}'")
            return Remote(url=https_url, host=hostname, user=user, password=password)
    return Remote(url=url, host=hostname)


def _https_to_ssh(hostname: str, path: str, config: AgentConfig) -> str:
    user = config.get("agent.force_git_ssh_user") or "git"
    port = config.get("agent.force_git_ssh_port")
    return f"ssh://{user}@{hostname}{f':{port}' if port else ''}/{path.lstrip('/')}"


def repository_folder_name(url: str) -> str:
    """A folder name for the work copy: the repository's last path part, without ``.git``."""
    path = url.rstrip("/")
    scp = None if "://" in path else SCP_LIKE.match(path)
    if scp:
        path = scp["path"] or ""
    elif "://" in path:
        path = urlsplit(path).path
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if name.endswith(".git"):
        name = name[:-4]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".")
    return name or "repository"
