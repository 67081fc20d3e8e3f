"""Collections as streams of BSON documents (each one length-prefixed, as ``mongodump`` writes them), read and
written as raw bytes: nothing is decoded, so every type (dates, binary, ids) comes back exactly."""
from __future__ import annotations

import struct
from typing import BinaryIO, Iterable, Iterator

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.collection import Collection

from trackside.shared.admin.manifest import ArchiveError

RAW = CodecOptions(document_class=RawBSONDocument, tz_aware=True)
MAX_DOCUMENT = 48 * 1024 * 1024  # MongoDB's limit is 16 MiB; anything far larger is damage
BATCH_DOCS, BATCH_BYTES = 500, 8 * 1024 * 1024


def dump(coll: Collection, out: BinaryIO) -> int:
    """Write every document of ``coll``; how many. One cursor in ``_id`` order: each document is read
    whole and at most once, even while others are written (see deploy/README.md, "consistent")."""
    count = 0
    for doc in coll.with_options(codec_options=RAW).find({}, sort=[("_id", 1)], batch_size=1000):
        out.write(doc.raw)
        count += 1
    return count


def documents(stream: BinaryIO) -> Iterator[bytes]:
    """Each document's bytes; a truncated or malformed stream is an :class:`ArchiveError`."""
    while True:
        head = stream.read(4)
        if not head:
            return
        (size,) = struct.unpack("<i", head.ljust(4, b"\0"))
        if len(head) < 4 or not 5 <= size <= MAX_DOCUMENT:
            raise ArchiveError(f"malformed BSON document length {size}")
        body = stream.read(size - 4)
        if len(body) != size - 4 or body[-1:] != b"\0":
            raise ArchiveError("truncated BSON document")
        yield head + body


def load(coll: Collection, docs: Iterable[bytes]) -> int:
    """Insert the documents in batches; how many."""
    raw_coll, batch, size, count = coll.with_options(codec_options=RAW), [], 0, 0
    for data in docs:
        batch.append(RawBSONDocument(data, RAW))
        size += len(data)
        if len(batch) >= BATCH_DOCS or size >= BATCH_BYTES:
            raw_coll.insert_many(batch, ordered=False)
            count, batch, size = count + len(batch), [], 0
    if batch:
        raw_coll.insert_many(batch, ordered=False)
        count += len(batch)
    return count
