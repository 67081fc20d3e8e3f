"""``trackside-agent init``: write ``~/clearml.conf`` with ``api`` and ``agent`` sections.

Interactive by default, in the order of clearml-agent's wizard: paste the credentials block copied from
the web app's settings page, confirm the web / API / file hosts (each derived from the others as the web
app lays them out), git user and token, extra pip index URLs. ``--non-interactive`` takes every answer from
flags, for scripted installs. An existing file is never overwritten. The file is written 0600 (it holds
the secret) and the secret and token are never echoed back.
"""
from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

from pyhocon import ConfigFactory

from trackside.agent.config.loader import config_file_path
from trackside.agent.redact import MASK

# The web app, API and file server ports of a single-host install, and their subdomain names.
PORTS = {"web": 8080, "api": 8008, "files": 8081}
SUBDOMAINS = {"web": "app", "api": "api", "files": "files"}

PASTE_PROMPT = """Create credentials in the web app: Settings > Workspace > "Create new credentials",
then "Copy to clipboard", and paste the block here (or type the access key alone and press Enter):
"""


@dataclass
class Answers:
    web_server: str = ""
    api_server: str = ""
    files_server: str = ""
    access_key: str = ""
    secret_key: str = ""
    git_user: str = ""
    git_pass: str = ""
    extra_index_url: list[str] = field(default_factory=list)


def derive_hosts(url: str) -> dict[str, str]:
    """The three hosts from any one of them: ``app.``/``api.``/``files.`` subdomains, or ports 8080/8008/8081."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port
    for role, name in SUBDOMAINS.items():
        if host.startswith(name + "."):
            base = host[len(name) + 1:]
            netloc = lambda r: f"{SUBDOMAINS[r]}.{base}" + (f":{port}" if port else "")  # noqa: E731
            return {r: urlunsplit((parts.scheme, netloc(r), "", "", "")) for r in PORTS}
    if port in PORTS.values() or port is None:
        return {r: urlunsplit((parts.scheme, f"{host}:{p}", "", "", "")) for r, p in PORTS.items()}
    return {r: url for r in PORTS}  # a custom port: one host serves everything (a reverse proxy)


def parse_pasted(text: str) -> dict:
    """``{api_server, web_server, files_server, access_key, secret_key}`` found in a pasted block."""
    try:
        tree = ConfigFactory.parse_string(text)
    except Exception:  # noqa: BLE001 - a partial paste is handled by asking for the keys one by one
        return {}
    api = tree.get("api", tree)
    creds = api.get("credentials", {}) if hasattr(api, "get") else {}
    found = {key: api.get(key, "") for key in ("api_server", "web_server", "files_server")}
    found.update(access_key=creds.get("access_key", ""), secret_key=creds.get("secret_key", ""))
    return {k: str(v) for k, v in found.items() if v}


def render(answers: Answers) -> str:
    """The file's text: HOCON, strings written as JSON so any character survives."""
    q = json.dumps
    indexes = ", ".join(q(url) for url in answers.extra_index_url)
    return f"""# Written by `trackside-agent init`. Keys and environment overrides: clearml-agent's documentation.
api {{
    web_server: {q(answers.web_server)}
    api_server: {q(answers.api_server)}
    files_server: {q(answers.files_server)}
    credentials {{
        access_key: {q(answers.access_key)}
        secret_key: {q(answers.secret_key)}
    }}
}}

agent {{
    # Empty: a unique id per agent process (CLEARML_WORKER_ID overrides).
    worker_id: ""
    worker_name: ""
    git_user: {q(answers.git_user)}
    git_pass: {q(answers.git_pass)}
    package_manager {{
        type: pip
        system_site_packages: false
        extra_index_url: [{indexes}]
    }}
    venvs_dir: ~/.clearml/venvs-builds
    venvs_cache {{
        max_entries: 10
        free_space_threshold_gb: 2.0
        path: ~/.clearml/venvs-cache
    }}
    vcs_cache {{
        enabled: true
        path: ~/.clearml/vcs-cache
    }}
}}
"""


