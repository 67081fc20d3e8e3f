"""Keep secrets out of task logs and stored fields (clearml-agent printed git tokens and docker env vars
into task logs). Tools: ``strip_url_credentials`` / ``strip_text_url_credentials`` for URLs and text we
store or show, and ``Redactor`` for any text that leaves the machine (log lines, status messages), which
masks every known secret value and URL credentials.
"""
from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "********"
# user:password@ inside any URL-looking text (https://, http://, git+https://, ssh:// ...)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s:]*(?::[^/@\s]*)?)@")
# The end of a text that may be the start of a URL whose credentials are still to come (scheme://user:pa)
_UNFINISHED_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:/{0,2}[^/\s]*$")
# Environment-style assignments whose name says "secret": TOKEN=..., --password ...
_SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)")
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words
URL_TAIL = 1024      # the longest scheme://user:password@ a partial line is held back for
# Values a variable named like a secret often holds that are not secrets (USE_TOKEN=true, TOKEN_TTL=3600):
# masking them would hide ordinary words and numbers all over the log.
_NOT_SECRET_VALUES = {"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"}
_SHORT_NUMBER = re.compile(r"[-+]?\d{1,7}(\.\d+)?")
# URLs whose whole user part is a credential when written into stored text (https://TOKEN@host).
_HTTP_SCHEME = re.compile(r"(?i)^([a-z0-9+.-]*\+)?https?://$")


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


def strip_text_url_credentials(text: str) -> str:
    """Every URL in ``text`` without its credentials, for text we store (requirement lines, index URLs):
    http(s) URLs lose their whole user part (``https://TOKEN@host`` is a token), others only the password
    (``ssh://git@host`` keeps its user)."""
    if not text or "@" not in text:
        return text

    def strip(m: re.Match) -> str:
        if _HTTP_SCHEME.match(m["scheme"]):
            return m["scheme"]
        return m["scheme"] + m["userinfo"].split(":", 1)[0] + "@"

    return _URL_USERINFO.sub(strip, text)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name or ""))


def looks_like_secret_value(value: str) -> bool:
    """False for the booleans and small numbers secret-named variables often hold."""
    value = (value or "").strip()
    return len(value) >= MIN_SECRET_LEN and value.lower() not in _NOT_SECRET_VALUES \
        and not _SHORT_NUMBER.fullmatch(value)


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
        """Every value of a variable whose name says it is a secret (not booleans or small numbers)."""
        self.add(*(str(v) for k, v in (environ or {}).items()
                   if is_secret_name(str(k)) and v is not None and looks_like_secret_value(str(v))))

    @property
    def longest(self) -> int:
        return max((len(s) for s in self._secrets), default=0)

    def split_safe(self, text: str) -> tuple[str, str]:
        """``(head, tail)``: ``head`` can be masked and sent on its own, because no secret (known value, or
        URL credentials) it may hold continues into text not written yet; ``tail`` waits for more text.
        Used to send a partial line (a prompt, a long line without a newline) without cutting a secret in
        two halves that would each pass unmasked."""
        cut = len(text)
        for secret in self._secrets:   # the text may end with the beginning of a secret: hold that back
            for k in range(min(len(secret) - 1, len(text)), 0, -1):
                if text.endswith(secret[:k]):
                    cut = min(cut, len(text) - k)
                    break
        if self._pattern is not None:
            for m in self._pattern.finditer(text):
                if m.start() < cut < m.end():
                    cut = m.start()
        # A URL whose authority part is not finished yet may still grow a user:password@ (looked for in the
        # last URL_TAIL characters only: the search is anchored at the end and would be quadratic otherwise).
        start = max(len(text) - URL_TAIL, 0)
        unfinished = _UNFINISHED_URL.search(text, start)
        if unfinished is not None:
            cut = min(cut, unfinished.start())
        cut = max(cut, 0)
        return text[:cut], text[cut:]

    def __call__(self, text: str) -> str:
        if not text:
            return text
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@" if ":" in m["userinfo"] else m[0], text)
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return text
