"""The agent's API client: the shared ``ApiSession`` (stdlib HTTP, login, re-login on a refused token),
one per thread, since the daemon's reporter, the log sender and the stop watcher call from their own threads.
With a token instead of credentials (a task container's agent under ``--use-owner-token``) every session
calls with that token, and a refused token is an error: there is nothing to log in with. So that a service
that runs for months never calls with an expired token, the token is renewed (``auth.login`` with it) when it
was last renewed a day ago or more, and written back to its file: a container docker restarts later starts
from the newest one.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from trackside.agent.config import AgentConfig
from trackside.shared.dispatch.client import ApiError, ApiSession

__all__ = ["AgentApi", "ApiError"]
TOKEN_SEC = 30 * 24 * 3600          # what a renewed token is asked to live (the server's default)
RENEW_EVERY_SEC = 24 * 3600.0


class AgentApi:
    def __init__(self, server: str, access_key: str, secret_key: str, timeout: float = 30.0,
                 token: str | None = None, token_file: Path | None = None):
        self.server, self.access_key, self.secret_key, self.timeout = server, access_key, secret_key, timeout
        self.token, self.token_file = token, token_file
        self._renewed = time.monotonic()
        self._local = threading.local()
        self._sessions: list[ApiSession] = []
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: AgentConfig) -> "AgentApi":
        return cls(config.api_server, config.access_key, config.secret_key, token=config.auth_token,
                   token_file=config.auth_token_file)

    def renew_token(self) -> str:
        """A fresh token for the same identity (token mode only), kept for every later call and written to
        the token file. ApiError when the server refuses it."""
        fresh = self._session().call_with_token("auth.login", {"expiration_sec": TOKEN_SEC}, self.token)["token"]
        with self._lock:
            self.token, self._renewed = fresh, time.monotonic()
        if self.token_file is not None:
            write_token(self.token_file, fresh)
        return fresh

    def _current_token(self) -> str:
        if time.monotonic() - self._renewed >= RENEW_EVERY_SEC:
            with self._lock:
                due = time.monotonic() - self._renewed >= RENEW_EVERY_SEC
                if due:
                    self._renewed = time.monotonic()   # one renewal at a time; a failed one is retried tomorrow
            if due:
                try:
                    self.renew_token()
                except (ApiError, OSError):
                    pass   # the current token still works until it expires
        return self.token

    def call(self, endpoint: str, data: dict | None = None) -> Any:
        """``data`` of a successful call; ``ApiError`` (code, subcode, message) otherwise."""
        return self._session().call(endpoint, data or {})

    __call__ = call

    def call_batch(self, endpoint: str, items: list[dict]) -> Any:
        """A JSON-lines batch endpoint (``events.add_batch``)."""
        return self._session().call_batch(endpoint, items)

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _session(self) -> ApiSession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = ApiSession(self.server, self.access_key, self.secret_key, timeout=self.timeout) \
                if self.token is None else _TokenSession(self.server, self._current_token, self.timeout)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session


class _TokenSession(ApiSession):
    """Calls with the agent's current token (``token()``: renewed now and then), never logs in."""
    def __init__(self, server: str, token, timeout: float):
        super().__init__(server, "", "", timeout=timeout)
        self._current = token
        self._token = token()

    def call(self, endpoint: str, data: dict | None = None) -> Any:
        self._token = self._current()
        return super().call(endpoint, data)

    def call_batch(self, endpoint: str, items: list[dict]) -> Any:
        self._token = self._current()
        return super().call_batch(endpoint, items)

    def call_with_token(self, endpoint: str, data: dict, token: str) -> Any:
        return self._request(endpoint, data, f"Bearer {token}")

    def _login(self) -> None:
        raise ApiError("auth.login", 401, 0, "the agent's token was refused (expired or revoked) and it has no "
                                             "credentials to log in with")


def write_token(path: Path, token: str) -> Path:
    """The token, 0600 at ``path``, replaced whole (a reader never sees half a token)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    os.replace(temporary, path)
    return path
