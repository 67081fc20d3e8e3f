"""``--use-owner-token``: run a task with a token of the user who owns it, not with the agent's credentials
(clearml-agent's option of the same name, used by the custom-apps agent).

The agent asks ``auth.get_token_for_user`` for the task's ``user`` (its credentials must be an
administrator's). The task's process then gets ``CLEARML_AUTH_TOKEN`` (which the SDK prefers over keys and
renews by itself), none of the agent's key variables, and a copy of the agent's ``clearml.conf`` without
``api.credentials`` (clearml-agent writes the same copy), so the task's code cannot act as the agent. When the
token is refused the task runs with the agent's credentials, and the task's log says why.

In docker mode the agent outside asks for the token and the container gets only that (a file in the task's
folder, ``TRACKSIDE_AGENT_AUTH_TOKEN_FILE``) and a configuration without credentials: the agent inside
authenticates with the owner's token and hands it to the task's process. The token is asked for with
``OWNER_TOKEN_SEC`` (30 days, the server's default and the reference's) and renewed (``auth.login`` with the
token, ``AgentApi.renew_token``) each time the agent inside starts and daily while it runs, written back to
the file: a resumable service that docker restarts weeks later starts from a fresh token, never from one
that expired meanwhile.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from trackside.agent.api import TOKEN_SEC, ApiError
from trackside.agent.config import AgentConfig

TOKEN_ENV = "CLEARML_AUTH_TOKEN"
# The agent's key variables, which the task's process must not inherit when it runs as its owner.
KEY_ENV = ("CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY", "TRAINS_API_ACCESS_KEY", "TRAINS_API_SECRET_KEY")
CONFIG_ENV = ("CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE")
OWNER_TOKEN_SEC = TOKEN_SEC   # 30 days


def fetch(call: Callable[[str, dict], dict], task: dict, note: Callable[..., None],
          own_token: str | None = None, renew: Callable[[], str] | None = None) -> str | None:
    """The owner's token, or None (said in the task's log) when the server will not give one. ``own_token``:
    this agent itself calls with the owner's token (a task container's agent): that one, renewed by ``renew``
    where it can be."""
    user = task.get("user")
    if own_token:
        note(f"running the task with its owner's token (user {user}, given to this agent)")
        try:
            return renew() if renew is not None else own_token
        except (ApiError, OSError) as exc:
            note(f"--use-owner-token: could not renew the owner's token ({exc}); using it as it is", "WARNING")
            return own_token
    if not user:
        note("--use-owner-token: the task has no owner; running it with the agent's credentials", "WARNING")
        return None
    try:
        token = call("auth.get_token_for_user", {"user": user, "expiration_sec": OWNER_TOKEN_SEC})["token"]
    except (ApiError, KeyError, TypeError) as exc:
        note(f"--use-owner-token: cannot get a token for the task's owner {user} ({exc}); running the task with "
             "the agent's credentials (they must be an administrator's)", "WARNING")
        return None
    note(f"running the task with its owner's token (user {user})")
    return token


def write_config_without_credentials(config: AgentConfig, folder: Path) -> Path:
    """The agent's configuration less ``api.credentials``, 0600 in ``folder``, for the task's SDK."""
    return write_config(without_credentials(config.values), folder)


def without_credentials(values: dict) -> dict:
    """A copy of the configuration tree less ``api.credentials`` (the agent's own key and secret)."""
    values = json.loads(json.dumps(values, default=str))
    (values.get("api") or {}).pop("credentials", None)
    return values


def write_config(values: dict, folder: Path) -> Path:
    path = folder / "clearml.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(values, indent=1))
    return path


def as_owner(environment: dict[str, str], token: str, config_file: Path) -> dict[str, str]:
    """The task's process environment, acting as the owner: the token in, the agent's keys out."""
    result = {k: v for k, v in environment.items() if k not in KEY_ENV}
    result[TOKEN_ENV] = token
    for name in CONFIG_ENV:
        result[name] = str(config_file)
    return result
