"""Calls through the real SDK's ``APIClient`` (tests/clients/apiclient_calls.py in .venv-clients)."""
from __future__ import annotations

import json
from pathlib import Path

from support.clients import client_env, run_client_script


def call(name: str, /, raw: bool = False, version: str | None = None, **args) -> dict:
    """One call description: ``call("tasks.get_all", name="x")``."""
    service, _, action = name.partition(".")
    return {"service": service, "action": action, "args": args, "raw": raw, "version": version}


def run_calls(api_server, calls: list[dict], home: Path) -> list[dict]:
    """Run ``calls`` in one SDK process against ``api_server``; each answer is ``{"ok", "data"}`` or
    ``{"ok": False, "code": [code, subcode], "msg"}``."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "calls.json"
    path.write_text(json.dumps(calls))
    run = run_client_script("apiclient_calls.py", [str(path)],
                            client_env(api_server.url, api_server.key, api_server.secret, home))
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])
