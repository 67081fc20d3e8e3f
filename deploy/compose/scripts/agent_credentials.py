"""Run a command with the agent's API key taken from the generated ``secure.conf``.

The compose stack's agents use a key the init-config step generated (``secure.credentials.<name>``,
default ``admin``), so no secret goes into ``.env`` or the compose file. ``TRACKSIDE_SECURE_CONF`` names
the file (mounted read-only), ``TRACKSIDE_AGENT_KEY_ENTRY`` (or ``TRACKSIDE_AGENT_CREDENTIALS``) the entry.
Keys already in the environment (``CLEARML_API_ACCESS_KEY`` / ``CLEARML_API_SECRET_KEY``) win. Then the
command replaces this process, so signals reach the agent directly.
"""
from __future__ import annotations

import os
import sys

from pyhocon import ConfigFactory


def credentials(path: str, name: str) -> tuple[str, str]:
    entry = ConfigFactory.parse_file(path).get_config(f"credentials.{name}")
    return entry.get_string("user_key"), entry.get_string("user_secret")


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: agent_credentials.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if not (os.environ.get("CLEARML_API_ACCESS_KEY") and os.environ.get("CLEARML_API_SECRET_KEY")):
        path = os.environ.get("TRACKSIDE_SECURE_CONF", "/etc/trackside/config/secure.conf")
        # TRACKSIDE_AGENT_KEY_ENTRY: an entry's name is no secret (compose's secret-name policy flags *CREDENTIAL*)
        name = os.environ.get("TRACKSIDE_AGENT_KEY_ENTRY") or os.environ.get("TRACKSIDE_AGENT_CREDENTIALS", "admin")
        try:
            key, secret = credentials(path, name)
        except Exception as exc:  # missing file, syntax error or missing entry: say which, do not start
            print(f"agent_credentials: no key {name!r} in {path}: {exc}", file=sys.stderr)
            return 2
        os.environ["CLEARML_API_ACCESS_KEY"], os.environ["CLEARML_API_SECRET_KEY"] = key, secret
    os.execvp(argv[0], argv)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
