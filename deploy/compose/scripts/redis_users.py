"""First start of the compose stack: Redis ACL users with generated passwords, when absent.

Writes two files together, or leaves both alone when both exist (idempotent across `docker compose up`):
- the ACL file Redis starts with (``--aclfile``): the default user off, the server and agent users, only
  SHA-256 hashes of their passwords (``trackside.shared.dispatch.acl``);
- ``<config-dir>/hosts/redis.conf`` (0600): the passwords for the services, read as ``hosts.redis.*`` by the
  configuration loader. Agents never see the server user: ``dispatch.subscribe`` hands them the agent user.

Runs in the server image as the data root's owner, with no network.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from trackside.shared.dispatch import acl


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def services_conf(server: acl.RedisUser, agent: acl.RedisUser) -> str:
    lines = ["# Generated on first start by the compose stack's init-redis. Keep private."]
    for role, user in (("apiserver", server), ("workers", server), ("agents", agent)):
        lines.append(f"{role} {{ username: {json.dumps(user.name)}, password: {json.dumps(user.password)} }}")
    return "\n".join(lines) + "\n"


def ensure_users(config_dir: Path, acl_file: Path) -> bool:
    """Create the users unless both files exist; True when they were created."""
    conf = config_dir / "hosts" / "redis.conf"
    if conf.exists() and acl_file.exists():
        return False
    server, agent = acl.server_user(acl.new_password()), acl.agent_user(acl.new_password())
    # Services' side first: if the ACL write fails, the next start regenerates both.
    write_private(conf, services_conf(server, agent))
    write_private(acl_file, acl.acl_file_text([server, agent]))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", type=Path, required=True)
    parser.add_argument("--acl-file", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        created = ensure_users(args.config_dir, args.acl_file)
    except OSError as exc:
        print(f"init-redis: {exc} (is the data root owned by the services' uid? see README.md)", file=sys.stderr)
        return 1
    print("init-redis: Redis users " + ("generated" if created else "kept"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
