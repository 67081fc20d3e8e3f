"""A 1 GB upload streams through the file server: its memory stays flat (the body goes straight to disk),
and the stored file is whole. The client streams too (a generator over a sparse file), so neither side holds
the body."""
from __future__ import annotations

import hashlib
import threading
import time

import psutil

from support.client import ApiClient
from support.files import FilesClient
from support.names import unique

SIZE = 1024 ** 3
READ = 1024 * 1024
# Peak growth of the resident memory of gunicorn's master and workers together while the upload runs.
MAX_GROWTH = 100 * 1024 * 1024


class PeakRss:
    """Samples the summed RSS of a process tree until stopped."""

    def __init__(self, pid: int, every: float = 0.02):
        master = psutil.Process(pid)
        self._procs = [master, *master.children(recursive=True)]
        self.baseline = self.peak = self._sample()
        self._every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        return sum(proc.memory_info().rss for proc in self._procs)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, self._sample())

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def test_1gb_upload_keeps_server_memory_flat(fileserver, api_server, tmp_path):
    source = tmp_path / "sparse.bin"
    with open(source, "wb") as out:
        out.truncate(SIZE)
    sent = hashlib.sha256()

    def chunks():
        with open(source, "rb") as stream:
            while chunk := stream.read(READ):
                sent.update(chunk)
                yield chunk

    client = FilesClient(fileserver.url, ApiClient(api_server.url, api_server.key, api_server.secret).login().token)
    name = f"{unique('large')}/model.bin"
    started = time.monotonic()
    with PeakRss(fileserver.process.pid) as rss:
        reply = client.upload_stream(name, chunks())
    seconds = time.monotonic() - started
    stored = fileserver.root / name
    try:
        assert reply.status_code == 200 and reply.json() == [name]
        print(f"\n1 GB upload: {seconds:.1f} s, {SIZE / seconds / 1e6:.0f} MB/s, "
              f"server RSS {rss.baseline / 1e6:.0f} MB, peak growth {rss.growth / 1e6:.1f} MB")
        assert rss.growth < MAX_GROWTH, f"server memory grew {rss.growth / 1e6:.0f} MB during a 1 GB upload"
        assert stored.stat().st_size == SIZE
        got = hashlib.sha256()
        with open(stored, "rb") as stream:
            while chunk := stream.read(8 * READ):
                got.update(chunk)
        assert got.hexdigest() == sent.hexdigest()
    finally:
        stored.unlink(missing_ok=True)
