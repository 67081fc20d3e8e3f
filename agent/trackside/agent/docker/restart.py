"""Restart policies for resumable services: ``CLEARML_AGENT_SERVICES_DOCKER_RESTART``, read as clearml-agent
reads it: ``<policy>[;<task field path>[=<value>]]``.

    unless-stopped                               every task container of this agent
    on-failure:3;container.image=img             only tasks whose container.image is "img"
    on-failure;application.resumable=True        only resumable app instances (the custom-apps agent)
    always;hyperparams.svc                       only tasks that have that field (any value)

The value is compared as the task's field is typed: a boolean field against the value read as a boolean
(``True``/``yes``/``1``...), a number against the value read as a number, anything else as text. A value that
does not parse (a bad policy, ``maybe`` for a boolean) gives no policy, with a warning in the task's log: the
task still runs, as it would without the variable.

A restarted container runs the same ``execute`` again for the same task (it resumes, it is not a new
task). Such a container is not removed when it exits on its own, and the agent inside sets the task's
status itself, since the agent that started it may be gone by then.
"""
from __future__ import annotations

import re
from typing import Callable

ENV = "CLEARML_AGENT_SERVICES_DOCKER_RESTART"
_POLICY = re.compile(r"^(no|always|unless-stopped|on-failure)(?::(\d+))?$")
_TRUE, _FALSE = {"y", "yes", "t", "true", "on", "1"}, {"n", "no", "f", "false", "off", "0"}
_MISSING = object()


def restart_policy(value: str | None, task: dict, warn: Callable[[str], None] | None = None) -> dict | None:
    """docker-py's ``restart_policy`` for this task, or None (also for a value that does not parse: said
    through ``warn``)."""
    text = (value or "").strip()
    if not text:
        return None
    policy, _, selector = text.partition(";")
    match = _POLICY.match(policy.strip())
    if not match or (match.group(2) and match.group(1) != "on-failure"):
        _say(warn, f"{ENV}={text!r} ignored: expected no, always, unless-stopped or on-failure[:N], optionally "
                   "followed by ;<task field>[=<value>]")
        return None
    if selector.strip():
        try:
            if not selected(task, selector.strip()):
                return None
        except ValueError as exc:
            _say(warn, f"{ENV}={text!r} ignored: {exc}")
            return None
    name, retries = match.group(1), match.group(2)
    return None if name == "no" else {"Name": name, "MaximumRetryCount": int(retries or 0)}


def selected(task: dict, selector: str) -> bool:
    """Whether the task's field at the dotted path exists (no ``=``, or nothing after it) or equals the
    value. ValueError when the value cannot be read as the field's type."""
    path, _, expected = selector.partition("=")
    node = task_field(task, path.strip(), _MISSING)
    if node is _MISSING:
        return False
    if not expected:
        return True
    if isinstance(node, bool):   # first: a boolean is also an int
        return node == _boolean(expected)
    if isinstance(node, (int, float)):
        try:
            return node == float(expected)
        except ValueError:
            raise ValueError(f"{path} is a number, {expected!r} is not") from None
    return str(node) == expected


def task_field(task: dict, path: str, missing=None):
    """A task field by dotted path (``application.resumable``, ``hyperparams.General.port.value``); ``missing``
    when the task has none."""
    node = task
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return missing
        node = node[part]
    return node


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ValueError(f"{text!r} is not a boolean (true/false, yes/no, 1/0)")


def _say(warn: Callable[[str], None] | None, text: str) -> None:
    if warn is not None:
        warn(text)
