"""Add a named API key to the generated ``secure.conf`` when it has none, so a service's key is generated on
the host and never typed into ``.env`` or a compose file.

    system_credentials.py --config-dir /opt/trackside/config custom_apps_agent --role admin

``init-config`` writes ``secure.conf`` once (token secret, first admin); this appends one entry,
``credentials.<name> {role, display_name, user_key, user_secret}`` (HOCON merges it into ``credentials``),
and leaves the file alone when the entry exists, so every start keeps the key the agent and the API share.
The API reads the file at start: it must run before the API (compose: a one-shot it depends on).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from pyhocon import ConfigFactory

from trackside.shared.credential_gen import new_access_key, new_secret_key

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # a plain HOCON key: no quoting, no dots


def ensure_credentials(secure_conf: Path, name: str, role: str, display_name: str) -> bool:
    """Append ``credentials.<name>`` unless present; whether it was added. The file must exist."""
    existing = ConfigFactory.parse_file(str(secure_conf)).get(f"credentials.{name}", None)
    if existing is not None:
        return False
    entry = (f'\n# Added by system_credentials.py: the API key of {display_name}.\n'
             f'credentials.{name} {{ role: "{role}", display_name: "{display_name}", '
             f'user_key: "{new_access_key()}", user_secret: "{new_secret_key()}" }}\n')
    fd = os.open(secure_conf, os.O_WRONLY | os.O_APPEND)  # keeps the file's owner-only mode
    with os.fdopen(fd, "a") as out:
        out.write(entry)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="system_credentials.py", description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", type=Path, required=True, help="the folder holding secure.conf")
    parser.add_argument("name", help="the credentials entry, e.g. custom_apps_agent")
    parser.add_argument("--role", default="user", choices=["user", "admin"])
    parser.add_argument("--display-name", help="the user's name in the UI (default: from the entry's name)")
    args = parser.parse_args(argv)
    if not NAME.match(args.name):
        parser.error(f"{args.name!r}: letters, digits and '_' only")
    secure_conf = args.config_dir / "secure.conf"
    if not secure_conf.is_file():
        print(f"system_credentials.py: {secure_conf} does not exist (init-config writes it first)", file=sys.stderr)
        return 2
    display_name = args.display_name or args.name.replace("_", " ").capitalize()
    try:
        added = ensure_credentials(secure_conf, args.name, args.role, display_name.replace('"', "'"))
    except Exception as exc:  # an unreadable or broken file: say which, add nothing
        print(f"system_credentials.py: cannot update {secure_conf}: {exc}", file=sys.stderr)
        return 1
    state = "added" if added else "present; kept as it is"
    print(f"system_credentials.py: credentials.{args.name} ({args.role}) {state} in {secure_conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
