"""``trackside-admin restore``: prove the whole archive intact, check the target, then write.

Nothing is written until every member's size, SHA-256 and document count match the manifest and the
manifest names exactly the members present. A target already holding experiment data (tasks, projects,
models or events in its backend database, or any file in its upload folder) is refused unless ``force``:
a stack that has only started (its default queue, configured users, migration records) is not.
Each collection the archive holds is emptied and refilled with the archive's documents and indexes;
collections it does not hold are left alone.
"""
from __future__ import annotations

import os
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bson import json_util

from trackside.shared.admin import bson_stream
from trackside.shared.admin.backup import STAGING
from trackside.shared.admin.manifest import MANIFEST_NAME, ArchiveError, Manifest, Member
from trackside.shared.admin.settings import DATABASES, Installation
from trackside.shared.admin.tar_io import CHUNK, HashingReader, members
from trackside.shared.storage.mongo import connect

EXPERIMENT_DATA = ("tasks", "projects", "models", "events")


class TargetInUse(Exception):
    """The target holds data and ``--force`` was not given."""


@dataclass
class Restored:
    documents: int = 0
    collections: int = 0
    files: int = 0
    migrations: list | None = None
    events_store: str = "mongo"  # the archive's: "elastic" means its events need the cluster's snapshot


def verify(path: Path) -> Manifest:
    """The archive's manifest once every member is proven to match it (nothing is written)."""
    seen: dict[str, Member] = {}
    manifest_data = None
    try:
        for info, fileobj in members(path):
            if info.name == MANIFEST_NAME:
                manifest_data = fileobj.read()
                continue
            if manifest_data is not None:
                raise ArchiveError(f"member {info.name!r} after {MANIFEST_NAME}")
            reader = HashingReader(fileobj)
            count = sum(1 for _ in bson_stream.documents(reader)) if info.name.endswith(".bson") \
                and info.name.startswith("mongo/") else None
            while reader.read(CHUNK):
                pass
            seen[info.name] = Member(sha256=reader.sha.hexdigest(), bytes=reader.bytes, count=count)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"{path}: damaged or truncated archive ({exc})") from None
    if manifest_data is None:
        raise ArchiveError(f"{path}: no {MANIFEST_NAME} (truncated, or not a Trackside backup)")
    manifest = Manifest.from_json(manifest_data)
    missing, extra = set(manifest.members) - set(seen), set(seen) - set(manifest.members)
    if missing or extra:
        raise ArchiveError(f"members do not match the manifest: missing {sorted(missing)[:5]}, "
                           f"unlisted {sorted(extra)[:5]}")
    for name, expected in manifest.members.items():
        got = seen[name]
        if (got.sha256, got.bytes) != (expected.sha256, expected.bytes):
            raise ArchiveError(f"{name}: checksum mismatch ({got.bytes} bytes, sha256 {got.sha256[:12]}...; "
                               f"the manifest says {expected.bytes} bytes, {expected.sha256[:12]}...)")
        if expected.count is not None and got.count != expected.count:
            raise ArchiveError(f"{name}: {got.count} documents, the manifest says {expected.count}")
    _check_migrations(manifest)
    return manifest


def _check_migrations(manifest: Manifest) -> None:
    """An archive from a newer Trackside has migrations this one does not know: its layout is unknown."""
    steps = _migration_steps()
    if steps is None:
        return
    unknown = sorted(set(manifest.migrations) - {step.id for step in steps})
    if unknown:
        raise ArchiveError(f"written by a newer Trackside ({manifest.trackside_version}; unknown migrations "
                           f"{', '.join(unknown)}): upgrade this installation first")


def _migration_steps():
    try:
        from trackside.api.migrations import STEPS  # the API package: present in the server image
    except ImportError:
        return None
    return STEPS


def check_target(site: Installation, manifest: Manifest, include_files: bool) -> list[str]:
    """What the target already holds that a restore would replace (empty: nothing worth keeping)."""
    held = []
    backend = connect(site.mongo["backend"])
    for name in EXPERIMENT_DATA:
        if backend[name].find_one({}, {"_id": 1}) is not None:
            held.append(f"backend.{name}")
    if include_files and manifest.files() and site.upload_folder and site.upload_folder.is_dir():
        if any(_files_under(site.upload_folder)):
            held.append(f"files in {site.upload_folder}")
    return held


def _files_under(root: Path):
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root and STAGING in dirs:
            dirs.remove(STAGING)
        for name in files:
            yield Path(folder, name)


def restore(site: Installation, path: Path, force: bool = False, include_files: bool = True,
            say: Callable[[str], None] = lambda _: None) -> Restored:
    manifest = verify(path)
    say(f"archive verified: {len(manifest.members)} members, written {manifest.created} "
        f"by Trackside {manifest.trackside_version}")
    if manifest.events_store != site.events_store:  # restorable, but the events will not be where the API looks
        say(f"warning: the archive's events store is {manifest.events_store!r}, this installation's is "
            f"{site.events_store!r} (services.events.store): events will not show until they match")
    held = check_target(site, manifest, include_files)
    if held and not force:
        raise TargetInUse(f"the target already holds data ({', '.join(held)}); pass --force to replace it")
    if include_files and manifest.files() and site.upload_folder is None:
        raise TargetInUse("no upload folder configured (CLEARML_UPLOAD_FOLDER or --files-dir); or pass --no-files")
    result = Restored(events_store=manifest.events_store)
    dbs = {role: connect(site.mongo[role]) for role in DATABASES}
    wanted = {name for role in DATABASES for name in manifest.collections(role).values()}
    wanted |= set(manifest.files().values()) if include_files else set()
    for info, fileobj in members(path):
        if info.name not in wanted:
            continue
        role, _, rest = info.name.removeprefix("mongo/").partition("/")
        if info.name.startswith("mongo/") and role in dbs:
            coll = dbs[role][rest[: -len(".bson")]]
            coll.delete_many({})
            _create_indexes(coll, manifest.members[info.name].indexes, say)
            result.documents += bson_stream.load(coll, bson_stream.documents(fileobj))
            result.collections += 1
        else:
            _write_file(site.upload_folder, info.name.removeprefix("files/"), fileobj, info.mtime)
            result.files += 1
    say(f"restored {result.documents} documents in {result.collections} collections and {result.files} files")
    steps = _migration_steps()
    if steps is not None:  # an archive from an older version comes up to this version's layout now
        from trackside.api.migrations import apply_pending
        result.migrations = apply_pending(dbs["backend"], steps)
        if result.migrations:
            say(f"migrations applied: {', '.join(result.migrations)}")
    return result


def _create_indexes(coll, indexes: str | None, say) -> None:
    for name, info in (json_util.loads(indexes) if indexes else {}).items():
        options = {k: v for k, v in info.items() if k not in ("key", "v", "ns")}
        try:
            coll.create_index(list(info["key"]), name=name, **options)
        except Exception as exc:  # an index of another shape by that name: the data still restores
            say(f"{coll.database.name}.{coll.name}: index {name} not recreated ({exc})")


def _write_file(root: Path, rel: str, fileobj, mtime: float) -> None:
    """Written beside its place and renamed in, so the file server never serves half a file."""
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := fileobj.read(CHUNK):
                out.write(chunk)
        os.chmod(temp, 0o644)
        os.utime(temp, (mtime, mtime))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
