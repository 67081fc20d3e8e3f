"""trackside-admin's archive code without a database: the manifest, BSON streams, member names, the
verification a restore runs before writing anything, and init-config."""
from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import time
from datetime import datetime, timezone

import bson
import pytest

from trackside.shared.admin import bson_stream, cli
from trackside.shared.admin.backup import collection_order
from trackside.shared.admin.manifest import ArchiveError, Manifest, Member, MANIFEST_NAME
from trackside.shared.admin.restore import verify
from trackside.shared.admin.tar_io import HashingReader, TarWriter, safe_name

DOCS = [bson.encode({"_id": f"t{i}", "n": i, "when": datetime(2026, 1, 1, i, tzinfo=timezone.utc)}) for i in range(3)]


def _write(path, members: dict[str, bytes], manifest: Manifest | None = None, extra_after: bool = False):
    writer = TarWriter(path)
    manifest = manifest or Manifest(created="2026-01-01T00:00:00+00:00", trackside_version="0.1.0",
                                    events_store="mongo", migrations=["0001_escape_param_keys"])
    for name, data in members.items():
        reader = writer.add(name, io.BytesIO(data), len(data), time.time())
        if name not in manifest.members:  # listed as written unless the test lists it otherwise
            count = len(list(bson_stream.documents(io.BytesIO(data)))) if name.endswith(".bson") else None
            manifest.members[name] = Member(reader.sha.hexdigest(), reader.bytes, count)
    body = manifest.to_json()
    writer.add(MANIFEST_NAME, io.BytesIO(body), len(body), time.time())
    if extra_after:
        writer.add("files/late", io.BytesIO(b"x"), 1, time.time())
    writer.commit()
    return manifest


SAMPLE = {"mongo/backend/tasks.bson": b"".join(DOCS), "files/a/b.bin": os.urandom(5000)}


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
def test_a_written_archive_verifies_and_lists_its_parts(tmp_path, suffix):
    path = tmp_path / f"site{suffix}"
    _write(path, SAMPLE)
    assert not path.with_name(path.name + ".partial").exists()
    manifest = verify(path)
    assert manifest.collections("backend") == {"tasks": "mongo/backend/tasks.bson"}
    assert manifest.files() == {"a/b.bin": "files/a/b.bin"}
    assert manifest.members["mongo/backend/tasks.bson"].count == 3


def _tamper(path, name, data):
    """Rewrite one member's content, keeping the manifest as it was."""
    out = path.with_name("tampered.tar")
    with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
        for info in src:
            content = src.extractfile(info).read()
            if info.name == name:
                content, info.size = data, len(data)
            dst.addfile(info, io.BytesIO(content))
    return out


@pytest.mark.parametrize("case, message", [
    ("checksum", "checksum mismatch"),
    ("count", "documents"),
    ("missing member", "missing"),
    ("unlisted member", "unlisted"),
    ("after manifest", "after manifest.json"),
    ("newer version", "newer Trackside"),
    ("format version", "format version"),
    ("no manifest", "no manifest.json"),
    ("truncated bson", "truncated BSON"),
])
def test_verify_refuses(tmp_path, case, message):
    path = tmp_path / "site.tar"
    base = Manifest(created="x", trackside_version="9.9", events_store="mongo", migrations=[])
    if case == "checksum":
        _write(path, SAMPLE)
        path = _tamper(path, "files/a/b.bin", b"other content")
    elif case == "count":
        data = SAMPLE["mongo/backend/tasks.bson"]
        sha = HashingReader(io.BytesIO(data))
        sha.read()
        base.members["mongo/backend/tasks.bson"] = Member(sha.sha.hexdigest(), len(data), 7)
        _write(path, SAMPLE, base)
    elif case == "missing member":
        base.members["files/gone"] = Member("0" * 64, 1)
        _write(path, SAMPLE, base)
    elif case == "unlisted member":
        _write(path, SAMPLE)
        with tarfile.open(path) as src, tarfile.open(tmp_path / "more.tar", "w") as dst:
            dst.addfile(tarfile.TarInfo("files/stowaway"), io.BytesIO(b""))
            for info in src:
                dst.addfile(info, src.extractfile(info))
        path = tmp_path / "more.tar"
    elif case == "after manifest":
        _write(path, SAMPLE, extra_after=True)
    elif case == "newer version":
        base.migrations = ["0001_escape_param_keys", "9999_from_the_future"]
        _write(path, SAMPLE, base)
    elif case == "format version":
        _write(path, SAMPLE)
        manifest = json.loads(tarfile.open(path).extractfile(MANIFEST_NAME).read())
        manifest["format_version"] = 99
        path = _tamper(path, MANIFEST_NAME, json.dumps(manifest).encode())
    elif case == "no manifest":
        with tarfile.open(path, "w") as tar:
            tar.addfile(tarfile.TarInfo("files/x"), io.BytesIO(b""))
    elif case == "truncated bson":  # a damaged dump listed as it is (its size and checksum match)
        data = SAMPLE["mongo/backend/tasks.bson"][:-3]
        reader = HashingReader(io.BytesIO(data))
        reader.read()
        base.members["mongo/backend/tasks.bson"] = Member(reader.sha.hexdigest(), len(data), 3)
        _write(path, {"mongo/backend/tasks.bson": data}, base)
    with pytest.raises(ArchiveError, match=message):
        verify(path)


