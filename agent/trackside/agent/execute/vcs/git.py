"""Run git for one repository, with credentials that never reach the disk, a URL or a log line.

Credentials go to git through ``GIT_ASKPASS``: a helper script (no secret in it) that answers git's
username/password prompts from environment variables of the git process only, and only for the
repository's own host (a submodule elsewhere never receives them). Credential helpers are switched off
for the session so no configured ``credential.helper store`` writes them to ``~/.git-credentials``.
Git never prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode): a missing credential fails at once.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from trackside.agent.execute.vcs.urls import Remote
from trackside.agent.redact import Redactor

ASKPASS_SCRIPT = r"""#!/bin/sh
# git calls this with its prompt: "Username for 'https://host': " or "Password for 'https://user@host': ".
case "$1" in
  *[/@]"$TRACKSIDE_GIT_HOST"[\'/]*) ;;
  *) exit 1 ;;
esac
case "$1" in
  Username*) printf '%s\n' "$TRACKSIDE_GIT_USER" ;;
  *) printf '%s\n' "$TRACKSIDE_GIT_PASSWORD" ;;
esac
"""
ERROR_TAIL_LINES = 6


class GitError(Exception):
    """A git command failed; the message holds the command and git's last lines, secrets masked."""


class GitSession:
    """``with GitSession(remote, log) as git: git.run("clone", ...)``"""

    def __init__(self, remote: Remote, log: Callable[[str], None]):
        self.remote = remote
        self.log = log
        self.redact = Redactor([remote.password])
        self._askpass_dir: str | None = None
        self._config: dict[str, str] = {}
        self.env = {k: v for k, v in os.environ.items()
                    if k != "GIT_ASKPASS" and not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))}
        self.env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        self.env.setdefault("GIT_SSH_COMMAND", "ssh -oBatchMode=yes")
        # A cache or work copy made by another user (services mode, shared caches) stays usable, without
        # touching anyone's global configuration.
        self._set_config({"safe.directory": "*", "advice.detachedHead": "false"})

    def __enter__(self) -> "GitSession":
        if shutil.which("git") is None:
            raise GitError("git is not installed (apt-get install git)")
        if self.remote.has_credentials and self.remote.is_http:
            self._askpass_dir = tempfile.mkdtemp(prefix="trackside-git-")
            helper = Path(self._askpass_dir) / "askpass.sh"
            helper.write_text(ASKPASS_SCRIPT)
            helper.chmod(stat.S_IRWXU)
            self.env.update({"GIT_ASKPASS": str(helper), "TRACKSIDE_GIT_HOST": self.remote.host,
                             "TRACKSIDE_GIT_USER": self.remote.user,
                             "TRACKSIDE_GIT_PASSWORD": self.remote.password})
            self._set_config({"credential.helper": ""})  # an empty value resets the helper list
        return self

    def __exit__(self, *exc) -> None:
        if self._askpass_dir:
            shutil.rmtree(self._askpass_dir, ignore_errors=True)

    def run(self, *args: str, cwd: Path | None = None) -> str:
        """git's stdout; raises GitError naming the command with git's last lines (secrets masked)."""
        try:
            result = subprocess.run(["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                                    errors="replace", stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise GitError(f"git {args[0]}: {exc}") from None
        if result.returncode != 0:
            tail = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
            detail = "\n".join(tail[-ERROR_TAIL_LINES:])
            raise GitError(self.redact(f"git {args[0]} failed (exit {result.returncode}): {detail}"))
        return result.stdout

    def succeeds(self, *args: str, cwd: Path | None = None) -> bool:
        try:
            self.run(*args, cwd=cwd)
            return True
        except GitError:
            return False

    def _set_config(self, values: dict[str, str]) -> None:
        """Configuration for this session's git commands only (environment, never a file)."""
        self._config.update(values)
        for key in [k for k in self.env if k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))]:
            del self.env[key]
        for index, (key, value) in enumerate(self._config.items()):
            self.env[f"GIT_CONFIG_KEY_{index}"] = key
            self.env[f"GIT_CONFIG_VALUE_{index}"] = value
        self.env["GIT_CONFIG_COUNT"] = str(len(self._config))

