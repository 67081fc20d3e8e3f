"""HTTP to the API and the file server over pooled connections (one ``requests.Session`` per worker).

The proxy forwards bytes as they are; the web app's own calls (sign-in, app config) use ``call`` and get
the envelope's data, or an :class:`ApiCallError` carrying the API's status and meta.
"""
from __future__ import annotations

import json
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from trackside.shared import proxy_proof


class ApiUnreachable(Exception):
    """The API (or file server) did not answer: connection refused, timeout, or not a JSON envelope."""


class ApiCallError(Exception):
    def __init__(self, endpoint: str, status: int, meta: dict):
        self.endpoint, self.status, self.meta = endpoint, status, meta
        self.code = (meta.get("result_code", status), meta.get("result_subcode", 0))
        super().__init__(f"{endpoint}: {meta.get('result_msg') or status}")


def pooled_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the API is addressed directly; a proxy in the environment must not intercept
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ApiClient:
    def __init__(self, base_url: str, timeout: float, pool_size: int, proxy_proof_key: bytes | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._proxy_proof_key = proxy_proof_key
        self.http = pooled_session(pool_size)

    def forward(self, path: str, body: bytes, token: str) -> requests.Response:
        """``POST <api>/<path>`` with the browser's body as it is, as the token's user."""
        try:
            return self.http.post(f"{self.base_url}/{path}", data=body, timeout=self.timeout, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        except requests.RequestException as exc:
            raise ApiUnreachable(str(exc)) from None

    def call(self, endpoint: str, data: dict | None = None, *, token: str | None = None,
             basic: tuple[str, str] | None = None, forwarded_for: str = "") -> Any:
        headers = {"Content-Type": "application/json"}
        if forwarded_for:  # the browser's address, which the API's sign-in throttle charges failures to
            headers["X-Forwarded-For"] = forwarded_for
            if self._proxy_proof_key:  # believed even where the API does not trust this web app's address
                headers[proxy_proof.HEADER] = proxy_proof.sign(self._proxy_proof_key, forwarded_for, time.time())
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = self.http.post(f"{self.base_url}/{endpoint}", data=json.dumps(data or {}), headers=headers,
                                  auth=basic, timeout=self.timeout)
            envelope = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ApiUnreachable(f"{endpoint}: {exc}") from None
        meta = envelope.get("meta") or {}
        if resp.status_code != 200 or meta.get("result_code", 200) != 200:
            raise ApiCallError(endpoint, resp.status_code, meta)
        return envelope.get("data") or {}

    def ping(self, timeout: float) -> bool:
        return self.http.get(f"{self.base_url}/debug.ping", timeout=timeout).status_code == 200
