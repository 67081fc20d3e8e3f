"""``trackside-admin backup``: the MongoDB databases (events too, when they live there) and the file server's
folder of a running installation, into one tar archive ending with its manifest."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

from bson import json_util

from trackside.shared.admin import bson_stream
from trackside.shared.admin.manifest import FILES_PREFIX, MANIFEST_NAME, MONGO_PREFIX, Manifest, Member
from trackside.shared.admin.settings import DATABASES, Installation
from trackside.shared.admin.tar_io import STDOUT, TarWriter
from trackside.shared.storage.mongo import connect

# Dumps larger than this spill from memory to a temporary file beside the archive.
SPOOL_BYTES = 32 * 1024 * 1024
# The file server's staging folder for uploads in progress (trackside.fileserver.storage.STAGING).
STAGING = ".trackside-uploads"
# Read last: what references other collections (events name tasks) is read after what it references, so a
# restored reference points at something, at worst an event whose task arrived during the backup.
READ_LAST = ("events", "worker_stats", "serving_stats")


class _Hashing:
    def __init__(self, out):
        self.out, self.sha = out, hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.out.write(data)


def collection_order(names) -> list[str]:
    names = [n for n in names if not n.startswith("system.")]
    return sorted(names, key=lambda n: (n in READ_LAST, READ_LAST.index(n) if n in READ_LAST else 0, n))


def version() -> str:
    try:
        return metadata.version("trackside-shared")
    except metadata.PackageNotFoundError:
        return "unknown"


def backup(site: Installation, out: Path, include_files: bool = True,
           say: Callable[[str], None] = lambda _: None) -> Manifest:
    started = time.monotonic()
    manifest = Manifest(created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        trackside_version=version(), events_store=site.events_store, migrations=[])
    spool_dir = None if out == STDOUT else out.parent  # beside the archive: its disk has room for it
    if spool_dir:
        spool_dir.mkdir(parents=True, exist_ok=True)
    writer = TarWriter(out)
    try:
        for role in DATABASES:
            db = connect(site.mongo[role])
            if role == "backend":
                manifest.migrations = sorted(d["_id"] for d in db["migrations"].find({"applied": {"$exists": True}}))
            for name in collection_order(db.list_collection_names()):
                member = _dump_collection(writer, db[name], f"{MONGO_PREFIX}{role}/{name}.bson", spool_dir)
                manifest.members[f"{MONGO_PREFIX}{role}/{name}.bson"] = member
                say(f"{role}.{name}: {member.count} documents")
        if include_files and site.upload_folder is not None:
            count, size = _add_files(writer, site.upload_folder, manifest)
            say(f"files: {count} ({size} bytes) from {site.upload_folder}")
        data = manifest.to_json()
        writer.add(MANIFEST_NAME, io.BytesIO(data), len(data), time.time())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    say(f"backup written to {out} in {time.monotonic() - started:.1f} s")
    return manifest


def _dump_collection(writer: TarWriter, coll, member: str, spool_dir: Path | None) -> Member:
    indexes = json_util.dumps({name: info for name, info in coll.index_information().items() if name != "_id_"})
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=spool_dir) as spool:
        hashing = _Hashing(spool)
        count = bson_stream.dump(coll, hashing)
        size = spool.tell()
        spool.seek(0)
        writer.add(member, spool, size, time.time())
    return Member(sha256=hashing.sha.hexdigest(), bytes=size, count=count, indexes=indexes)


def _add_files(writer: TarWriter, root: Path, manifest: Manifest) -> tuple[int, int]:
    """Regular files under ``root`` (no links, no uploads still in progress). The file server makes an
    upload visible by renaming it into place, so an open file never changes under the reader."""
    if not root.is_dir():
        raise FileNotFoundError(f"upload folder {root} does not exist (set CLEARML_UPLOAD_FOLDER, --files-dir, "
                                f"or pass --no-files)")
    count = total = 0
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root and STAGING in dirs:
            dirs.remove(STAGING)
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_symlink():
                continue
            try:
                handle = open(path, "rb")
            except FileNotFoundError:
                continue  # deleted since the folder was listed
            with handle:
                stat = os.fstat(handle.fileno())
                rel = path.relative_to(root).as_posix()
                reader = writer.add(FILES_PREFIX + rel, handle, stat.st_size, stat.st_mtime)
            manifest.members[FILES_PREFIX + rel] = Member(sha256=reader.sha.hexdigest(), bytes=reader.bytes)
            count, total = count + 1, total + reader.bytes
    return count, total
