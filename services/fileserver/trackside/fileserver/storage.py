"""Files under one storage folder: safe names, staged uploads made visible by an atomic rename, deletes.

Every object name from a request goes through :meth:`Storage.locate`, which rejects anything that could
reach outside the folder (``..`` segments, absolute paths, control characters such as NUL, symbolic links
that resolve outside it) before anything is created.
"""
from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Uploads are written here first (same filesystem as the files, so the final rename is atomic); requests
# can never name anything inside it.
STAGING = ".trackside-uploads"
STAGED_SUFFIX = ".part"
# A staged file untouched this long belongs to a process that died mid-upload.
STALE_STAGED_SEC = 24 * 3600


class BadPath(ValueError):
    """An object name that is empty, malformed or points outside the storage folder."""


class ObjectNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Located:
    name: str  # normalised, relative, "/"-separated
    path: Path  # absolute, symbolic links resolved, inside the storage folder


def normalize(raw: str) -> str:
    """The relative object name for ``raw``: one leading ``/`` (how the SDK sends names) is dropped; empty
    and ``.`` segments are dropped; ``..``, absolute paths and control characters are refused."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise BadPath(f"{_shown(raw)}: control characters (such as NUL) are not allowed in a path")
    name = raw[1:] if raw.startswith("/") else raw
    if name.startswith("/"):
        raise BadPath(f"{_shown(raw)}: absolute paths are not allowed")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BadPath(f"{_shown(raw)}: '..' is not allowed in a path")
    if not parts:
        raise BadPath(f"{_shown(raw)}: empty path")
    if parts[0] == STAGING:
        raise BadPath(f"{_shown(raw)}: {STAGING} is reserved")
    return "/".join(parts)


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 200 else raw[:200] + "...")


class Storage:
    def __init__(self, root: Path):
        self.root = Path(os.path.realpath(root))
        self.staging = self.root / STAGING

    def prepare(self) -> None:
        """Create the folders and drop uploads left behind by a process that died mid-way."""
        self.staging.mkdir(parents=True, exist_ok=True)
        if not os.access(self.staging, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not writable", str(self.staging))
        cutoff = time.time() - STALE_STAGED_SEC
        for entry in os.scandir(self.staging):
            try:
                if entry.name.endswith(STAGED_SUFFIX) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass  # another process swept it first

    def locate(self, raw: str) -> Located:
        """Where ``raw`` lives. The last segment keeps its own name (an upload replaces a link there rather
        than writing through it), but whatever it resolves to must be inside the folder too."""
        name = normalize(raw)
        folder, _, base = name.rpartition("/")
        parent = os.path.realpath(self.root / folder)
        resolved = os.path.realpath(os.path.join(parent, base))
        if not (self._within(parent) and self._within(resolved) and resolved != str(self.root)):
            raise BadPath(f"{_shown(raw)}: the path leads outside the storage folder")
        if self._within(resolved, self.staging):
            raise BadPath(f"{_shown(raw)}: {STAGING} is reserved")
        return Located(name, Path(parent, base))

    def _within(self, path: str, folder: Path | None = None) -> bool:
        folder = str(folder or self.root)
        return path == folder or os.path.commonpath([path, folder]) == folder

    def existing_file(self, raw: str) -> Located:
        found = self.locate(raw)
        if not found.path.is_file():
            raise ObjectNotFound(found.name)
        return found

    # -- uploads ---------------------------------------------------------------------------------------
    def stage(self) -> "StagedFile":
        return StagedFile(self.staging)

    def commit(self, staged: "list[tuple[StagedFile, Located]]") -> None:
        """Move staged uploads into place. Folders are made and checked for all of them first, so a bad
        target fails the request before any file becomes visible."""
        for _, target in staged:
            try:
                target.path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise BadPath(f"{target.name}: a parent of this path is a file") from None
            if target.path.is_dir():
                raise BadPath(f"{target.name}: a folder has this path")
        for file, target in staged:
            file.move_to(target.path)

    # -- deletes ---------------------------------------------------------------------------------------
    def delete_file(self, raw: str) -> str:
        found = self.existing_file(raw)
        found.path.unlink()  # a link itself, not what it points to
        return found.name

    def delete_any(self, found: Located) -> None:
        """A file, or a folder with everything in it; a link is removed itself, never followed."""
        if found.path.is_symlink() or found.path.is_file():
            found.path.unlink()
        elif found.path.is_dir():
            shutil.rmtree(found.path)
        else:
            raise ObjectNotFound(found.name)


class StagedFile:
    """A new file in the staging folder; removed by :meth:`discard` unless moved into place first."""

    def __init__(self, staging: Path):
        self.path = staging / f"{secrets.token_hex(16)}{STAGED_SUFFIX}"
        # Created exclusively, with the process umask applied like any other new file.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        self._file = os.fdopen(fd, "wb")
        self.moved = False

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def close(self) -> None:
        """On the disk before it can become visible: a full disk (or a filesystem that allocates space only
        when the data is written out) fails the upload here, never a file already in place."""
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def move_to(self, target: Path) -> None:
        self.close()
        try:
            os.replace(self.path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # The target folder is another filesystem (a mount inside the storage folder): copy beside
            # the target, then rename there, so the target still appears whole or not at all.
            beside = target.with_name(f".{self.path.name}")
            try:
                shutil.copyfile(self.path, beside)
                os.replace(beside, target)
            finally:
                beside.unlink(missing_ok=True)
        self.moved = True

    def discard(self) -> None:
        """Removed unless moved into place; what is still buffered is dropped (a full disk would refuse it
        again, and the partial file must go all the same)."""
        try:
            self._file.close()  # closes the descriptor even when its last flush fails
        except OSError:
            pass
        if not self.moved:
            self.path.unlink(missing_ok=True)
