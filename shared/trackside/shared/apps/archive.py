"""Reading an uploaded app archive (zip or tar.gz) in memory, safely.

Uploads come from admins but are still untrusted bytes: names that climb out (``..``), absolute paths,
links and special files are refused, and the total uncompressed size and file count are capped while
reading (a zip's declared sizes are not trusted: members are read in bounded chunks).
"""
import io
import posixpath
import stat
import tarfile
import zipfile

from trackside.shared.apps.errors import PackageError, Problem

MAX_FILES = 500  # archive members of any kind
MAX_TOTAL_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


def _safe_name(raw: str):
    """The member's normalised relative path, or None where it is absolute or climbs out."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return posixpath.join(*parts) if parts else ""


class _Budget:
    """Counts files and bytes across the whole archive; raises once a cap is passed."""

    def __init__(self, archive_name: str, max_files: int, max_bytes: int):
        self.archive_name, self.max_files, self.max_bytes = archive_name, max_files, max_bytes
        self.files = self.bytes = 0

    def add_file(self):
        """Called for every archive member (files, folders, links)."""
        self.files += 1
        if self.files > self.max_files:
            raise PackageError([Problem(self.archive_name, "", f"more than {self.max_files} files")])

    def read(self, stream) -> bytes:
        out = bytearray()
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                return bytes(out)
            self.bytes += len(chunk)
            if self.bytes > self.max_bytes:
                raise PackageError([Problem(self.archive_name, "", f"uncompressed size over {self.max_bytes} bytes")])
            out += chunk


def _zip_members(data: bytes, budget: _Budget, problems: list):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            budget.add_file()  # every member counts, folders too: a million empty entries is a bomb as well
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            # Unix type bits are optional in a zip (writestr leaves them out); when present they must say "file".
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                problems.append(Problem(info.filename, "", "links and special files are not allowed"))
                continue
            yield info.filename, lambda info=info: budget.read(zf.open(info))


def _tar_members(data: bytes, budget: _Budget, problems: list):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for member in tf:
            budget.add_file()
            if member.isdir():
                continue
            if not member.isfile():
                problems.append(Problem(member.name, "", "links and special files are not allowed"))
                continue
            yield member.name, lambda member=member: budget.read(tf.extractfile(member))


def read_archive(data: bytes, archive_name: str = "package", *, max_files: int = MAX_FILES,
                 max_bytes: int = MAX_TOTAL_BYTES) -> dict:
    """``{relative path: bytes}`` of every regular file in a zip or tar(.gz) archive.

    Raises PackageError listing every unsafe member (or the first cap passed, which stops reading).
    """
    budget = _Budget(archive_name, max_files, max_bytes)
    problems: list = []
    if zipfile.is_zipfile(io.BytesIO(data)):
        members = _zip_members(data, budget, problems)
    else:
        try:
            tarfile.open(fileobj=io.BytesIO(data), mode="r:*").close()
        except (tarfile.TarError, EOFError, OSError):
            raise PackageError([Problem(archive_name, "", "not a zip or tar.gz archive")]) from None
        members = _tar_members(data, budget, problems)
    files: dict = {}
    try:
        for raw_name, read in members:
            name = _safe_name(raw_name)
            if not name:
                problems.append(Problem(raw_name, "", "absolute or escaping path"))
                continue
            if name in files:
                problems.append(Problem(name, "", "appears twice in the archive"))
                continue
            files[name] = read()
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, NotImplementedError) as exc:
        problems.append(Problem(archive_name, "", f"unreadable archive: {exc}"))
    if problems:
        raise PackageError(problems)
    return files
