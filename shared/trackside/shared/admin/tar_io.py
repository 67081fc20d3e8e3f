"""Tar members streamed in and out with their SHA-256, and the checks a restored member name must pass."""
from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

from trackside.shared.admin.manifest import ArchiveError

CHUNK = 1 << 20


class HashingReader:
    """A file object's reads, hashed and counted on the way (tarfile copies members through ``read``)."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.sha, self.bytes = raw, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha.update(data)
        self.bytes += len(data)
        return data


def compressed(path: Path) -> bool:
    return path.name.endswith((".gz", ".tgz"))


def safe_name(name: str) -> bool:
    """A relative, normalised path that stays inside the folder it is restored into."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and "\\" not in name and all(
        part not in ("", ".", "..") for part in name.split("/"))


STDOUT = Path("-")


class TarWriter:
    """Writes ``<out>.partial`` and renames it to ``out`` on success: a failed backup leaves no archive.
    ``-`` streams a gzipped archive to stdout instead (``kubectl exec ... > backup.tar.gz``)."""

    def __init__(self, out: Path):
        if out == STDOUT:
            self.out = self.partial = None
            self.tar = tarfile.open(fileobj=sys.stdout.buffer, mode="w|gz", format=tarfile.PAX_FORMAT)
            return
        self.out, self.partial = out, out.with_name(out.name + ".partial")
        self.tar = tarfile.open(self.partial, "w:gz" if compressed(out) else "w", format=tarfile.PAX_FORMAT)

    def add(self, name: str, fileobj: BinaryIO, size: int, mtime: float) -> HashingReader:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(mtime), 0o600
        reader = HashingReader(fileobj)
        self.tar.addfile(info, reader)
        return reader

    def commit(self) -> None:
        self.tar.close()
        if self.partial:
            os.replace(self.partial, self.out)

    def abort(self) -> None:
        self.tar.close()
        if self.partial:
            self.partial.unlink(missing_ok=True)


def members(path: Path) -> Iterator[tuple[tarfile.TarInfo, BinaryIO]]:
    """Every member of the archive in order, refusing anything but safe regular files; archive damage
    (truncation, bad compression, bad headers) becomes :class:`ArchiveError`."""
    try:
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                if not info.isfile() or not safe_name(info.name):
                    raise ArchiveError(f"unexpected member {info.name!r} (type {info.type!r}): not a Trackside backup")
                yield info, tar.extractfile(info)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"{path}: damaged or truncated archive ({exc})") from None
