"""The web app's settings, read once from the shared configuration tree (``webapp.conf``, ``hosts.conf``,
``secure.conf``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pyhocon import ConfigTree
from pyhocon.exceptions import ConfigException

from trackside.shared import proxy_proof
from trackside.shared.config import ConfigError

# Installed by `make setup` (npm ci in services/webapp/frontend), next to this package in a source checkout.
DEFAULT_PLOTLY_JS = (Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "plotly.js-dist-min"
                     / "plotly.min.js")
# The system credential (secure.conf credentials.<name>) that name-only sign-in acts with.
NAME_LOGIN_CREDENTIAL = "webserver"


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    api_url: str
    files_url: str
    # Every file-server address the SDK may have written into stored URLs; the UI maps them to /files/.
    files_hosts: tuple[str, ...]
    cookie_secure: bool
    session_max_age_sec: int
    api_timeout_sec: float
    api_pool_size: int
    plotly_js: Path
    # Name-only sign-in (no fixed users): the webserver credential, or None when it is not configured.
    name_login_key: str | None
    name_login_secret: str | None
    # Signs the browser's address on sign-in so the API believes it (shared/proxy_proof.py); None without
    # secure.auth.token_secret, when only an API that trusts the web app's address believes it.
    proxy_proof_key: bytes | None = None

    @property
    def bind(self) -> str:
        return f"{self.host}:{self.port}"


def read_settings(config: ConfigTree) -> Settings:
    section = config.get_config("webapp", ConfigTree())
    try:
        api_url = _url("webapp.api_url", section.get_string("api_url", "http://127.0.0.1:8008"))
        default_files = config.get_string("hosts.fileserver", "http://127.0.0.1:8081")
        files_url = _url("webapp.files_url", section.get_string("files_url", "") or default_files)
        extra_hosts = [_url("webapp.files_hosts", str(h)) for h in section.get_list("files_hosts", [])]
        hosts = tuple(dict.fromkeys([files_url, _url("hosts.fileserver", default_files), *extra_hosts]))
        credential = config.get_config(f"secure.credentials.{NAME_LOGIN_CREDENTIAL}", ConfigTree())
        key, secret = credential.get("user_key", "") or None, credential.get("user_secret", "") or None
        plotly = section.get_string("plotly_js", "")
        return Settings(
            host=section.get_string("listen.host", "127.0.0.1"),
            port=section.get_int("listen.port", 8080),
            api_url=api_url,
            files_url=files_url,
            files_hosts=hosts,
            cookie_secure=section.get_bool("cookies.secure", False),
            session_max_age_sec=section.get_int("cookies.max_age_sec", 2592000),
            api_timeout_sec=section.get_float("api.timeout_sec", 120.0),
            api_pool_size=section.get_int("api.pool_size", 32),
            plotly_js=Path(plotly).expanduser() if plotly else DEFAULT_PLOTLY_JS,
            name_login_key=str(key) if key and secret else None,
            name_login_secret=str(secret) if key and secret else None,
            proxy_proof_key=proxy_proof.proof_key(config),
        )
    except (ConfigException, ValueError, TypeError) as exc:
        raise ConfigError(f"webapp.conf: {exc}") from None


def _url(name: str, value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: expected an http(s) URL, got {value!r}")
    return value.strip().rstrip("/")
