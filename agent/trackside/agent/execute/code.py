"""Put a task's code on disk: a literal script (``script.diff`` written to the entry point) or a repository
(cloned through the vcs cache, checked out at the task's commit/tag/branch, uncommitted diff applied).
CONTRACT for the runner: ``prepare_code`` and ``CodeLocation``; failures raise ``CodeError``.

Credentials (``agent.git_user``/``git_pass``, or those embedded in the task's repository URL) never reach
``.git/config``, a URL git could print, or a log line: see ``vcs.git``. Messages name the repository by its
URL without credentials.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig
from trackside.agent.execute.vcs.git import GitError, GitSession
from trackside.agent.execute.vcs.mirrors import MirrorCache
from trackside.agent.execute.vcs.urls import repository_folder_name, resolve_remote
from trackside.agent.execute.vcs.workcopy import RevisionNotFound, apply_patch, check_out, clone_work_copy, \
    is_git_patch
from trackside.agent.redact import strip_url_credentials

LogLine = Callable[[str], None]


class CodeError(Exception):
    """The code could not be prepared; ``status_reason`` goes on the failed task."""

    def __init__(self, message: str, status_reason: str = "failed preparing code"):
        super().__init__(message)
        self.status_reason = status_reason


@dataclass(frozen=True)
class CodeLocation:
    root: Path            # the repository root, or the folder holding a literal script
    cwd: Path             # where the task runs: root / working_dir
    entry_point: str      # the script, relative to cwd
    is_repository: bool


def prepare_code(script: dict, workdir: Path, config: AgentConfig, log: LogLine) -> CodeLocation:
    """The task's code under ``workdir / "code"`` (emptied first). Raises CodeError."""
    script = script or {}
    entry = (script.get("entry_point") or "").strip()
    if not entry:
        raise CodeError("the task has no script.entry_point", "no entry point")
    code_dir = workdir / "code"
    shutil.rmtree(code_dir, ignore_errors=True)
    code_dir.mkdir(parents=True)
    code_dir = code_dir.resolve()
    if (script.get("repository") or "").strip():
        return _repository(script, entry, code_dir, config, log)
    cwd = _inside(code_dir, script.get("working_dir"))
    cwd.mkdir(parents=True, exist_ok=True)
    _write_literal(cwd, entry, script.get("diff") or "", log)
    return CodeLocation(root=code_dir, cwd=cwd, entry_point=entry, is_repository=False)


def _repository(script: dict, entry: str, code_dir: Path, config: AgentConfig, log: LogLine) -> CodeLocation:
    remote = resolve_remote(script["repository"], config, log)
    shown = strip_url_credentials(remote.url)
    root = code_dir / repository_folder_name(remote.url)
    mirrors = None
    if config.get("agent.vcs_cache.enabled") and config.get("agent.vcs_cache.path"):
        mirrors = MirrorCache(Path(config.get("agent.vcs_cache.path")), list(config.get("agent.git_fetch_args") or []),
                              bool(config.get("agent.vcs_cache.clone_on_pull_fail")), log)
    commit = (script.get("version_num") or "").strip() or None
    diff = script.get("diff") or ""
    try:
        with GitSession(remote, log) as git:
            try:
                clone_work_copy(git, root, mirrors, commit)
                revision = check_out(git, root, commit, (script.get("tag") or "").strip() or None,
                                     script.get("branch"))
            except GitError as exc:
                raise CodeError(f"failed cloning repository {shown}: {exc}", "failed cloning repository") from None
            except RevisionNotFound as exc:
                raise CodeError(f"repository {shown} has no {exc}", "failed cloning repository") from None
            log(f"repository {shown}: checked out {revision} in {root}")
            if diff.strip() and is_git_patch(diff):
                try:
                    apply_patch(git, root, diff)
                except GitError as exc:
                    raise CodeError(f"failed applying git diff to {shown}: {exc}", "failed applying git diff") \
                        from None
                log("applied the task's uncommitted changes (git diff)")
    except GitError as exc:   # git itself missing
        raise CodeError(f"failed cloning repository {shown}: {exc}", "failed cloning repository") from None
    cwd = _inside(root, script.get("working_dir"))
    if not cwd.is_dir():
        raise CodeError(f"working_dir {script.get('working_dir')!r} not found in repository {shown}",
                        "failed cloning repository")
    if diff.strip() and not is_git_patch(diff):
        _write_literal(cwd, entry, diff, log)
    return CodeLocation(root=root, cwd=cwd, entry_point=entry, is_repository=True)


def _write_literal(cwd: Path, entry: str, text: str, log: LogLine) -> None:
    target = _inside(cwd, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    log(f"literal script from script.diff written to {target}")


def _inside(base: Path, relative: str | None) -> Path:
    """``base / relative``, refused when it leads outside ``base`` (``..``, absolute paths)."""
    path = (base / (relative or ".")).resolve()
    if not path.is_relative_to(base.resolve()):
        raise CodeError(f"{relative!r} points outside the task's code folder", "failed preparing code")
    return path