@pytest.mark.parametrize("member_type", ["traversal", "absolute", "symlink"])
def test_verify_refuses_members_that_could_escape_the_target(tmp_path, member_type):
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        if member_type == "symlink":
            info = tarfile.TarInfo("files/link")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            name = "files/../../x" if member_type == "traversal" else "/files/x"
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="unexpected member"):
        verify(path)


def test_a_foreign_manifest_is_refused():
    with pytest.raises(ArchiveError, match="not a Trackside backup"):
        Manifest.from_json(json.dumps({"format": "other"}).encode())
    with pytest.raises(ArchiveError, match="not valid JSON"):
        Manifest.from_json(b"{")


def test_member_names():
    assert safe_name("files/a/b.txt") and safe_name("mongo/backend/tasks.bson")
    for bad in ("", "/abs", "a/../b", "a//b", "./a", "a\\b", ".."):
        assert not safe_name(bad), bad


def test_bson_stream_reads_back_what_was_written_and_refuses_damage():
    stream = b"".join(DOCS)
    assert list(bson_stream.documents(io.BytesIO(stream))) == DOCS
    with pytest.raises(ArchiveError, match="malformed"):
        list(bson_stream.documents(io.BytesIO(b"\xff\xff\xff\x7f" + stream)))
    with pytest.raises(ArchiveError):
        list(bson_stream.documents(io.BytesIO(stream[:2])))


def test_collections_that_reference_others_are_read_last():
    order = collection_order(["events", "tasks", "system.views", "auth", "worker_stats", "models"])
    assert order == ["auth", "models", "tasks", "events", "worker_stats"]


def test_init_config_writes_once_and_shows_the_secret_only_then(tmp_path, capsys):
    folder = tmp_path / "config"
    assert cli.main(["init-config", "--config-dir", str(folder)]) == 0
    first = capsys.readouterr()
    secure = (folder / "secure.conf").read_text()
    assert stat.S_IMODE((folder / "secure.conf").stat().st_mode) == 0o600
    key = first.out.split("CLEARML_API_ACCESS_KEY=")[1].split()[0]
    secret = first.out.split("CLEARML_API_SECRET_KEY=")[1].split()[0]
    assert key in secure and secret in secure and "token_secret" in secure
    assert cli.main(["init-config", "--config-dir", str(folder)]) == 0
    again = capsys.readouterr()
    assert again.out == "" and secret not in again.err and "kept" in again.err
    assert (folder / "secure.conf").read_text() == secure


def test_init_config_defaults_to_the_first_config_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLEARML_CONFIG_DIR", os.pathsep.join([str(tmp_path / "first"), str(tmp_path / "second")]))
    assert cli.main(["init-config"]) == 0
    assert (tmp_path / "first" / "secure.conf").exists() and not (tmp_path / "second").exists()
