"""Name-only sign-in, for an API without fixed users (the reference's "simple" mode).

The API has no endpoint that signs in by name alone, so the web app acts for the user with its own system
credential (secure.conf ``credentials.webserver``): it makes sure the user exists (``users.create``) and gets
a token for it (``auth.get_token_for_user``). The browser only ever receives that user's token.

Each name maps to one stable user id (uuid5 of the company and the name), so signing in again with the same
name is the same user, and no name can reach a user created any other way (configured credentials, fixed
users, ``auth.create_user``): only users this module created can be signed in to by name.
"""
from __future__ import annotations

import threading
import unicodedata
import uuid

from trackside.webapp.api_client import ApiCallError, ApiClient

MAX_NAME_LENGTH = 64
USER_EXISTS = (400, 302)
TOKEN_EXPIRED_OR_REVOKED = 401
# Our own namespace, so these ids can never collide with the API's ids for configured users.
NAMESPACE = uuid.UUID("6f1d1f0e-57a1-4a55-9d55-7472616b7369")


class NameLoginUnavailable(Exception):
    """The webserver credential is not configured (or the API refused it)."""


def clean_name(name: str) -> str | None:
    """The name as it will be stored, or None when it cannot be a user name."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME_LENGTH:
        return None
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return None
    return name


def user_id_for(company: str, name: str) -> str:
    return uuid.uuid5(NAMESPACE, f"{company}/{name}").hex


class NameLogin:
    def __init__(self, api: ApiClient, key: str | None, secret: str | None):
        self._api = api
        self._credential = (key, secret) if key and secret else None
        self._lock = threading.Lock()
        self._system_token: str | None = None
        self._company: str | None = None

    @property
    def available(self) -> bool:
        return self._credential is not None

    def token_for(self, name: str) -> str:
        """A token for the user called ``name``, created on first sign-in."""
        try:
            return self._token_for(name, self._system())
        except ApiCallError as exc:
            if exc.status != TOKEN_EXPIRED_OR_REVOKED:
                raise
            return self._token_for(name, self._system(renew=True))  # the system token expired: once more

    def _token_for(self, name: str, system: tuple[str, str]) -> str:
        token, company = system
        user_id = user_id_for(company, name)
        given, _, family = name.partition(" ")
        try:
            self._api.call("users.create", {"id": user_id, "company": company, "name": name,
                                            "given_name": given, "family_name": family or given}, token=token)
        except ApiCallError as exc:
            if exc.code != USER_EXISTS:
                raise
        return self._api.call("auth.get_token_for_user", {"user": user_id}, token=token)["token"]

    def _system(self, renew: bool = False) -> tuple[str, str]:
        if self._credential is None:
            raise NameLoginUnavailable("secure.conf credentials.webserver is not configured")
        with self._lock:
            if renew or self._system_token is None:
                try:
                    token = self._api.call("auth.login", basic=self._credential)["token"]
                    user = self._api.call("users.get_current_user", token=token)["user"]
                except ApiCallError as exc:
                    raise NameLoginUnavailable(f"the API refused the webserver credential: {exc}") from None
                self._system_token, self._company = token, user["company"]["id"]
            return self._system_token, self._company
