"""The vcs cache: one bare mirror per repository, updated with ``git fetch``, cloned from locally.

A mirror is keyed by a hash of the repository URL without credentials, so tasks that name the same
repository with different tokens share it and no token appears in a folder name. Each mirror has its own
lock file: concurrent agents (or services-mode children) on one cache serialise fetch and local clone, and
a new mirror appears by rename, whole. A task that pins a commit the mirror already holds costs no fetch.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

from trackside.agent.execute.vcs.git import GitError, GitSession
from trackside.agent.execute.vcs.urls import Remote, repository_folder_name


class MirrorCache:
    def __init__(self, root: Path, fetch_args: list[str], clone_on_pull_fail: bool, log: Callable[[str], None]):
        self.root = root
        self.fetch_args = fetch_args
        self.clone_on_pull_fail = clone_on_pull_fail
        self.log = log

    def path_for(self, remote: Remote) -> Path:
        digest = hashlib.sha256(remote.url.encode()).hexdigest()[:20]
        return self.root / f"{repository_folder_name(remote.url)}.{digest}"

    @contextlib.contextmanager
    def locked(self, remote: Remote) -> Iterator[Path]:
        """The mirror's path, held exclusively (fetches and clones from it happen inside)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(remote)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield path
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, git: GitSession, path: Path, commit: str | None) -> None:
        """Bring the mirror at ``path`` (held by ``locked``) up to date with the remote."""
        if (path / "HEAD").exists():
            if commit and git.succeeds("cat-file", "-e", f"{commit}^{{commit}}", cwd=path):
                self.log(f"vcs cache: commit {commit[:12]} already in the cache, no fetch needed")
                return
            try:
                self.log(f"vcs cache: fetching {git.remote.url}")
                git.run("fetch", "--prune", *self.fetch_args, cwd=path)
                return
            except GitError as exc:
                if not self.clone_on_pull_fail:
                    raise
                self.log(f"vcs cache: fetch failed, cloning again ({exc})")
        else:
            self.log(f"vcs cache: cloning {git.remote.url}")
        self._clone(git, path)

    def _clone(self, git: GitSession, path: Path) -> None:
        """A fresh mirror replaces the old one only once it is complete."""
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        stale = path.with_name(f".{path.name}.stale-{os.getpid()}")
        # Leftovers of a killed agent: nobody else works on this mirror while the lock is held.
        for leftover in path.parent.glob(f".{path.name}.*-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        try:
            git.run("clone", "--mirror", "--quiet", git.remote.url, str(partial))
            if path.exists():
                path.rename(stale)
            partial.rename(path)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(stale, ignore_errors=True)
