"""Restart policies for resumable services: ``CLEARML_AGENT_SERVICES_DOCKER_RESTART``.

    unless-stopped                       every task container of this agent
    on-failure:3;container.image=img     only tasks whose container.image is "img"
    always;hyperparams.svc               only tasks that have that field

A restarted container runs the same ``execute`` again for the same task (it resumes, it is not a new
task). Such a container is not removed when it exits on its own, and the agent inside sets the task's
status itself, since the agent that started it may be gone by then.
"""
from __future__ import annotations

import json
import re

ENV = "CLEARML_AGENT_SERVICES_DOCKER_RESTART"
_POLICY = re.compile(r"^(no|always|unless-stopped|on-failure)(?::(\d+))?$")


class RestartPolicyError(ValueError):
    """A value of ``CLEARML_AGENT_SERVICES_DOCKER_RESTART`` that does not parse."""


def restart_policy(value: str | None, task: dict) -> dict | None:
    """docker-py's ``restart_policy`` for this task, or None."""
    text = (value or "").strip()
    if not text:
        return None
    policy, _, selector = text.partition(";")
    match = _POLICY.match(policy.strip())
    if not match or (match.group(2) and match.group(1) != "on-failure"):
        raise RestartPolicyError(f"{ENV}={text!r}: expected no, always, unless-stopped or on-failure[:N], "
                                 "optionally followed by ;<task field>[=<value>]")
    if selector and not _selected(task, selector.strip()):
        return None
    name, retries = match.group(1), match.group(2)
    return None if name == "no" else {"Name": name, "MaximumRetryCount": int(retries or 0)}


def _selected(task: dict, selector: str) -> bool:
    path, has_value, expected = selector.partition("=")
    node = task
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if not has_value:
        return True
    if isinstance(node, str):
        return node == expected
    try:   # compared as the field's own type: numbers, booleans, lists
        return node == json.loads(expected)
    except ValueError:
        return str(node) == expected
