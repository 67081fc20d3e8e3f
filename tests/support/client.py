"""A minimal ClearML API client for tests: raw envelopes, so tests can check codes and meta exactly."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class Reply:
    status: int
    body: dict

    @property
    def meta(self) -> dict:
        return self.body["meta"]

    @property
    def data(self) -> Any:
        return self.body["data"]

    @property
    def code(self) -> tuple[int, int]:
        return self.meta["result_code"], self.meta["result_subcode"]


class ApiClient:
    def __init__(self, base_url: str, key: str | None = None, secret: str | None = None, version: str = "2.31"):
        self.base_url = base_url.rstrip("/")
        self.key, self.secret, self.version = key, secret, version
        self.token: str | None = None
        self.session = requests.Session()

    def login(self) -> "ApiClient":
        reply = self.send("auth.login", auth=(self.key, self.secret), version=None)
        assert reply.status == 200, reply.body
        self.token = reply.data["token"]
        return self

    def send(self, name: str, data: Any = None, *, method: str = "GET", version: str | None = "default",
             auth: Any = "token", headers: dict | None = None, body: str | None = None) -> Reply:
        version = self.version if version == "default" else version
        path = f"/v{version}/{name}" if version else f"/{name}"
        headers = dict(headers or {})
        if auth == "token" and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        basic = auth if isinstance(auth, tuple) else None
        if body is None and data is not None:
            body = json.dumps(data)
            headers.setdefault("Content-Type", "application/json")
        resp = self.session.request(method, self.base_url + path, data=body, headers=headers, auth=basic, timeout=60)
        return Reply(resp.status_code, resp.json())

    def ok(self, name: str, /, **data) -> Any:
        reply = self.send(name, data)
        assert reply.status == 200 and reply.code == (200, 0), f"{name}: {reply.body['meta']}"
        return reply.data

    def error(self, name: str, code: tuple[int, int], /, **data) -> Reply:
        reply = self.send(name, data)
        assert reply.code == code, f"{name}: expected {code}, got {reply.code}: {reply.meta['result_msg']}"
        assert reply.status == code[0] and reply.data == {}
        return reply
