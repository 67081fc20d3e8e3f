"""Keep secrets out of task logs and stored fields (clearml-agent printed git tokens and docker env vars
into task logs). Two tools: ``strip_url_credentials`` for URLs we store or show, and ``Redactor`` for any
text that leaves the machine (log lines, status messages), which masks every known secret value.
"""
from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "********"
# user:password@ inside any URL-looking text (https://, http://, git+https://, ssh:// ...)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s:]*(?::[^/@\s]*)?)@")
# Environment-style assignments whose name says "secret": TOKEN=..., --password ...
_SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)")
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words


def strip_url_credentials(url: str) -> str:
    """The URL without ``user:password@`` (``git@host:repo`` SSH forms are left as they are)."""
    if not url or "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def url_credentials(url: str) -> tuple[str, str]:
    """``(user, password)`` embedded in a URL, ``("", "")`` when none."""
    if not url or "://" not in url:
        return "", ""
    parts = urlsplit(url)
    return parts.username or "", parts.password or ""


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name or ""))


class Redactor:
    """Masks known secret values and URL credentials in text. Add secrets as they become known."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        fresh = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN} - self._secrets
        if fresh:
            self._secrets |= fresh
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_environment(self, environ: dict) -> None:
        """Every value of a variable whose name says it is a secret."""
        self.add(*(str(v) for k, v in environ.items() if is_secret_name(k)))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@" if ":" in m["userinfo"] else m[0], text)
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return text