def write_new(path: Path, text: str) -> None:
    """Create ``path`` 0600; refuses (FileExistsError) if it exists, even if it appeared meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def verify(answers: Answers) -> str | None:
    """None when the server accepts the credentials, else why not."""
    from trackside.shared.dispatch.client import ApiError, ApiSession

    session = ApiSession(answers.api_server, answers.access_key, answers.secret_key, timeout=10)
    try:
        session.call("users.get_current_user")
        return None
    except ApiError as exc:
        return f"the server refused the credentials ({exc.code}/{exc.subcode} {exc.message})"
    except OSError as exc:
        return f"cannot reach {answers.api_server}: {exc}"
    finally:
        session.close()


class Wizard:
    """The interactive questions; ``read(prompt)`` and ``secret(prompt)`` are injectable for tests."""

    def __init__(self, read: Callable[[str], str] = input, secret: Callable[[str], str] | None = None,
                 say: Callable[[str], None] = print):
        self.read, self.say = read, say
        self.secret = secret or (getpass.getpass if sys.stdin.isatty() else read)

    def ask(self, answers: Answers) -> Answers:
        pasted = self._paste()
        answers.access_key = answers.access_key or pasted.get("access_key", "")
        answers.secret_key = answers.secret_key or pasted.get("secret_key", "")
        while not answers.access_key:
            answers.access_key = self.read("Access key: ").strip()
        while not answers.secret_key:
            answers.secret_key = self.secret("Secret key: ").strip()
        self.say(f'Credentials: key="{answers.access_key}" secret="{answers.secret_key[:4]}{MASK}"')

        known = answers.web_server or pasted.get("web_server") or answers.api_server or pasted.get("api_server")
        while not known:
            known = self.read("Web app URL (for example http://localhost:8080): ").strip()
        derived = derive_hosts(known)
        answers.web_server = self._confirm("Web app", answers.web_server or pasted.get("web_server") or derived["web"])
        derived = derive_hosts(answers.web_server)
        answers.api_server = self._confirm("API", answers.api_server or pasted.get("api_server") or derived["api"])
        answers.files_server = self._confirm("File store",
                                             answers.files_server or pasted.get("files_server") or derived["files"])

        if not answers.git_user:
            answers.git_user = self.read("Git user for cloning over https (blank: SSH keys): ").strip()
        if answers.git_user and not answers.git_pass:
            answers.git_pass = self.secret(f"Git password or personal access token for '{answers.git_user}': ").strip()
        if answers.git_user:
            self.say(f"Git cloning will use user={answers.git_user} token={MASK}")

        while True:
            url = self.read("Extra pip index URL (blank when done): ").strip()
            if not url:
                break
            answers.extra_index_url.append(url)
        return answers

    def _paste(self) -> dict:
        self.say(PASTE_PROMPT)
        lines, depth = [], 0
        while True:
            try:
                line = self.read("")
            except EOFError:
                break
            lines.append(line)
            depth += line.count("{") - line.count("}")
            if depth <= 0 and (len(lines) > 1 or "{" not in line):
                break
        text = "\n".join(lines)
        if "{" not in text and text.strip():
            return {"access_key": text.strip()}  # a bare key typed in
        return parse_pasted(text)

    def _confirm(self, what: str, suggested: str) -> str:
        reply = self.read(f"{what} URL [{suggested}]: ").strip()
        return (reply or suggested).rstrip("/")


def answers_from_flags(args) -> Answers:
    answers = Answers(web_server=args.web_host or "", api_server=args.api_host or "",
                      files_server=args.files_host or "", access_key=args.access_key or "",
                      secret_key=args.secret_key or "", git_user=args.git_user or "", git_pass=args.git_pass or "",
                      extra_index_url=list(args.extra_index_url or []))
    if args.non_interactive:
        anchor = answers.api_server or answers.web_server
        if anchor:
            derived = derive_hosts(anchor)
            answers.api_server = answers.api_server or derived["api"]
            answers.web_server = answers.web_server or derived["web"]
            answers.files_server = answers.files_server or derived["files"]
    return answers


def run_init(args, wizard: Wizard | None = None) -> int:
    path = config_file_path(args.config_file)
    print(f"trackside-agent setup: {path}")
    if path.exists() and path.stat().st_size > 0:
        print(f"Configuration file already exists: {path}. Leaving it as it is; add an `agent` section by hand "
              "if it was written by the SDK's clearml-init.")
        return 0
    answers = answers_from_flags(args)
    if args.non_interactive:
        missing = [flag for flag, value in (("--api-host", answers.api_server), ("--access-key", answers.access_key),
                                            ("--secret-key", answers.secret_key)) if not value]
        if missing:
            print(f"trackside-agent init: --non-interactive needs {', '.join(missing)}", file=sys.stderr)
            return 2
    else:
        try:
            answers = (wizard or Wizard()).ask(answers)
        except (EOFError, KeyboardInterrupt):
            print("\nSetup cancelled; nothing written.")
            return 1
    problem = verify(answers)
    if problem:
        print(f"Warning: could not verify the credentials: {problem}")
    else:
        print("Credentials verified.")
    try:
        write_new(path, render(answers))
    except FileExistsError:
        print(f"Configuration file already exists: {path}. Leaving it as it is.")
        return 0
    print(f"New configuration stored in {path}")
    return 0
