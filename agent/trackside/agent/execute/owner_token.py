"""``--use-owner-token``: run a task with a token of the user who owns it, not with the agent's credentials
(clearml-agent's option of the same name, used by the custom-apps agent).

The agent asks ``auth.get_token_for_user`` for the task's ``user`` (its credentials must be an
administrator's). The task's process then gets ``CLEARML_AUTH_TOKEN`` (which the SDK prefers over keys and
renews by itself), none of the agent's key variables, and a copy of the agent's ``clearml.conf`` without
``api.credentials`` (clearml-agent writes the same copy), so the task's code cannot act as the agent. When the
token is refused the task runs with the agent's credentials, and the task's log says why.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from trackside.agent.api import ApiError
from trackside.agent.config import AgentConfig

TOKEN_ENV = "CLEARML_AUTH_TOKEN"
# The agent's key variables, which the task's process must not inherit when it runs as its owner.
KEY_ENV = ("CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY", "TRAINS_API_ACCESS_KEY", "TRAINS_API_SECRET_KEY")
CONFIG_ENV = ("CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE")


def fetch(call: Callable[[str, dict], dict], task: dict, note: Callable[..., None]) -> str | None:
    """The owner's token, or None (said in the task's log) when the server will not give one."""
    user = task.get("user")
    if not user:
        note("--use-owner-token: the task has no owner; running it with the agent's credentials", "WARNING")
        return None
    try:
        token = call("auth.get_token_for_user", {"user": user})["token"]
    except (ApiError, KeyError, TypeError) as exc:
        note(f"--use-owner-token: cannot get a token for the task's owner {user} ({exc}); running the task with "
             "the agent's credentials (they must be an administrator's)", "WARNING")
        return None
    note(f"running the task with its owner's token (user {user})")
    return token


def write_config_without_credentials(config: AgentConfig, folder: Path) -> Path:
    """The agent's configuration less ``api.credentials``, 0600 in ``folder``, for the task's SDK."""
    values = json.loads(json.dumps(config.values, default=str))
    (values.get("api") or {}).pop("credentials", None)
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
