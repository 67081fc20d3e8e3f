"""The backup archive's table of contents: ``manifest.json``, the archive's last member.

It names every other member with its size and SHA-256 (and, for a collection, its document count and
indexes), so a restore can prove the whole archive intact before writing anything.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

FORMAT = "trackside-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MONGO_PREFIX, FILES_PREFIX = "mongo/", "files/"


class ArchiveError(Exception):
    """The archive cannot be restored (corrupt, truncated, foreign or from a newer version): says why."""


@dataclass
class Member:
    sha256: str
    bytes: int
    count: int | None = None  # documents, for a collection's member
    indexes: str | None = None  # a collection's indexes (bson.json_util of index_information()), for restore


@dataclass
class Manifest:
    created: str  # ISO-8601, UTC
    trackside_version: str
    events_store: str  # "mongo": events are in the backend database; "elastic": not in the archive
    migrations: list[str]  # ids recorded in the backend database when it was read
    # member name -> entry; "mongo/<role>/<collection>.bson" (role: backend, auth) or "files/<path>"
    members: dict[str, Member] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def collections(self, role: str) -> dict[str, str]:
        """collection name -> member name, for one database role."""
        prefix = f"{MONGO_PREFIX}{role}/"
        return {name[len(prefix):-len(".bson")]: name for name in self.members
                if name.startswith(prefix) and name.endswith(".bson")}

    def files(self) -> dict[str, str]:
        """path in the upload folder -> member name."""
        return {name[len(FILES_PREFIX):]: name for name in self.members if name.startswith(FILES_PREFIX)}

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArchiveError(f"{MANIFEST_NAME} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ArchiveError(f"not a Trackside backup ({MANIFEST_NAME} format is {raw.get('format')!r})"
                               if isinstance(raw, dict) else f"{MANIFEST_NAME} is not an object")
        if raw.get("format_version") != FORMAT_VERSION:
            raise ArchiveError(f"backup format version {raw.get('format_version')!r}; this trackside-admin reads "
                               f"version {FORMAT_VERSION} (written by Trackside {raw.get('trackside_version')})")
        try:
            members = {name: Member(**entry) for name, entry in raw.pop("members").items()}
            return cls(members=members, **raw)
        except (TypeError, KeyError, AttributeError) as exc:
            raise ArchiveError(f"{MANIFEST_NAME} is malformed: {exc}") from None
