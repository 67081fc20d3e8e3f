"""``trackside-agent config``: the effective configuration (file, defaults and environment overrides), with
secrets hidden as ``agent.sanitize_config_printout`` says, the same rules clearml-agent prints with.

- a key matching ``hide_secrets`` (or ``extra_keys``) has its value hidden, unless it matches
  ``dont_hide_secrets``; a key matching ``hide_secrets_recursive`` has every value under it hidden;
- ``urls`` keys lose the credentials inside their URLs; ``docker_commands`` keys hide ``-e NAME=value``
  values whose name says secret;
- beyond the reference: credentials inside any URL anywhere are hidden too (an ``api_server`` or a git
  URL with ``user:token@``), since this output ends up in tickets and chat.

Printed as HOCON properties (``agent.worker_id = ""``), one per line and easy to grep; ``--json`` prints
the tree as JSON.
"""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from trackside.agent.config import AgentConfig
from trackside.agent.redact import MASK, is_secret_name, strip_url_credentials

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"']+")


def print_config(config: AgentConfig, json_output: bool = False) -> int:
    tree = sanitized(config)
    if json_output:
        print(json.dumps(tree, indent=2, sort_keys=True))
        return 0
    where = config.path or "no file (defaults and environment)"
    print(f"Current configuration (trackside-agent, location: {where}):")
    print("----------------------")
    for key, value in properties(tree):
        print(f"{key} = {json.dumps(value)}")
    overrides = ", ".join(f"{key} <- {name}" for key, name in sorted(config.overrides.items()))
    if overrides:
        print(f"# set from the environment: {overrides}")
    return 0


class _Rules:
    def __init__(self, config: AgentConfig):
        def patterns(key: str) -> list[re.Pattern]:
            return [re.compile(p) for p in config.get(f"agent.sanitize_config_printout.{key}") or []]

        self.hide = patterns("hide_secrets") + patterns("extra_keys")
        self.hide_all_under = patterns("hide_secrets_recursive")
        self.keep = patterns("dont_hide_secrets")
        self.docker_commands = patterns("docker_commands")
        # "urls" needs no rule of its own: credentials in every URL are hidden (_walk).

    @staticmethod
    def matches(patterns: list[re.Pattern], key: str) -> bool:
        return any(p.search(key) for p in patterns)


def sanitized(config: AgentConfig) -> dict:
    tree = copy.deepcopy(config.values)
    tree.pop("env", None)
    _clean(tree, _Rules(config))
    # The rules themselves are patterns, not secrets ("hide_secrets" would hide itself).
    rules = config.get("agent.sanitize_config_printout")
    if isinstance(tree.get("agent"), dict) and rules is not None:
        tree["agent"]["sanitize_config_printout"] = copy.deepcopy(rules)
    return tree


def _clean(node: dict, rules: _Rules) -> None:
    for key in list(node):
        value = node[key]
        if not rules.matches(rules.keep, key):
            if rules.matches(rules.hide, key):
                node[key] = _hidden(value)
                continue
            if rules.matches(rules.hide_all_under, key):
                node[key] = {k: MASK for k in value} if isinstance(value, dict) else _hidden(value)
                continue
        if rules.matches(rules.docker_commands, key) and isinstance(value, list):
            node[key] = _docker_args(value, rules)
            continue
        node[key] = _walk(value, rules)


def _walk(value: Any, rules: _Rules) -> Any:
    if isinstance(value, dict):
        _clean(value, rules)
        return value
    if isinstance(value, list):
        return [_walk(item, rules) for item in value]
    if isinstance(value, str):
        return _URL_IN_TEXT.sub(lambda m: strip_url_credentials(m.group(0)), value)
    return value


def _hidden(value: Any) -> Any:
    """Empty stays empty (it says "not set", which is worth seeing); anything else is masked."""
    return value if value in (None, "", [], {}) else MASK


def _docker_args(args: list, rules: _Rules) -> list:
    """``-e NAME=value`` / ``--env=NAME=value``: the value hidden when NAME looks secret."""
    result, env_next = [], False
    for arg in args:
        text = str(arg)
        flag = next((f for f in ("-e=", "--env=") if text.startswith(f)), "")
        if env_next or flag:
            name, sep, _ = text[len(flag):].partition("=")
            if sep and (is_secret_name(name) or rules.matches(rules.hide, name.lower())):
                text = f"{flag}{name}={MASK}"
        env_next = text in ("-e", "--env")
        result.append(text)
    return result


def properties(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Leaves as ``(dotted.key, value)``; lists are leaves, empty sections print as ``{}``."""
    if isinstance(tree, dict) and tree:
        found = []
        for key in sorted(tree, key=str):
            segment = str(key) if _BARE_KEY.match(str(key)) else json.dumps(str(key))
            found += properties(tree[key], f"{prefix}.{segment}" if prefix else segment)
        return found
    return [(prefix, tree)]
