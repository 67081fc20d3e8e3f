"""The venv cache: a built venv is kept under a key made of everything that decides its content, and a
later task with the same key starts from a copy of it in well under a second instead of a pip install.

Layout under ``agent.venvs_cache.path``::

    <key>/venv/          the venv, as built (hardlinked into restored venvs, see tree.py)
    <key>/meta.json      where it was built, its pip freeze; its mtime is the entry's last use
    .lock                shared for restores, exclusive for adding and evicting entries
    .build-<xx>.lock     held while one process builds a key (striped by the key's first two hex digits), so
                         a second builder of the same key waits for it and then hits

An entry appears by one rename of a complete folder, so no reader ever sees half an entry. Entries beyond
``max_entries`` go, least recently used first, and old ones make room when free space falls below
``free_space_threshold_gb``. An empty path or ``max_entries`` 0 disables the cache.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from trackside.agent.config import AgentConfig
from trackside.agent.execute.environment.tree import link_copy, relocate, remove_tree, tree_digest

FORMAT = 1
GIB = 1 << 30
LEFTOVER_AGE_S = 6 * 3600   # a staging folder this old belongs to no live build


@dataclass(frozen=True)
class CacheHit:
    frozen: list[str]
    seconds: float


class VenvCache:
    def __init__(self, root: Path, max_entries: int, free_space_gb: float, log: Callable[[str], None]):
        self.root = root
        self.max_entries = max_entries
        self.free_space_gb = free_space_gb
        self.log = log

    @classmethod
    def from_config(cls, config: AgentConfig, log) -> "VenvCache | None":
        path = config.get("agent.venvs_cache.path")
        max_entries = config.get("agent.venvs_cache.max_entries") or 0
        if not path or max_entries <= 0:
            return None
        return cls(Path(path), max_entries, float(config.get("agent.venvs_cache.free_space_threshold_gb") or 0), log)

    @staticmethod
    def key(material: dict) -> str:
        blob = json.dumps({"format": FORMAT, **material}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def entries(self) -> list[Path]:
        """Complete entries, least recently used first."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if not p.name.startswith(".") and (p / "meta.json").is_file()]
        return sorted(found, key=lambda p: (p / "meta.json").stat().st_mtime)

    @contextlib.contextmanager
    def building(self, key: str) -> Iterator[None]:
        """Held while a key is looked up and, on a miss, built: a second builder of the key waits."""
        with self._lock(f".build-{key[:2]}.lock", fcntl.LOCK_EX):
            yield

    def restore(self, key: str, dest: Path) -> CacheHit | None:
        started = time.monotonic()
        with self._lock(".lock", fcntl.LOCK_SH):
            entry = self.root / key
            try:
                meta = json.loads((entry / "meta.json").read_text())
            except (OSError, ValueError):
                return None
            remove_tree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest = link_copy(entry / "venv", dest)
            if digest == meta.get("digest"):
                os.utime(entry / "meta.json")
        if digest != meta.get("digest"):
            self.log(f"venv cache: entry {key[:12]} changed since it was stored (a file edited in place?), "
                     "dropping it and building again")
            remove_tree(dest)
            self._drop(key)
            return None
        relocate(dest, meta["location"], str(dest))
        return CacheHit(frozen=list(meta.get("frozen") or []), seconds=time.monotonic() - started)

    def store(self, key: str, venv: Path, frozen: list[str], material: dict) -> bool:
        """Add the venv built at ``venv``; False when it was not kept (no space)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self._make_room():
            self.log(f"venv cache: less than {self.free_space_gb} GiB free in {self.root}, venv not cached")
            return False
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        try:
            link_copy(venv, staging / "venv")
            meta = {"format": FORMAT, "location": str(venv), "frozen": frozen, "material": material,
                    "created": time.time(), "digest": tree_digest(staging / "venv")}
            (staging / "meta.json").write_text(json.dumps(meta, indent=1))
            with self._lock(".lock", fcntl.LOCK_EX):
                if (self.root / key / "meta.json").is_file():
                    return True   # another agent stored the same key meanwhile
                remove_tree(self.root / key)   # a leftover without meta.json
                staging.rename(self.root / key)
                self._evict_beyond(self.max_entries, keep=key)
            return True
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _drop(self, key: str) -> None:
        with self._lock(".lock", fcntl.LOCK_EX):
            remove_tree(self.root / key)

    def _make_room(self) -> bool:
        if self.free_space_gb <= 0:
            return True
        with self._lock(".lock", fcntl.LOCK_EX):
            for entry in self.entries():
                if self._free_gb() >= self.free_space_gb:
                    break
                self.log(f"venv cache: removing {entry.name} to free space")
                remove_tree(entry)
        return self._free_gb() >= self.free_space_gb

    def _evict_beyond(self, limit: int, keep: str) -> None:
        """Called under the exclusive lock. Also clears what a killed agent left (old staging folders)."""
        for leftover in self.root.glob(".*-*"):
            if leftover.is_dir() and time.time() - leftover.stat().st_mtime > LEFTOVER_AGE_S:
                shutil.rmtree(leftover, ignore_errors=True)
        entries = [e for e in self.entries() if e.name != keep]
        for entry in entries[:max(0, len(entries) + 1 - limit)]:
            self.log(f"venv cache: evicting {entry.name} (least recently used; max_entries {limit})")
            remove_tree(entry)

    def _free_gb(self) -> float:
        return shutil.disk_usage(self.root).free / GIB

    @contextlib.contextmanager
    def _lock(self, name: str, mode: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
