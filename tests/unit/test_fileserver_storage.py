"""The file server's path rules and staged uploads, on a temporary folder."""
from __future__ import annotations

import os
import time

import pytest

from trackside.fileserver.storage import STAGING, BadPath, Storage, normalize


@pytest.mark.parametrize("raw, name", [
    ("/proj/task.1/artifacts/a.json", "proj/task.1/artifacts/a.json"),  # the SDK's leading "/"
    ("proj/a.json", "proj/a.json"),
    ("proj//./a.json", "proj/a.json"),
    ("a/..b/c..", "a/..b/c.."),  # dots inside names are fine
    ("my project/täsk/x y.csv", "my project/täsk/x y.csv"),
])
def test_normalize(raw, name):
    assert normalize(raw) == name


@pytest.mark.parametrize("raw", [
    "", "/", "//", ".", "..", "/..", "a/../b", "../a", "a/..", "//etc/passwd", "///etc/passwd",
    "a\x00b", "a\nb", "a\x7fb", f"{STAGING}/x", f"/{STAGING}",
])
def test_normalize_refuses(raw):
    with pytest.raises(BadPath):
        normalize(raw)


@pytest.fixture
def storage(tmp_path) -> Storage:
    store = Storage(tmp_path / "root")
    store.prepare()
    return store


def test_locate_refuses_links_that_leave_the_root(storage, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (storage.root / "out").symlink_to(outside, target_is_directory=True)
    (storage.root / "up").symlink_to(storage.root, target_is_directory=True)
    (storage.root / "stage").symlink_to(storage.staging, target_is_directory=True)
    for raw in ("out", "out/x", "up", "stage/x.part"):
        with pytest.raises(BadPath):
            storage.locate(raw)
    assert storage.locate("up/a/b").path == storage.root / "a" / "b"


def test_staged_files_appear_only_when_committed(storage):
    staged = storage.stage()
    staged.write(b"abc")
    target = storage.locate("a/b/c.bin")
    assert not target.path.exists() and list(storage.staging.iterdir()) == [staged.path]
    storage.commit([(staged, target)])
    staged.discard()
    assert target.path.read_bytes() == b"abc" and not any(storage.staging.iterdir())


def test_discarded_staged_files_leave_nothing(storage):
    staged = storage.stage()
    staged.write(b"abc")
    staged.discard()
    assert not any(storage.staging.iterdir())


def test_prepare_sweeps_only_stale_staged_files(storage):
    stale, fresh = storage.staging / "old.part", storage.staging / "new.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    long_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (long_ago, long_ago))
    storage.prepare()
    assert sorted(storage.staging.iterdir()) == [fresh]
