"""Receive a ``multipart/form-data`` upload straight from the request stream into staged files.

Each part's field name is the object's path. The body is parsed as it arrives (werkzeug's sans-I/O decoder)
and every part's bytes go to its own staged file, so memory stays flat whatever the size. Nothing becomes
visible until the closing boundary has arrived: a dropped connection, a bad name in any part or a
malformed body leaves no file behind.
"""
from __future__ import annotations

from typing import BinaryIO

from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from trackside.fileserver.storage import Located, StagedFile, Storage

READ_SIZE = 1024 * 1024
# Part headers and preamble may not grow the decoder's buffer past this (it holds one read at most otherwise).
HEADERS_LIMIT = 64 * 1024
MAX_PARTS = 1000


class BadUpload(ValueError):
    """The body is not a usable multipart upload; the message says why."""


class UploadInterrupted(BadUpload):
    """The client stopped sending before the body was complete."""


def receive(stream: BinaryIO, boundary: bytes, storage: Storage) -> list[str]:
    """Store every part of the body; returns the object names, in order."""
    decoder = MultipartDecoder(boundary, max_form_memory_size=READ_SIZE + HEADERS_LIMIT, max_parts=MAX_PARTS)
    staged: list[tuple[StagedFile, Located]] = []
    current: StagedFile | None = None
    try:
        while True:
            try:
                event = decoder.next_event()
            except ValueError as exc:  # malformed part headers, or the body ended mid-way
                raise _ended_early(decoder, exc) from None
            if isinstance(event, NeedData):
                decoder.receive_data(_read(stream) or None)
            elif isinstance(event, (File, Field)):
                target = storage.locate(event.name or "")  # BadPath before anything is written
                current = storage.stage()
                staged.append((current, target))
            elif isinstance(event, Data):
                current.write(event.data)
                if not event.more_data:
                    current.close()
            elif isinstance(event, Epilogue):
                break
        if not staged:
            raise BadUpload("no file parts in the body")
        storage.commit(staged)
        return [target.name for _, target in staged]
    finally:
        for file, _ in staged:
            file.discard()


def _read(stream: BinaryIO) -> bytes:
    try:
        return stream.read(READ_SIZE)
    except OSError as exc:  # the server's reader: connection reset, truncated chunked encoding, timeout
        raise UploadInterrupted(f"upload interrupted: {exc}") from None


def _ended_early(decoder: MultipartDecoder, exc: ValueError) -> BadUpload:
    if decoder.complete:
        return UploadInterrupted("upload interrupted: the body ended before the closing boundary")
    return BadUpload(f"malformed multipart body: {exc}")
