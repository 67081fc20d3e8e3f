"""``trackside-role <role> [arguments]``: the server image's entry point, one image for every server role.

It records the role in ``TRACKSIDE_ROLE`` (``trackside-healthcheck`` reads it) and replaces itself with the
role's own command, so the service runs as the container's first process and receives its signals.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

ROLE_ENV = "TRACKSIDE_ROLE"


@dataclass(frozen=True)
class Role:
    command: tuple[str, ...]
    # The configuration section ({host, port}) where the role answers /health/ready; None: a one-shot command.
    listen: str | None
    help: str


ROLES = {
    "api": Role(("trackside-api",), "apiserver.listen", "the API server (8008)"),
    "fileserver": Role(("trackside-fileserver",), "fileserver.listen", "the file server (8081)"),
    "watchdog": Role(("trackside-watchdog",), "watchdog.health.listen", "the watchdog (health on 8083)"),
    "webapp": Role(("trackside-webapp",), "webapp.listen", "the web app (8080)"),
    "webhooks": Role(("trackside-webhooks",), "services.webhooks.health.listen",
                     "the webhooks service: domain events to deliveries (health on 8084)"),
    "webhooks-worker": Role(("trackside-webhooks", "worker"), "services.webhooks.worker_health.listen",
                            "a webhooks RQ worker: deliveries and server-side UI actions (health on 8085)"),
    "init-config": Role(("trackside-admin", "init-config"), None,
                        "generate the token secret and the first admin credentials when absent"),
    "admin": Role(("trackside-admin",), None, "trackside-admin with the arguments that follow"),
}


def usage() -> str:
    lines = [f"  {name:<12} {role.help}" for name, role in ROLES.items()]
    return "usage: trackside-role ROLE [ARGUMENTS...]\n\nroles:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ROLES:
        print(usage(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    role = ROLES[argv[0]]
    os.environ[ROLE_ENV] = argv[0]
    command = [*role.command, *argv[1:]]
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"trackside-role: cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced this process
