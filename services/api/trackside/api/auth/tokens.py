"""HS256 JWTs issued by ``auth.login``. Their claims carry the version negotiation the clients read."""
from __future__ import annotations

import time
import uuid

import jwt

from trackside.api import SERVER_VERSION, errors
from trackside.api.context import Identity
from trackside.shared import auth_tokens
from trackside.shared.auth_tokens import ALGORITHM


def issue(identity: Identity, secret: str, api_version: str, expiration_sec: int, access_key: str = "") -> str:
    """``access_key``: the key that signed in (database keys only), so that revoking it refuses the token."""
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
        **({"access_key": access_key} if access_key else {}),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def identity_from(token: str, secret: str) -> Identity:
    """Verified by the shared check (the file server uses the same one), as the API's own 401/30 error."""
    try:
        ident = auth_tokens.verify(token, secret)
    except auth_tokens.InvalidToken as exc:
        raise errors.InvalidToken(f"invalid token: {exc}") from None
    return Identity(
        user=ident["user"], company=ident["company"], role=ident["role"],
        user_name=ident.get("user_name") or "", company_name=ident.get("company_name") or "",
    )

