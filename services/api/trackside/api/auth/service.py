"""Who is calling: Basic credentials on ``auth.login``, Bearer JWTs (or the web cookie) everywhere else.

Credentials come from three places, checked in this order:
1. ``secure.conf`` ``credentials.<name> {user_key, user_secret, role}`` (an operator's file, as in ClearML);
2. the database, created with ``auth.create_credentials``; only a bcrypt hash of the secret is stored;
3. ``apiserver.auth.fixed_users`` username/password pairs, for web login.

Tokens are checked locally (signature, expiry), then against the sessions revoked by a logout and the revoked
keys and disabled users (``trackside.shared.revocation``, which the file server checks too); endpoints open to
anyone try the credentials sent but never fail on them.

Sign-in hardening: failed logins are throttled (``throttle.py``), and every way a secret is checked costs one
bcrypt verification at the configured rounds (an unknown key, a configuration key or a plain fixed-user password
is checked against a dummy hash too), so the answer's timing does not tell which keys exist.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import time
import uuid
from dataclasses import dataclass

import bcrypt
from flask import Request, g
from pyhocon import ConfigTree
from pymongo.database import Database

from trackside.api import SERVER_VERSION, errors
from trackside.api.auth import secrets, tokens
from trackside.api.auth.addresses import client_address, proxied_client_address, trusted_networks
from trackside.api.auth.throttle import LoginThrottle, MemoryCounters, RedisCounters, ResilientCounters, ThrottleRules
from trackside.api.context import Identity
from trackside.api.registry import AUTH_LOGIN, AUTH_NONE, Endpoint
from trackside.shared import proxy_proof
from trackside.shared.auth_tokens import WEB_COOKIE, token_secret
from trackside.shared.config import ConfigError
from trackside.shared.credential_gen import new_access_key, new_secret_key
from trackside.shared.revocation import RevokedAccess, RevokedSessions, TokenRevocations, revocation_claims
from trackside.shared.revocation import refresh_sec as revocation_refresh_sec
from trackside.shared.storage import redis as redis_store
from trackside.shared.timeutil import utcnow

COOKIE_NAME = WEB_COOKIE
CREDENTIALS = "credentials"
USERS = "users"


def stable_user_id(company: str, name: str) -> str:
    """Users defined in configuration get the same 32-hex id on every start."""
    return uuid.uuid5(uuid.UUID(company), name).hex


@dataclass(frozen=True)
class _ConfigKey:
    secret: str
    identity: Identity


@dataclass(frozen=True)
class _FixedUser:
    password: str
    identity: Identity


class AuthService:
    def __init__(self, config: ConfigTree, auth_db: Database, company_id: str, company_name: str, api_version: str,
                 revoked: RevokedSessions | None = None):
        self._db = auth_db
        self._company = company_id
        self._company_name = company_name
        self._api_version = api_version
        self._token_secret = token_secret(config)
        auth = config.get_config("apiserver.auth", ConfigTree())
        # The reference's name for the default lifetime wins when an operator's configuration sets it.
        self._expiration_sec = auth.get_int("default_expiration_sec", auth.get_int("token_expiration_sec", 2592000))
        self._max_expiration_sec = auth.get_int("max_expiration_sec", 31536000)
        self._rounds = config.get_int("apiserver.auth.bcrypt_rounds", 12)
        # What an unknown key's secret is checked against: costs what checking a real one costs.
        self._dummy_hash = bcrypt.hashpw(b"no such key", bcrypt.gensalt(self._rounds)).decode()
        self.revoked_access = RevokedAccess(auth_db, revocation_refresh_sec(config),
                                            max(self._max_expiration_sec, self._expiration_sec))
        self._revocations = TokenRevocations(self.revoked_access, revoked)
        self.throttle = _login_throttle(config)
        self._trusted_proxies = trusted_networks(
            auth.get_list("login_throttle.trusted_proxies", ["127.0.0.1", "::1"]))
        self._proxy_proof_key = proxy_proof.proof_key(config)  # the web app's, wherever it runs
        self._cookie_options = _cookie_options(config.get_config("apiserver.auth.cookies", ConfigTree()))
        self._config_keys = self._read_config_credentials(config.get_config("secure.credentials", ConfigTree()))
        fixed = config.get_config("apiserver.auth.fixed_users", ConfigTree())
        self.fixed_users_enabled = fixed.get_bool("enabled", False)
        self._pass_hashed = fixed.get_bool("pass_hashed", False)
        self._fixed_users = self._read_fixed_users(fixed) if self.fixed_users_enabled else {}

    # -- start-up --------------------------------------------------------------------------------------
    def _identity(self, name: str, role: str, display_name: str | None = None) -> Identity:
        return Identity(
            user=stable_user_id(self._company, name), company=self._company, role=role,
            user_name=display_name or name, company_name=self._company_name,
        )

    def _read_config_credentials(self, section: ConfigTree) -> dict[str, _ConfigKey]:
        keys: dict[str, _ConfigKey] = {}
        for name in section.keys():
            entry = section.get_config(name)
            key, secret = entry.get("user_key", ""), entry.get("user_secret", "")
            if not key or not secret:
                continue
            role = entry.get("role", "user")
            keys[str(key)] = _ConfigKey(str(secret), self._identity(name, role, entry.get("display_name", None)))
        return keys

    def _read_fixed_users(self, fixed: ConfigTree) -> dict[str, _FixedUser]:
        users = {}
        for index, entry in enumerate(fixed.get_list("users", [])):
            username, password = entry.get("username"), entry.get("password")
            if not username or not password:
                raise ConfigError(f"apiserver.auth.fixed_users.users[{index}]: username and password are required")
            identity = self._identity(f"fixed:{username}", entry.get("role", "user"), entry.get("name", username))
            users[username] = _FixedUser(str(password), identity)
        return users

    def sync_users(self) -> None:
        """Make every configured identity a user document, so user look-ups and listings find them."""
        for identity in [k.identity for k in self._config_keys.values()] + [u.identity for u in self._fixed_users.values()]:
            self._db[USERS].update_one(
                {"_id": identity.user},
                {"$set": {"name": identity.user_name, "company": identity.company, "role": identity.role},
                 "$setOnInsert": {"created": utcnow(), "created_in_version": SERVER_VERSION}},
                upsert=True,
            )
            # Given and family name from the display name, as the reference fills them, kept once edited.
            given, _, family = identity.user_name.partition(" ")
            self._db[USERS].update_one({"_id": identity.user, "given_name": {"$exists": False}},
                                       {"$set": {"given_name": given, "family_name": family}})

    # -- per request -----------------------------------------------------------------------------------
    def authenticate(self, request: Request, endpoint: Endpoint) -> Identity | None:
        if endpoint.auth != AUTH_NONE:
            return self._authenticate(request, endpoint)
        # Open endpoints try credentials but never fail on them (the reference's "authorize: null"), so a
        # stale or revoked cookie cannot stop login.logout from clearing it.
        try:
            return self._authenticate(request, endpoint)
        except errors.APIError:
            return None

    def _authenticate(self, request: Request, endpoint: Endpoint) -> Identity | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if not header:
            cookie = request.cookies.get(COOKIE_NAME)
            if cookie:
                return self._token_identity(cookie)
            if endpoint.auth == AUTH_NONE:
                return None
            raise errors.MissingCredentials("unauthorized (missing credentials): send Authorization: Bearer <token>")
        if scheme == "bearer":
            return self._token_identity(value.strip())
        if scheme == "basic" and endpoint.auth == AUTH_LOGIN:
            key, secret = _basic_pair(value)
            return self._throttled_login(request, key, secret)
        if endpoint.auth == AUTH_NONE:
            return None
        raise errors.BadAuthType(f"unauthorized (bad authentication header type {scheme!r}): use Bearer")

    def _throttled_login(self, request: Request, key: str, secret: str) -> Identity:
        address = self._login_address(request)
        wait = self.throttle.attempt(key, address)  # counted as a failure until it succeeds
        if wait:
            g.retry_after = wait  # the app's after-request hook sends it as Retry-After
            raise errors.TooManyFailedLogins(
                f"too many failed sign-in attempts: retry in {wait} s", retry_after=wait)
        try:
            identity = self.check_credentials(key, secret)
        except errors.InvalidCredentials:
            raise  # already counted
        except Exception:
            self.throttle.forgive(key, address)  # the server failed, not the caller's guess
            raise
        self.throttle.succeeded(key, address)
        return identity

    def _login_address(self, request: Request) -> str:
        """The address the throttle charges: the caller's, or the one a trusted proxy or the web app (by its
        proof, wherever it runs) forwarded."""
        peer, forwarded = request.remote_addr or "", request.headers.get("X-Forwarded-For", "")
        real_ip = request.headers.get("X-Real-Ip", "")
        if proxy_proof.verify(self._proxy_proof_key, forwarded, request.headers.get(proxy_proof.HEADER, ""),
                              time.time()):
            return proxied_client_address(peer, forwarded, real_ip, self._trusted_proxies)
        return client_address(peer, forwarded, real_ip, self._trusted_proxies)

    def _token_identity(self, token: str) -> Identity:
        identity = tokens.identity_from(token, self._token_secret)
        refusal = self._revocations.refusal(token, identity.user)
        if refusal:
            raise errors.InvalidToken(refusal)
        g.signed_in_key = revocation_claims(token).access_key  # a token refreshed with auth.login keeps its key
        return identity

    @staticmethod
    def request_token(request: Request) -> str | None:
        """The token this request authenticated with (Bearer header, else the web cookie), if any."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        return request.cookies.get(COOKIE_NAME) or None

    def revoke(self, token: str) -> None:
        """Logout: the token stops working everywhere (API and file server)."""
        sessions = self._revocations.sessions
        if sessions is None:
            return
        try:
            tokens.identity_from(token, self._token_secret)
        except errors.InvalidToken:
            return  # nothing to revoke
        claims = revocation_claims(token)
        if claims.session_id:
            sessions.revoke(claims.session_id, claims.expires)

    def validate(self, token: str) -> dict:
        """``auth.validate_token``: whether the token is good, and whose it is."""
        try:
            identity = tokens.identity_from(token, self._token_secret)
        except errors.InvalidToken as exc:
            return {"valid": False, "msg": exc.message}
        revoked = self._revocations.refusal(token, identity.user) is not None
        return {"valid": not revoked, "user": identity.user, "company": identity.company,
                **({"msg": "revoked token"} if revoked else {})}

    def identity_for_user(self, user: dict) -> Identity:
        """The identity a token issued for a stored user carries (``auth.get_token_for_user``)."""
        return Identity(user=user["_id"], company=user["company"], role=user.get("role", "user"),
                        user_name=user.get("name", ""), company_name=self._company_name)

    def cookie_clearing(self) -> tuple[str, str, dict]:
        """The logout answer's cookie: the web-login cookie, emptied and expired."""
        return COOKIE_NAME, "", {**self._cookie_options, "max_age": 0, "expires": 0}

    def check_credentials(self, key: str, secret: str) -> Identity:
        """Every path checks one bcrypt hash (a dummy one where the key has none), so that an unknown key
        and a wrong secret take the same time."""
        configured = self._config_keys.get(key)
        if configured is not None:
            self._spend_one_check(secret)
            if hmac.compare_digest(configured.secret.encode(), secret.encode()):
                return configured.identity
            raise errors.InvalidCredentials()
        stored = self._db[CREDENTIALS].find_one({"_id": key})
        if stored is not None:
            if secrets.check_secret(secret, stored.get("secret_hash", "")):
                # The user's current role (auth.edit_user may have changed it since the key was created).
                user = self._db[USERS].find_one({"_id": stored["user"]}, {"role": 1, "name": 1, "disabled": 1}) or {}
                if user.get("disabled"):
                    raise errors.InvalidCredentials("unauthorized (invalid credentials): user disabled")
                self._db[CREDENTIALS].update_one({"_id": key}, {"$set": {"last_used": utcnow()}})
                g.signed_in_key = key
                return Identity(
                    user=stored["user"], company=stored["company"], role=user.get("role", stored.get("role", "user")),
                    user_name=user.get("name", stored.get("user_name", "")), company_name=self._company_name,
                )
            raise errors.InvalidCredentials()
        fixed = self._fixed_users.get(key)
        if fixed is None:
            self._spend_one_check(secret)
            raise errors.InvalidCredentials()
        if not self._pass_hashed:
            self._spend_one_check(secret)
        if secrets.check_fixed_user_password(secret, fixed.password, self._pass_hashed):
            return fixed.identity
        raise errors.InvalidCredentials()

    def _spend_one_check(self, secret: str) -> None:
        secrets.check_secret(secret, self._dummy_hash)

    def issue_token(self, identity: Identity, expiration_sec: int | None = None) -> str:
        return tokens.issue(identity, self._token_secret, self._api_version, self._lifetime(expiration_sec))

    def login_token(self, identity: Identity, expiration_sec: int | None = None) -> str:
        """``auth.login``'s token: it names the database key that signed in (or that the refreshed token
        named), so revoking that key refuses it."""
        return tokens.issue(identity, self._token_secret, self._api_version, self._lifetime(expiration_sec),
                            access_key=g.get("signed_in_key", ""))

    def _lifetime(self, expiration_sec: int | None) -> int:
        """A requested lifetime, at most ``max_expiration_sec`` (as the reference validates it); else the default."""
        if expiration_sec is not None and expiration_sec > self._max_expiration_sec:
            raise errors.ValidationError(
                f"Validation error (expiration_sec: must be at most {self._max_expiration_sec})",
                fields=["expiration_sec"])
        return expiration_sec or self._expiration_sec

    def is_configured_user(self, user_id: str) -> bool:
        """Users defined in configuration (secure.conf keys, fixed users) sign in without the database."""
        return any(i.identity.user == user_id for i in [*self._config_keys.values(), *self._fixed_users.values()])

    def cookie_for(self, token: str) -> tuple[str, str, dict]:
        return COOKIE_NAME, token, self._cookie_options

    # -- credentials kept in the database --------------------------------------------------------------
    def create_credentials(self, identity: Identity, label: str | None) -> dict:
        key, secret = new_access_key(), new_secret_key()
        self._db[CREDENTIALS].insert_one({
            "_id": key, "secret_hash": secrets.hash_secret(secret, self._rounds),
            "user": identity.user, "company": identity.company, "role": identity.role,
            "user_name": identity.user_name, "label": label, "created": utcnow(), "last_used": None,
        })
        return {"access_key": key, "secret_key": secret, "label": label}

    def list_credentials(self, identity: Identity) -> list[dict]:
        cursor = self._db[CREDENTIALS].find({"user": identity.user, "company": identity.company}).sort("created", 1)
        return [
            {"access_key": doc["_id"], "label": doc.get("label"), "last_used": doc.get("last_used"),
             "created": doc.get("created")}
            for doc in cursor
        ]

    def edit_credentials(self, identity: Identity, access_key: str, label: str | None) -> int:
        result = self._db[CREDENTIALS].update_one(
            {"_id": access_key, "user": identity.user, "company": identity.company}, {"$set": {"label": label}}
        )
        if not result.matched_count:
            raise errors.InvalidAccessKey(f"access key not found: {access_key}", access_key=access_key)
        return result.modified_count

    def revoke_credentials(self, identity: Identity, access_key: str) -> int:
        result = self._db[CREDENTIALS].delete_one({"_id": access_key, "user": identity.user, "company": identity.company})
        if not result.deleted_count:
            raise errors.InvalidAccessKey(f"access key not found: {access_key}", access_key=access_key)
        self.revoked_access.revoke_key(access_key, identity.user)
        return result.deleted_count


def _login_throttle(config: ConfigTree) -> LoginThrottle:
    rules = ThrottleRules.from_config(config.get_config("apiserver.auth.login_throttle", ConfigTree()))
    # A Redis outage slows one login by at most ~2 s, then the process counts in memory for a while.
    client = redis_store.connect_failing_fast(config.get_config("hosts.redis.apiserver"))
    return LoginThrottle(rules, ResilientCounters(RedisCounters(client), MemoryCounters()))


def _basic_pair(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise errors.BadCredentials("unauthorized (malformed credentials): Basic value is not base64") from None
    key, sep, secret = decoded.partition(":")
    if not sep or not key:
        raise errors.BadCredentials("unauthorized (malformed credentials): expected key:secret")
    return key, secret


def _cookie_options(cookies: ConfigTree) -> dict:
    return {
        "httponly": cookies.get_bool("httponly", True),
        "secure": cookies.get_bool("secure", False),
        "domain": cookies.get("domain", None),
        "max_age": cookies.get_int("max_age", 99999999999),
        "samesite": "Lax",
    }
