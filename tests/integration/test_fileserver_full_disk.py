"""A full disk under the file server: an upload that runs out of space answers 507 Insufficient Storage and
leaves no file behind (neither the object nor a staged part); once space is freed, uploads succeed again.

The storage folder is a 1 MiB tmpfs (needs root, or CAP_SYS_ADMIN: skipped where mounting is refused)."""
from __future__ import annotations

import errno
import io
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from support.client import ApiClient
from support.files import FilesClient
from support.suite import start_fileserver
from trackside.fileserver.storage import Storage
from trackside.fileserver.uploads import receive

DISK = 1024 * 1024


@contextmanager
def small_disk(folder: Path, size: int):
    """``folder`` as a tmpfs of ``size`` bytes for the block; the test is skipped where mounting is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def tiny(api_server, tmp_path_factory):
    """A file server whose storage folder is a 1 MiB tmpfs; and a client with the API's token."""
    work = tmp_path_factory.mktemp("fileserver-full")
    with small_disk(work / "files", DISK):
        server = start_fileserver(api_server.config_dir, work)
        try:
            token = ApiClient(api_server.url, api_server.key, api_server.secret).login().token
            yield server, FilesClient(server.url, token)
        finally:
            server.process.stop()


def _stored(root: Path) -> list[str]:
    """Every file in the storage folder, staged parts included."""
    return sorted(str(Path(d, n).relative_to(root)) for d, _, names in os.walk(root) for n in names)


def _upload(files: FilesClient, name: str, size: int, stream: bool) -> requests.Response | None:
    """The answer; None where the server closed the connection before the client had sent everything (it
    answered without reading the rest of a body it cannot store)."""
    data = os.urandom(size)
    try:
        if stream:
            return files.upload_stream(name, (data[i:i + 65536] for i in range(0, size, 65536)), timeout=60)
        return files.upload(name, data, timeout=60)
    except requests.ConnectionError:
        return None


@pytest.mark.parametrize("stream", [False, True], ids=["sized", "chunked"])
def test_an_upload_larger_than_the_free_space_is_refused_with_507_and_leaves_nothing(tiny, stream):
    server, files = tiny
    answer = _upload(files, "too/big.bin", 2 * DISK, stream)
    if answer is not None:
        assert answer.status_code == 507, answer.text
        assert "storage folder is full" in answer.text
    assert _stored(server.root) == []
    assert files.get("too/big.bin").status_code == 404


def test_uploads_succeed_again_once_space_is_freed(tiny):
    server, files = tiny
    first = _upload(files, "fill/first.bin", 600 * 1024, stream=False)
    assert first.status_code == 200, first.text
    second = _upload(files, "fill/second.bin", 600 * 1024, stream=False)  # does not fit beside the first
    assert second is None or second.status_code == 507
    assert _stored(server.root) == ["fill/first.bin"]
    assert requests.get(f"{server.url}/", timeout=10).text == "OK"  # the server itself is fine

    assert files.delete("fill/first.bin").status_code == 200
    again = _upload(files, "fill/second.bin", 600 * 1024, stream=False)
    assert again.status_code == 200, again.text
    assert _stored(server.root) == ["fill/second.bin"]
    assert len(files.get("fill/second.bin").content) == 600 * 1024
    files.delete("fill/second.bin")


class _Trickle(io.RawIOBase):
    """A request body arriving a little at a time: the upload is written in small, buffered pieces, so the
    disk fills up with bytes still in the buffer (the staged part was left behind when they were)."""

    def __init__(self, body: bytes):
        self._body = io.BytesIO(body)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._body.read(1000)


def test_a_part_written_in_small_pieces_onto_a_full_disk_is_removed(tmp_path):
    with small_disk(tmp_path / "disk", 64 * 1024) as disk:
        storage = Storage(disk)
        storage.prepare()
        boundary = b"b0undary"
        body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="/a/b.bin"; filename="/a/b.bin"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * (200 * 1024)
                + b"\r\n--" + boundary + b"--\r\n")
        with pytest.raises(OSError) as failed:
            receive(_Trickle(body), boundary, storage)
        assert failed.value.errno == errno.ENOSPC
        assert _stored(disk) == []
