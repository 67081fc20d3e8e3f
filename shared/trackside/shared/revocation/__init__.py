"""Tokens that stop working before they expire, checked the same way by every service that accepts them.

A token is checked locally (signature and expiry, ``trackside.shared.auth_tokens``), so what revokes it is
kept where every process can read it:

- ``access.py``: revoked access keys and disabled or deleted users, in the auth database's
  ``token_revocations``, read as a snapshot each process reloads every ``apiserver.auth.revocation_refresh_sec``;
- ``sessions.py``: sessions ended by ``auth.logout``, in a Redis sorted set, looked up per request.

The API records revocations and checks them; the file server only checks them (:func:`for_checking`). Both
keep serving when the store cannot be read (the previous snapshot, or no session check for a while; logged).
"""
from __future__ import annotations

from dataclasses import dataclass

import jwt
from pyhocon import ConfigTree
from pyhocon.exceptions import ConfigException

from trackside.shared.config import ConfigError

from trackside.shared.revocation.access import RevokedAccess
from trackside.shared.revocation.sessions import RevokedSessions

__all__ = ["RevocationClaims", "RevokedAccess", "RevokedSessions", "TokenRevocations", "for_checking",
           "refresh_sec", "revocation_claims"]

DEFAULT_REFRESH_SEC = 2.0
# A service that only checks tokens waits at most this long for the auth database, then serves on.
CHECKER_MONGO_TIMEOUT_MS = 1000
# ...and, after a failed read, retries no sooner than this (each try can hold one request for the time-out).
CHECKER_RETRY_AFTER_FAILURE_SEC = 10.0


@dataclass(frozen=True)
class RevocationClaims:
    session_id: str   # what a logout revokes
    expires: int
    access_key: str   # the database key that signed in (key revocations)
    issued_at: int    # user revocations refuse tokens issued at or before theirs


def revocation_claims(token: str) -> RevocationClaims:
    """The claims revocations look at, of a token whose signature was already verified."""
    claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    return RevocationClaims(str(claims.get("session_id") or ""), int(claims.get("exp") or 0),
                            str(claims.get("access_key") or ""), int(claims.get("iat") or 0))


class TokenRevocations:
    """Whether a verified token was revoked since it was issued, by a logout, its key or its user."""

    def __init__(self, access: RevokedAccess, sessions: RevokedSessions | None):
        self.access = access
        self.sessions = sessions

    def session_revoked(self, claims: RevocationClaims) -> bool:
        return bool(claims.session_id) and self.sessions is not None and self.sessions.is_revoked(claims.session_id)

    def access_revoked(self, user: str, claims: RevocationClaims) -> bool:
        return self.access.refuses(user, claims.access_key, claims.issued_at)

    def refusal(self, token: str, user: str) -> str | None:
        """Why the token is refused (a short message for the caller), or None when it is still good."""
        claims = revocation_claims(token)
        if self.session_revoked(claims):
            return "revoked token"
        if self.access_revoked(user, claims):
            return "revoked token (its access key was revoked or its user disabled)"
        return None


def refresh_sec(config: ConfigTree) -> float:
    return config.get_float("apiserver.auth.revocation_refresh_sec", DEFAULT_REFRESH_SEC)


def for_checking(config: ConfigTree) -> TokenRevocations:
    """Checks for a service that accepts the API's tokens without issuing them (the file server): its own
    connections to ``hosts.mongo.auth`` and ``hosts.redis.apiserver``, both quick to give up, so a store
    that is down costs a request at most about a second now and then, never a failure."""
    from pymongo.errors import ConfigurationError

    from trackside.shared.storage import mongo, redis as redis_store  # the server extra (pymongo, redis)

    timeout = CHECKER_MONGO_TIMEOUT_MS
    try:  # connects lazily: only a malformed address fails here
        auth_db = mongo.connect(config.get_string("hosts.mongo.auth.host"), serverSelectionTimeoutMS=timeout,
                                connectTimeoutMS=timeout, socketTimeoutMS=2 * timeout)
    except (ConfigException, ConfigurationError, ValueError) as exc:
        raise ConfigError(f"hosts.mongo.auth.host: {exc}") from None
    try:
        sessions = RevokedSessions(redis_store.connect_failing_fast(config.get_config("hosts.redis.apiserver")))
        access = RevokedAccess(auth_db, refresh_sec(config), retry_after_failure_sec=CHECKER_RETRY_AFTER_FAILURE_SEC)
    except (ConfigException, ValueError, TypeError) as exc:
        raise ConfigError(f"hosts.redis.apiserver / apiserver.auth.revocation_refresh_sec: {exc}") from None
    return TokenRevocations(access, sessions)
