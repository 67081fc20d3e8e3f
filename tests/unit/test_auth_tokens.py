"""The shared token check used by the API and the file server."""
from __future__ import annotations

import time

import jwt
import pytest
from pyhocon import ConfigFactory

from trackside.shared import auth_tokens
from trackside.shared.config import ConfigError

SECRET = "a-secret-long-enough-for-hs256-signing-000"
IDENTITY = {"user": "u1", "company": "c1", "role": "admin", "user_name": "User"}


def token(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def test_verify_returns_the_identity():
    assert auth_tokens.verify(token({"identity": IDENTITY, "exp": time.time() + 60}), SECRET) == IDENTITY


@pytest.mark.parametrize("bad, reason", [
    (lambda: token({"identity": IDENTITY, "exp": time.time() - 1}), "expired"),
    (lambda: token({"identity": IDENTITY, "exp": time.time() + 60}, "another-secret-long-enough-for-hs256-x"),
     "Signature"),
    (lambda: token({"identity": IDENTITY, "exp": time.time() + 60}, None, "none"), "alg"),
    (lambda: token({"identity": IDENTITY}), "exp"),
    (lambda: token({"exp": time.time() + 60}), "identity"),
    (lambda: token({"identity": {"user": "u1"}, "exp": time.time() + 60}), "malformed identity"),
    (lambda: token({"identity": "u1", "exp": time.time() + 60}), "malformed identity"),
    (lambda: "not.a.token", "."),
])
def test_verify_refuses(bad, reason):
    with pytest.raises(auth_tokens.InvalidToken, match=reason):
        auth_tokens.verify(bad(), SECRET)


def test_token_secret_is_required():
    with pytest.raises(ConfigError, match="auth.token_secret"):
        auth_tokens.token_secret(ConfigFactory.parse_string('secure { auth { token_secret: "" } }'))
    assert auth_tokens.token_secret(ConfigFactory.parse_string('secure { auth { token_secret: "s" } }')) == "s"
