"""A small client of the ``apps.*`` API for the install tools: sign in with an access key like the SDK does
(``auth.login`` with HTTP Basic credentials), then call endpoints with the token.

Standard library only (urllib), so ``trackside-apps`` works wherever the shared library is installed, the
agent's slim install included.
"""
from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_SEC = 120  # an upload of a large package to a busy server


class Unreachable(Exception):
    """No HTTP answer at all (refused, unknown host, timeout), or an answer that is not the Trackside API."""


@dataclass
class ApiFailure(Exception):
    """The API answered with an error envelope."""
    endpoint: str
    status: int
    subcode: int
    message: str
    error_data: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.message} ({self.status}/{self.subcode})"


def _multipart(field_name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its Content-Type header."""
    boundary = "trackside-" + secrets.token_hex(16)
    quoted = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; filename=\"{quoted}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class AppsClient:
    def __init__(self, host: str, access_key: str, secret_key: str):
        self.host = host.rstrip("/")
        self._key, self._secret = access_key, secret_key
        self._token: str | None = None

    # -- transport ------------------------------------------------------------------------------------
    def _send(self, endpoint: str, body: bytes, content_type: str, authorization: str) -> dict:
        request = urllib.request.Request(
            f"{self.host}/{endpoint}", data=body, method="POST",
            headers={"Content-Type": content_type, "Authorization": authorization, "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SEC) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:  # 4xx/5xx still carry the API's envelope
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach the API at {self.host}: {reason}") from None
        try:
            envelope = json.loads(raw)
            meta = envelope["meta"]
        except (ValueError, KeyError, TypeError):
            raise Unreachable(f"{self.host} answered HTTP {status} but not like the Trackside API; is it the "
                              "API's address (e.g. http://localhost:8008), not the web app's?") from None
        if status != 200 or meta.get("result_code", 200) != 200:
            raise ApiFailure(endpoint, int(meta.get("result_code") or status), int(meta.get("result_subcode") or 0),
                             str(meta.get("result_msg") or f"HTTP {status}"), meta.get("error_data") or {})
        return envelope.get("data") or {}

    def _bearer(self) -> str:
        if self._token is None:
            basic = base64.b64encode(f"{self._key}:{self._secret}".encode()).decode()
            data = self._send("auth.login", b"{}", "application/json", f"Basic {basic}")
            self._token = data["token"]
        return f"Bearer {self._token}"

    # -- endpoints ------------------------------------------------------------------------------------
    def call(self, endpoint: str, **data) -> dict:
        return self._send(endpoint, json.dumps(data).encode(), "application/json", self._bearer())

    def login(self) -> None:
        """Check the credentials now (the first call would do it anyway)."""
        self._bearer()

    def upload(self, path: Path) -> dict:
        body, content_type = _multipart("file", path.name, path.read_bytes())
        return self._send("apps.upload", body, content_type, self._bearer())
