"""Verify the HS256 JWTs that the API's ``auth.login`` issues.

The API and the file server check tokens with this one implementation, against the same
``secure.auth.token_secret`` from the same configuration tree. Issuing stays in the API (its claims carry
the API's version negotiation).
"""
from __future__ import annotations

import jwt
from pyhocon import ConfigTree

from trackside.shared.config import ConfigError

ALGORITHM = "HS256"
# The cookie a web (username/password) login sets; it carries the same JWT.
WEB_COOKIE = "clearml_token_basic"
IDENTITY_FIELDS = ("user", "company", "role")


class InvalidToken(Exception):
    """The token is malformed, signed with another secret, expired or carries no usable identity."""


def token_secret(config: ConfigTree) -> str:
    """The JWT signing secret; there is no default, so a server never runs with a well-known one."""
    secret = config.get("secure.auth.token_secret", "")
    if not secret:
        raise ConfigError(
            "secure.conf: auth.token_secret is empty; set it in a CLEARML_CONFIG_DIR folder "
            "or with CLEARML__SECURE__AUTH__TOKEN_SECRET"
        )
    return str(secret)


def verify(token: str, secret: str) -> dict:
    """The token's ``identity`` claim (``user``, ``company``, ``role`` strings at least), once the signature
    and expiry check out; :class:`InvalidToken` says why not."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "identity"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    identity = claims.get("identity")
    if not isinstance(identity, dict) or not all(isinstance(identity.get(k), str) for k in IDENTITY_FIELDS):
        raise InvalidToken("malformed identity")
    return identity
