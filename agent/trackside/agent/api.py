"""The agent's API client: the shared ``ApiSession`` (stdlib HTTP, login, re-login on a refused token),
one per thread, since the daemon's reporter, the log sender and the stop watcher call from their own threads.
With a token instead of credentials (a task container's agent under ``--use-owner-token``) every session
calls with that token, and a refused token is an error: there is nothing to log in with.
"""
from __future__ import annotations

import threading
from typing import Any

from trackside.agent.config import AgentConfig
from trackside.shared.dispatch.client import ApiError, ApiSession

__all__ = ["AgentApi", "ApiError"]


class AgentApi:
    def __init__(self, server: str, access_key: str, secret_key: str, timeout: float = 30.0,
                 token: str | None = None):
        self.server, self.access_key, self.secret_key, self.timeout = server, access_key, secret_key, timeout
        self.token = token
        self._local = threading.local()
        self._sessions: list[ApiSession] = []
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: AgentConfig) -> "AgentApi":
        return cls(config.api_server, config.access_key, config.secret_key, token=config.auth_token)

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
                if self.token is None else _TokenSession(self.server, self.token, self.timeout)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session


class _TokenSession(ApiSession):
    def __init__(self, server: str, token: str, timeout: float):
        super().__init__(server, "", "", timeout=timeout)
        self._token = token

    def _login(self) -> None:
        raise ApiError("auth.login", 401, 0, "the agent's token was refused (expired or revoked) and it has no "
                                             "credentials to log in with")
