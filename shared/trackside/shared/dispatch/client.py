"""A small ClearML API client on the standard library, for subscribers (and tests and benchmarks).

One persistent HTTP connection per session (not thread-safe: one per thread); ``auth.login`` with the
access key and secret, then Bearer tokens, logging in again when the token is refused.
"""
from __future__ import annotations

import base64
import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class ApiError(Exception):
    def __init__(self, endpoint: str, code: int, subcode: int, message: str):
        super().__init__(f"{endpoint}: {code}/{subcode} {message}")
        self.endpoint, self.code, self.subcode, self.message = endpoint, code, subcode, message


class ApiSession:
    def __init__(self, base_url: str, access_key: str, secret_key: str, timeout: float = 30.0):
        parts = urlsplit(base_url.rstrip("/"))
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._base_path = parts.path
        self._basic = base64.b64encode(f"{access_key}:{secret_key}".encode()).decode()
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._token: str | None = None

    def call(self, endpoint: str, data: dict | None = None) -> Any:
        """``data`` of a successful call; ApiError otherwise. Logs in first, and again on a refused token."""
        if self._token is None:
            self._login()
        try:
            return self._request(endpoint, data or {}, f"Bearer {self._token}")
        except ApiError as exc:
            if exc.code != 401:
                raise
        self._login()
        return self._request(endpoint, data or {}, f"Bearer {self._token}")

    __call__ = call

    def call_batch(self, endpoint: str, items: list[dict]) -> Any:
        """A JSON-lines batch endpoint (``events.add_batch``): one item per line."""
        body = "\n".join(json.dumps(item) for item in items)
        if self._token is None:
            self._login()
        try:
            return self._request(endpoint, body, f"Bearer {self._token}")
        except ApiError as exc:
            if exc.code != 401:
                raise
        self._login()
        return self._request(endpoint, body, f"Bearer {self._token}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _login(self) -> None:
        self._token = self._request("auth.login", {}, f"Basic {self._basic}")["token"]

    def _request(self, endpoint: str, data: dict | str, authorization: str) -> Any:
        body = (data if isinstance(data, str) else json.dumps(data)).encode()
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        for attempt in (1, 2):  # a pooled connection the server closed is retried once on a fresh one
            conn = self._connection()
            try:
                conn.request("POST", f"{self._base_path}/{endpoint}", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        envelope = json.loads(payload)
        meta = envelope.get("meta") or {}
        code, subcode = meta.get("result_code", response.status), meta.get("result_subcode", 0)
        if code != 200:
            raise ApiError(endpoint, code, subcode, meta.get("result_msg", ""))
        return envelope.get("data") or {}

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn
