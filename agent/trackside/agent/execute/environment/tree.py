"""Copy a venv quickly and move it: hardlinks for the installed packages, real copies for what gets
rewritten (``bin/`` scripts, ``pyvenv.cfg``), and absolute paths fixed when the location differs.

Hardlinked files are shared between the cache and the venvs restored from it: a 5 GB torch venv restores in
about a second instead of a copy's tens. pip and Python's bytecode writer never edit a file in place (they
write a new file and rename it), so installs and uninstalls inside a task leave the cache alone. Something
that does edit in place (a person patching a library with an editor) would change the shared file, so
``link_copy`` also returns a digest of the source's (path, size, mtime) and the cache compares it with the
one recorded at store time: a changed entry is dropped and rebuilt instead of being handed out.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

COPIED_DIRS = {"bin", "Scripts"}      # scripts carry the venv's absolute path
COPIED_FILES = {"pyvenv.cfg"}
MAX_REWRITE_BYTES = 1 << 20


def link_copy(source: Path, dest: Path) -> str:
    """``dest`` (absent) becomes a copy of ``source``: hardlinks where possible, copies across devices.
    Returns ``tree_digest(source)``, computed on the way."""
    link_ok = True
    digest = hashlib.blake2b(digest_size=16)
    for folder, dirs, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        target = dest / relative
        target.mkdir(parents=True, exist_ok=True)
        must_copy = bool(relative.parts) and relative.parts[0] in COPIED_DIRS
        dirs.sort()
        for name in dirs[:]:
            if os.path.islink(os.path.join(folder, name)):   # os.walk does not descend into links
                os.symlink(os.readlink(os.path.join(folder, name)), target / name)
                dirs.remove(name)
        for name in sorted(files):
            src, dst = os.path.join(folder, name), target / name
            info = os.lstat(src)
            _add(digest, relative / name, info)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif must_copy or (not relative.parts and name in COPIED_FILES) or not link_ok:
                shutil.copy2(src, dst)
            else:
                try:
                    os.link(src, dst)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                        raise
                    link_ok = False
                    shutil.copy2(src, dst)
        shutil.copystat(folder, target)
    return digest.hexdigest()


def tree_digest(root: Path) -> str:
    """A digest of every file's relative path, size and modification time (no content read)."""
    digest = hashlib.blake2b(digest_size=16)
    for folder, dirs, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        dirs.sort()
        for name in sorted(files):
            _add(digest, relative / name, os.lstat(os.path.join(folder, name)))
    return digest.hexdigest()


def _add(digest, relative: Path, info: os.stat_result) -> None:
    digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())


def relocate(venv: Path, old: str, new: str) -> int:
    """Rewrite ``old`` into ``new`` in the venv's scripts and pyvenv.cfg; returns how many files changed."""
    if old == new:
        return 0
    candidates = [venv / name for name in COPIED_FILES]
    for folder in COPIED_DIRS:
        if (venv / folder).is_dir():
            candidates += [p for p in (venv / folder).iterdir() if p.is_file() and not p.is_symlink()]
    changed = 0
    old_bytes, new_bytes = old.encode(), new.encode()
    for path in candidates:
        if not path.is_file() or path.stat().st_size > MAX_REWRITE_BYTES:
            continue
        content = path.read_bytes()
        if old_bytes in content:
            path.write_bytes(content.replace(old_bytes, new_bytes))   # a copy (see link_copy), not a link
            changed += 1
    return changed


def remove_tree(path: Path) -> None:
    """Remove a folder quickly and without surprises: renamed aside first, so a crash leaves no half tree
    under the real name."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    aside = path.with_name(f".{path.name}.removing-{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    path.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)
