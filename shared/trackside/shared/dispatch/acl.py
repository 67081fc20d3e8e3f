"""Redis ACL users for dispatch: what each party may do, and the ACL file the embedded Valkey starts with.

- ``default``: off. Nobody connects without credentials.
- server (API and watchdog): every key, every command but the dangerous ones (``INFO`` kept).
- agent: only the dispatch streams, only what subscribing needs. It cannot ``XADD``, so it cannot forge
  work, and claims go through the authenticated API anyway.
"""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from trackside.shared.dispatch.keys import PREFIX

SERVER_USER = "trackside-server"
AGENT_USER = "trackside-agent"

SERVER_RULES = ("~*", "&*", "+@all", "-@dangerous", "+info")
AGENT_RULES = (
    "resetkeys", f"~{PREFIX}:*", "resetchannels", "-@all",
    "+ping", "+xreadgroup", "+xack", "+xgroup|create", "+xgroup|createconsumer",
)
ADMIN_RULES = ("~*", "&*", "+@all")


@dataclass(frozen=True)
class RedisUser:
    name: str
    password: str
    rules: tuple[str, ...]

    def acl_line(self) -> str:
        # Only a SHA-256 of the password is written; the file never holds a usable secret.
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        return " ".join(("user", self.name, "on", f"#{digest}", *self.rules))


def new_password() -> str:
    return secrets.token_urlsafe(32)


def server_user(password: str, name: str = SERVER_USER) -> RedisUser:
    return RedisUser(name, password, SERVER_RULES)


def agent_user(password: str, name: str = AGENT_USER) -> RedisUser:
    return RedisUser(name, password, AGENT_RULES)


def acl_file_text(users: list[RedisUser]) -> str:
    """An ACL file (``--aclfile``) with the default user switched off and ``users`` on."""
    lines = ["user default off resetkeys resetchannels -@all"]
    lines += [user.acl_line() for user in users]
    return "\n".join(lines) + "\n"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def accepts_anonymous(host: str, port: int, timeout: float = 2.0) -> bool | None:
    """Whether the Redis at ``host:port`` answers a client without credentials: True (open), False
    (credentials required) or None (not reachable now)."""
    import redis

    client = redis.Redis(host=host, port=port, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
        return True
    except (redis.AuthenticationError, redis.ResponseError):
        return False  # NOAUTH / "Authentication required"
    except redis.RedisError:
        return None
    finally:
        client.close()


def check_configured_redis(config) -> str | None:
    """``check_production_redis`` for the services' Redis (``hosts.redis.apiserver``), checked at start-up."""
    server = config.get_config("hosts.redis.apiserver")
    return check_production_redis(server.get("host", "127.0.0.1"), int(server.get("port", 6379)))


def check_production_redis(host: str, port: int) -> str | None:
    """A refusal message when a Redis off loopback is open to anyone, else None."""
    if is_loopback(host):
        return None
    if accepts_anonymous(host, port):
        return (f"Redis at {host}:{port} accepts connections without credentials; enable ACL users "
                "(ARCHITECTURE.md, 'Dispatch design', Security) and set hosts.redis.*.username/password")
    return None
