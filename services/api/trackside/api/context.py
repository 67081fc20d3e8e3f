"""What a handler receives: the validated request data, who is calling, and the application services."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackside.api.services import AppServices


@dataclass(frozen=True)
class Identity:
    user: str
    company: str
    role: str
    user_name: str = ""
    company_name: str = ""

    def as_claims(self) -> dict:
        return {
            "user": self.user, "company": self.company, "role": self.role,
            "user_name": self.user_name, "company_name": self.company_name,
        }


@dataclass
class Call:
    endpoint: str
    version: str
    data: Any
    identity: Identity | None
    app: "AppServices"
    headers: dict = field(default_factory=dict)
    # Cookies the handler wants set on the response: (name, value, options).
    cookies: list[tuple[str, str, dict]] = field(default_factory=list)
    # The peer's address as the WSGI server saw it (a proxy's, behind one).
    remote_addr: str = ""

    @property
    def client_address(self) -> str:
        """The caller's address: a proxy's ``X-Real-Ip`` or first ``X-Forwarded-For`` hop, else the peer."""
        forwarded = self.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        return self.headers.get("X-Real-Ip") or forwarded or self.remote_addr

    @property
    def api_version(self) -> tuple[int, int]:
        """The version the request resolved to, for comparisons: ``call.api_version < (2, 13)``."""
        major, _, minor = self.version.partition(".")
        return int(major), int(minor or 0)
