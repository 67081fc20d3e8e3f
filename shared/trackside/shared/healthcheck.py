"""``trackside-healthcheck [role]``: the server image's ``HEALTHCHECK``, exit 0 when the role is ready.

It asks the role's own ``/health/ready`` on this host. Docker runs health checks with the container's
environment, not with what ``trackside-role`` added to its first process, so the role comes from the
argument, else ``TRACKSIDE_ROLE``, else the first process's environment. One-shot roles are always healthy.
Exit codes are Docker's: 0 healthy, 1 unhealthy.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from trackside.shared.config import load_config
from trackside.shared.health import READY_PATH
from trackside.shared.roles import ROLE_ENV, ROLES

TIMEOUT_SEC = 4.0  # under the image's HEALTHCHECK --timeout
# Where a server listening on every address is reached from inside its container.
LOCAL = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = (argv[0] if argv else None) or os.environ.get(ROLE_ENV) or first_process_role()
    if name not in ROLES:
        print(f"trackside-healthcheck: unknown role {name!r}", file=sys.stderr)
        return 1
    section = ROLES[name].listen
    if section is None:
        return 0
    try:
        config = load_config()
        host, port = str(config.get(f"{section}.host")), config.get_int(f"{section}.port")
    except Exception as exc:  # noqa: BLE001 - a bad setting (ConfigError) or value: "unhealthy", no traceback
        print(f"trackside-healthcheck: configuration: {exc}", file=sys.stderr)
        return 1
    return probe(ready_url(host, port))


def ready_url(host: str, port: int) -> str:
    host = LOCAL.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{READY_PATH}"


def probe(url: str) -> int:
    # No proxy: a proxy configured for the service's own outgoing traffic must not carry a local probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT_SEC) as response:
            print(response.read(4096).decode(errors="replace"))
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(exc.read(4096).decode(errors="replace"))
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"trackside-healthcheck: {url}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1


def first_process_role(environ_file: Path = Path("/proc/1/environ")) -> str | None:
    try:
        entries = environ_file.read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{ROLE_ENV}=".encode()
    return next((e[len(prefix):].decode(errors="replace") for e in entries if e.startswith(prefix)), None)
