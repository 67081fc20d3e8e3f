"""A private Docker Engine for tests, and the local image docker tests run.

dockerd runs without touching the host's network (``--bridge=none --iptables=false --ip6tables=false``),
with its own data and exec roots and socket, as a process the suite owns; every test container uses host
networking. No registry is reachable, so the test image is imported from a debootstrap rootfs whose tarball
is cached under ``.trackside/images`` (about a minute the first time, seconds after).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker

from trackside.shared.embedded.process import ServerProcess

REPO = Path(__file__).resolve().parents[2]
IMAGE_CACHE = REPO / ".trackside" / "images"
TEST_IMAGE = "trackside-test/python:bookworm"
PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")
# Left out of the image (a third of the rootfs): downloaded packages, apt's lists, docs and translations.
# Importing it is the bulk of a session's docker start-up.
TRIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
           "usr/share/locale")
# Labels every container a test starts carries, so the engine can remove leftovers at the end.
TEST_LABEL = "trackside.test"


class DockerUnavailable(RuntimeError):
    """dockerd or debootstrap is not installed here."""


class DockerEngine:
    def __init__(self, root: Path):
        for tool in ("dockerd", "debootstrap"):
            if shutil.which(tool) is None:
                raise DockerUnavailable(f"{tool} is not installed (apt-get install docker.io debootstrap)")
        # The socket path must stay short (unix socket paths are limited to 108 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="tsd-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.base_url = f"unix://{self.socket}"
        self._client: docker.DockerClient | None = None
        self.process = ServerProcess(
            "dockerd",
            ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false",
             "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"), "-H", self.base_url],
            ready=self._answers, log_path=root / "dockerd.log",
        )

    def start(self) -> "DockerEngine":
        self.process.start(timeout=60)
        return self

    def client(self) -> docker.DockerClient:
        """One client for the session (it holds a connection pool)."""
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.base_url, timeout=120)
        return self._client

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.base_url}

    def stop(self) -> None:
        try:
            for container in self.client().containers.list(all=True):
                container.remove(force=True)
            self.client().close()
        except docker.errors.DockerException:
            pass
        self.process.stop(timeout=30)
        _unmount_under(self.root)   # dockerd leaves its network namespace (and, if killed, overlays) mounted
        shutil.rmtree(self.root, ignore_errors=True)

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(self.client().ping())
        except docker.errors.DockerException:
            return False

    # -- the test image --------------------------------------------------------------------------------------
    def ensure_test_image(self) -> str:
        client = self.client()
        try:
            client.images.get(TEST_IMAGE)
            return TEST_IMAGE
        except docker.errors.ImageNotFound:
            pass
        repository, tag = TEST_IMAGE.split(":")
        client.api.import_image_from_file(str(rootfs_tarball()), repository=repository, tag=tag)
        return TEST_IMAGE


def _unmount_under(root: Path) -> None:
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def rootfs_tarball() -> Path:
    """A bookworm minbase rootfs with ``PACKAGES``, built once and kept (keyed by the package list and what is left out)."""
    key = hashlib.sha256(" ".join(PACKAGES + TRIMMED).encode()).hexdigest()[:12]
    tarball = IMAGE_CACHE / f"bookworm-{key}.tar"
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(IMAGE_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one build at a time, also across test processes
        if tarball.exists():
            return tarball
        with tempfile.TemporaryDirectory(prefix="rootfs-", dir=IMAGE_CACHE) as work:
            rootfs = Path(work) / "rootfs"
            subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm",
                            str(rootfs)], check=True, capture_output=True, timeout=900)
            partial = tarball.with_suffix(".partial")
            excluded = [f"--exclude=./{folder}/*" for folder in TRIMMED]
            subprocess.run(["tar", "-C", str(rootfs), *excluded, "-cf", str(partial), "."], check=True, timeout=300)
            os.replace(partial, tarball)
    return tarball
