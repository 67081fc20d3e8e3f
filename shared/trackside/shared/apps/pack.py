"""Packing an app folder into the documented layout: what ``zip -r <id>.zip <id>.app.conf assets/`` run in the
folder gives (the conf at the archive's root, then ``assets/`` with its sub-folders), in memory.

The repository and branch an instance clones can be set while packing: a HOCON override appended to the
packed conf (a later key wins), so the conf's own text, comments included, stays as written.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from trackside.shared.apps.errors import PackageError, Problem
from trackside.shared.apps.package import ASSETS_DIR, CONF_SUFFIX


def find_conf(folder: Path) -> Path:
    """The folder's one ``<id>.app.conf``."""
    confs = sorted(p for p in folder.glob("*" + CONF_SUFFIX) if p.is_file())
    if len(confs) != 1:
        found = ", ".join(p.name for p in confs) or "none"
        raise PackageError([Problem(str(folder), "", f"needs exactly one *{CONF_SUFFIX} (found: {found})")])
    return confs[0]


def script_overrides(repository: str | None, branch: str | None) -> str:
    """HOCON lines setting task.script.repository / branch, or "" when neither is given."""
    lines = [f"task.script.{key}: {json.dumps(value)}"
             for key, value in (("repository", repository), ("branch", branch)) if value is not None]
    if not lines:
        return ""
    return "\n# Set by trackside-apps pack (overrides the value above)\n" + "\n".join(lines) + "\n"


def _assets(folder: Path):
    """(archive name, path or None for a folder entry) in ``zip -r`` order: each folder, then what it holds."""
    root = folder / ASSETS_DIR.rstrip("/")
    if not root.is_dir():
        return
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        here = Path(current)
        yield here.relative_to(folder).as_posix() + "/", None
        for name in sorted(files):
            yield (here / name).relative_to(folder).as_posix(), here / name


def pack_folder(folder: Path, repository: str | None = None, branch: str | None = None) -> tuple[str, bytes]:
    """(archive file name ``<id>.zip``, zip bytes) of an app folder; validate the bytes with load_package."""
    conf = find_conf(folder)
    text = conf.read_bytes() + script_overrides(repository, branch).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo.from_file(conf, conf.name), text, zipfile.ZIP_DEFLATED)
        for name, path in _assets(folder):
            if path is None:
                archive.writestr(zipfile.ZipInfo.from_file(folder / name, name), b"")
            else:
                archive.write(path, name)  # a link is stored as the file it points at, as zip -r does
    return conf.name[: -len(CONF_SUFFIX)] + ".zip", buffer.getvalue()
