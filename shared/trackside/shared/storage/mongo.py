"""MongoDB access through pymongo: connections from ``hosts.conf`` and indexes declared in code.

A service declares its collections as :class:`Collection` specs (name plus indexes); :func:`ensure_indexes`
creates them at start-up. Documents are plain dicts with a 32-hex string ``_id``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence
from urllib.parse import urlsplit

import pymongo
from pymongo.database import Database

ASCENDING, DESCENDING = pymongo.ASCENDING, pymongo.DESCENDING


@dataclass(frozen=True)
class Index:
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    # Unique indexes over optional fields only constrain documents that have them.
    partial_filter: dict | None = None

    @property
    def name(self) -> str:
        return "_".join(f"{key}_{direction}" for key, direction in self.keys)


@dataclass(frozen=True)
class Collection:
    name: str
    indexes: Sequence[Index] = field(default_factory=tuple)


def connect(uri: str, **client_options) -> Database:
    """A database handle for ``mongodb://host:port/<db>``; the path names the database."""
    db_name = urlsplit(uri).path.lstrip("/").split("?")[0]
    if not db_name:
        raise ValueError(f"MongoDB URI {uri!r} names no database (expected mongodb://host:port/<db>)")
    client_options.setdefault("tz_aware", True)
    if "serverselectiontimeoutms" not in uri.lower():  # the URI may set how long a call waits for a lost server
        client_options.setdefault("serverSelectionTimeoutMS", 10_000)
    # A single server (the embedded default, or a standalone mongod) is used directly; a replica-set URI
    # keeps the driver's discovery.
    if "directConnection" not in uri and "replicaSet" not in uri and "mongodb+srv" not in uri:
        client_options.setdefault("directConnection", True)
    client = pymongo.MongoClient(uri, **client_options)
    return client[db_name]


def ensure_indexes(db: Database, collections: Iterable[Collection]) -> None:
    for spec in collections:
        for index in spec.indexes:
            options = {"name": index.name, "unique": index.unique}
            if index.partial_filter:
                options["partialFilterExpression"] = index.partial_filter
            db[spec.name].create_index(list(index.keys), **options)
