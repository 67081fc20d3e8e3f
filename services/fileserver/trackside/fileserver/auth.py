"""Who may use the file server: holders of a valid API token, sent as ``Authorization: Bearer`` (the SDK and
agent) or in a web-login cookie (browsers). Tokens are checked locally with the API's own secret, so no
request goes back to the API, then against the revocations the API records (a logout, a revoked key, a
disabled or deleted user: ``trackside.shared.revocation``), with the same checks and interval as the API."""
from __future__ import annotations

from flask import Request
from werkzeug.exceptions import Unauthorized

from trackside.shared import auth_tokens
from trackside.shared.revocation import TokenRevocations


class NotAuthorized(Unauthorized):
    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="trackside"')]


class TokenCheck:
    def __init__(self, secret: str, cookie_names: tuple[str, ...], revocations: TokenRevocations | None = None):
        self._secret = secret
        self._cookie_names = cookie_names
        self.revocations = revocations

    def token_in(self, request: Request) -> str | None:
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise NotAuthorized("only Authorization: Bearer <token> is accepted")
            return value.strip()
        return next((request.cookies[name] for name in self._cookie_names if request.cookies.get(name)), None)

    def require(self, request: Request) -> dict:
        """The caller's identity claims; 401 without a valid token."""
        token = self.token_in(request)
        if token is None:
            raise NotAuthorized("missing credentials: send Authorization: Bearer <token>")
        return self.verify(token)

    def verify(self, token: str) -> dict:
        try:
            identity = auth_tokens.verify(token, self._secret)
        except auth_tokens.InvalidToken as exc:
            raise NotAuthorized(f"invalid token: {exc}") from None
        refusal = self.revocations.refusal(token, identity["user"]) if self.revocations is not None else None
        if refusal:
            raise NotAuthorized(refusal)
        return identity
