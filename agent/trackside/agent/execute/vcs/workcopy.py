"""A task's work copy: cloned (from the vcs cache's mirror when enabled), checked out at the task's
revision, with its uncommitted changes applied."""
from __future__ import annotations

import tempfile
from pathlib import Path

from trackside.agent.execute.vcs.git import GitError, GitSession
from trackside.agent.execute.vcs.mirrors import MirrorCache


class RevisionNotFound(Exception):
    """The commit, tag or branch the task names is not in the repository."""


def clone_work_copy(git: GitSession, dest: Path, mirrors: MirrorCache | None, commit: str | None) -> None:
    """Clone without checking out; origin ends up as the real URL (no credentials) either way."""
    if mirrors is None:
        git.run("clone", "--no-checkout", "--quiet", git.remote.url, str(dest))
        return
    with mirrors.locked(git.remote) as mirror:
        mirrors.update(git, mirror, commit)
        # A local clone hardlinks the mirror's object files: fast, and independent of the mirror afterwards.
        git.run("clone", "--no-checkout", "--quiet", str(mirror), str(dest))
    git.run("remote", "set-url", "origin", git.remote.url, cwd=dest)


def check_out(git: GitSession, dest: Path, commit: str | None, tag: str | None, branch: str | None) -> str:
    """Commit first, else tag, else branch, else the default branch; returns what was checked out."""
    branch = (branch or "").strip()
    if branch.startswith("origin/"):
        branch = branch[len("origin/"):]
    if commit:
        if not git.succeeds("cat-file", "-e", f"{commit}^{{commit}}", cwd=dest):
            raise RevisionNotFound(f"commit {commit} (was it pushed?)")
        git.run("checkout", "--force", "--quiet", "--detach", commit, cwd=dest)
        described = f"commit {commit}"
    elif tag:
        if not git.succeeds("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", cwd=dest):
            raise RevisionNotFound(f"tag {tag}")
        git.run("checkout", "--force", "--quiet", "--detach", f"refs/tags/{tag}", cwd=dest)
        described = f"tag {tag}"
    else:
        if not branch:
            head = git.run("symbolic-ref", "--quiet", "--short", "HEAD", cwd=dest).strip()
            branch = head
        if not git.succeeds("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", cwd=dest):
            raise RevisionNotFound(f"branch {branch}")
        git.run("checkout", "--force", "--quiet", "-B", branch, "--track", f"origin/{branch}", cwd=dest)
        described = f"branch {branch}"
    sha = git.run("rev-parse", "HEAD", cwd=dest).strip()
    if (dest / ".gitmodules").exists():
        try:
            git.run("submodule", "update", "--init", "--recursive", "--quiet", cwd=dest)
        except GitError as exc:
            git.log(f"WARNING: submodules not updated: {exc}")
    return described if commit else f"{described} at {sha}"


def is_git_patch(diff: str) -> bool:
    """``git diff`` output, as opposed to a literal script stored in ``script.diff``."""
    lines = diff.lstrip().splitlines()
    if not lines:
        return False
    first = lines[0].lower()
    if first.startswith("diff "):
        return True
    return first.startswith("submodule ") and len(lines) > 1 and lines[1].lstrip().lower().startswith("diff ")


def apply_patch(git: GitSession, dest: Path, diff: str) -> None:
    """Raises GitError when the patch does not apply (nothing is applied then: git apply is atomic)."""
    with tempfile.NamedTemporaryFile("w", suffix=".diff", delete=True) as patch:
        patch.write(diff if diff.endswith("\n") else diff + "\n")
        patch.flush()
        git.run("apply", "--unidiff-zero", "--whitespace=nowarn", patch.name, cwd=dest)
