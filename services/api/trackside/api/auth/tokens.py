"""HS256 JWTs issued by ``auth.login``. Their claims carry the version negotiation the clients read."""
from __future__ import annotations

import time
import uuid

import jwt

from trackside.api import SERVER_VERSION, errors
from trackside.api.context import Identity

ALGORITHM = "HS256"


def issue(identity: Identity, secret: str, api_version: str, expiration_sec: int) -> str:
    now = int(time.time())
    claims = {
        "identity": identity.as_claims(),
        "api_version": api_version,
        "server_version": SERVER_VERSION,
        # Any other value makes both clients call enterprise-only endpoints.
        "feature_set": "basic",
        "env": "<unknown>",
        "session_id": uuid.uuid4().hex,
        "iat": now,
        "exp": now + expiration_sec,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def identity_from(token: str, secret: str) -> Identity:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "identity"]})
    except jwt.ExpiredSignatureError:
        raise errors.InvalidToken("invalid token: expired") from None
    except jwt.PyJWTError as exc:
        raise errors.InvalidToken(f"invalid token: {exc}") from None
    ident = claims.get("identity")
    if not isinstance(ident, dict) or not all(isinstance(ident.get(k), str) for k in ("user", "company", "role")):
        raise errors.InvalidToken("invalid token: malformed identity")
    return Identity(
        user=ident["user"], company=ident["company"], role=ident["role"],
        user_name=ident.get("user_name") or "", company_name=ident.get("company_name") or "",
    )
