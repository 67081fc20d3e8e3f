"""The endpoint registry: adding an endpoint is one handler function plus one request schema.

    @endpoint("tasks.get_by_id", GetByIdRequest)
    def get_by_id(call: Call) -> dict:
        return {"task": call.app.tasks.get_for_api(call.identity, call.data["task"])}

Several implementations of one name may exist for different API versions; a request for version V gets
the newest implementation whose ``min_version`` is at most V, as in the reference server.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from marshmallow import Schema

# Who may call an endpoint: a Bearer token (the default), HTTP Basic credentials, or anyone.
AUTH_TOKEN, AUTH_LOGIN, AUTH_NONE = "token", "login", "none"


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def format_version(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class Endpoint:
    name: str
    handler: Callable[..., Any]
    schema: type[Schema] | None
    min_version: tuple[int, int]
    auth: str
    # The body is JSON lines (one request object per line), handed to the handler as a list.
    batch: bool
    # Roles allowed to call it; None means every authenticated role.
    roles: frozenset[str] | None
    # The body is an uploaded file (multipart field ``file`` or the raw body), handed over as bytes (apps.upload).
    upload: bool = False


class Registry:
    def __init__(self) -> None:
        self._by_name: dict[str, list[Endpoint]] = {}

    def add(self, endpoint: Endpoint) -> None:
        versions = self._by_name.setdefault(endpoint.name, [])
        if any(e.min_version == endpoint.min_version for e in versions):
            raise ValueError(f"endpoint {endpoint.name} v{format_version(endpoint.min_version)} registered twice")
        versions.append(endpoint)
        versions.sort(key=lambda e: e.min_version)

    def resolve(self, name: str, version: tuple[int, int]) -> Endpoint | None:
        candidates = [e for e in self._by_name.get(name, ()) if e.min_version <= version]
        return candidates[-1] if candidates else None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[Endpoint]:
        """Every implementation of ``name``, newest first."""
        return list(reversed(self._by_name.get(name, ())))


REGISTRY = Registry()


def endpoint(
    name: str,
    schema: type[Schema] | None = None,
    *,
    min_version: str = "1.0",
    auth: str = AUTH_TOKEN,
    batch: bool = False,
    roles: tuple[str, ...] | None = None,
    upload: bool = False,
):
    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.add(
            Endpoint(
                name=name, handler=handler, schema=schema, min_version=parse_version(min_version),
                auth=auth, batch=batch, roles=frozenset(roles) if roles else None, upload=upload,
            )
        )
        return handler

    return register
