"""Users: one document per person in the auth database (``users``), created from configuration at start-up,
by ``users.create`` or by ``auth.create_user``; their profile and their preferences.

Preferences are a sub-document of the user (the web app keeps its table layouts there). ``set_preferences``
writes each changed key with its own ``$set`` path, so two concurrent calls that change different keys both
land (no read-modify-write).
"""
from __future__ import annotations

import copy
import json
from typing import Any, Iterable, Mapping

from pymongo.database import Database
from pymongo.errors import WriteError

from trackside.api import SERVER_VERSION, errors
from trackside.api.bll.common import get_all
from trackside.api.context import Identity
from trackside.shared.storage.query import QuerySpec
from trackside.shared.timeutil import utcnow

USERS = "users"
CREDENTIALS = "credentials"
SPEC = QuerySpec(pattern_fields=("name",), list_fields=("id",))
# What listings and look-ups show of a user: never preferences (their own endpoint) nor e-mail.
PUBLIC_FIELDS = ("name", "given_name", "family_name", "avatar", "company", "role", "created", "created_in_version")
# What users.update changes (the schema's fields).
PROFILE_FIELDS = ("name", "given_name", "family_name", "avatar")
ROLES = ("admin", "superuser", "user", "annotator", "guest")
ADMIN_ROLES = frozenset({"system", "root", "admin"})


def _public(doc: dict) -> dict:
    user = {"id": doc["_id"]}
    user.update({k: doc[k] for k in PUBLIC_FIELDS if k in doc})
    return user


class UsersBLL:
    def __init__(self, auth_db: Database):
        self._users = auth_db[USERS]
        self._credentials = auth_db[CREDENTIALS]

    # -- reading ---------------------------------------------------------------------------------------
    def current(self, identity: Identity) -> dict:
        """``users.get_current_user``: the caller, with the company as an object and the token's role."""
        doc = self._users.find_one({"_id": identity.user, "company": identity.company}, {"preferences": 0})
        if doc is None:
            raise errors.InvalidUser(f"failed loading user {identity.user}", id=identity.user)
        user = _public(doc)
        user["company"] = {"id": identity.company, "name": identity.company_name}
        user["role"] = identity.role
        return user

    def get(self, company: str, user_id: str) -> dict:
        doc = self._users.find_one({"_id": user_id, "company": company}, {"preferences": 0})
        if doc is None:
            raise errors.InvalidUserId(f"invalid user id: {user_id}", id=user_id, company=company)
        return _public(doc)

    def get_all(self, company: str, params: Mapping[str, Any]) -> list[dict]:
        if not params.get("order_by"):
            params = {**params, "order_by": ["name", "id"]}
        users = get_all(self._users, company, params, SPEC, hidden_aware=False)
        if params.get("only_fields"):
            return [{k: v for k, v in u.items() if k not in ("preferences", "email")} for u in users]
        return [{"id": u["id"], **{k: u[k] for k in PUBLIC_FIELDS if k in u}} for u in users]

    def names(self, company: str, ids: list[str] | None = None) -> list[dict]:
        query: dict = {"company": company}
        if ids is not None:
            query["_id"] = {"$in": ids}
        return [{"id": d["_id"], "name": d.get("name", "")} for d in self._users.find(query, {"name": 1}).sort("name", 1)]

    # -- writing ---------------------------------------------------------------------------------------
    def create(self, user_id: str, company: str, fields: Mapping[str, Any], role: str = "user",
               email: str | None = None) -> str:
        if self._users.find_one({"_id": user_id}, {"_id": 1}) is not None:
            raise errors.UserIdExists(f"user id already exists: {user_id}", id=user_id)
        if email and self._users.find_one({"email": email}, {"_id": 1}) is not None:
            raise errors.ExpectedUniqueData(f"a user with this email already exists: {email}", email=email)
        doc = {"_id": user_id, "company": company, "role": role, "created": utcnow(),
               "created_in_version": SERVER_VERSION, "preferences": {}}
        doc.update({k: v for k, v in fields.items() if k in PROFILE_FIELDS and v is not None})
        if email:
            doc["email"] = email
        self._users.insert_one(doc)
        return user_id

    def delete(self, company: str, user_id: str) -> None:
        """The user and the database-kept credentials that logged in as them."""
        if not self._users.delete_one({"_id": user_id, "company": company}).deleted_count:
            raise errors.InvalidUserId(f"invalid user id: {user_id}", id=user_id)
        self._credentials.delete_many({"user": user_id, "company": company})

    def update(self, company: str, user_id: str, fields: Mapping[str, Any]) -> tuple[int, dict]:
        """``users.update``: profile fields only; an unknown user updates nothing, as in the reference."""
        changes = {k: v for k, v in fields.items() if k in PROFILE_FIELDS and v is not None}
        if not changes:
            return 0, {}
        result = self._users.update_one({"_id": user_id, "company": company}, {"$set": changes})
        if "name" in changes:
            # Credentials carry the name into the tokens they log in with.
            self._credentials.update_many({"user": user_id, "company": company},
                                          {"$set": {"user_name": changes["name"]}})
        return result.matched_count, changes

    def set_role(self, company: str, user_id: str, role: str) -> int:
        result = self._users.update_one({"_id": user_id, "company": company}, {"$set": {"role": role}})
        if not result.matched_count:
            raise errors.InvalidUserId(f"invalid user id: {user_id}", id=user_id)
        self._credentials.update_many({"user": user_id, "company": company}, {"$set": {"role": role}})
        return result.modified_count

    def set_disabled(self, company: str, user_id: str, disabled: bool) -> int:
        """A disabled user's database keys stop signing in (auth/service.py checks the flag)."""
        change = {"$set": {"disabled": True}} if disabled else {"$unset": {"disabled": ""}}
        result = self._users.update_one({"_id": user_id, "company": company}, change)
        if not result.matched_count:
            raise errors.InvalidUserId(f"invalid user id: {user_id}", id=user_id)
        return result.modified_count

    def find(self, user_id: str, company: str | None = None) -> dict | None:
        query = {"_id": user_id, **({"company": company} if company else {})}
        return self._users.find_one(query, {"preferences": 0})

    # -- preferences -----------------------------------------------------------------------------------
    def preferences(self, identity: Identity) -> dict:
        doc = self._users.find_one({"_id": identity.user, "company": identity.company}, {"preferences": 1})
        if doc is None:
            raise errors.InvalidUserId(f"invalid user id: {identity.user}", id=identity.user)
        prefs = doc.get("preferences")
        if isinstance(prefs, str):  # stored as JSON text by the reference server
            prefs = json.loads(prefs) if prefs else {}
        return prefs or {}

    def set_preferences(self, identity: Identity, changes: Mapping[str, Any]) -> dict:
        writes = preference_writes(changes)
        query = {"_id": identity.user, "company": identity.company}
        if not writes:
            self.preferences(identity)  # still an error for an unknown user
            return {"updated": 0, "fields": {}}
        update = {"$set": {"preferences." + ".".join(path): value for path, value in writes.items()}}
        try:
            result = self._users.update_one(query, update)
        except WriteError as exc:
            if not self._upgrade_text_preferences(query):
                raise _malformed(changes, exc) from None
            try:
                result = self._users.update_one(query, update)
            except WriteError as again:
                raise _malformed(changes, again) from None
        if not result.matched_count:
            raise errors.InvalidUserId(f"invalid user id: {identity.user}", id=identity.user)
        if not result.modified_count:
            return {"updated": 0, "fields": {}}
        return {"updated": 1, "fields": {"preferences": self.preferences(identity)}}

    def _upgrade_text_preferences(self, query: dict) -> bool:
        """Preferences stored as JSON text or null (the reference's form) become an object, compared and set,
        so per-key paths apply; False when they already are one (the write failed for another reason)."""
        doc = self._users.find_one(query, {"preferences": 1})
        if doc is None or isinstance(doc.get("preferences"), dict):
            return False
        text = doc.get("preferences")
        value = json.loads(text) if isinstance(text, str) and text else {}
        self._users.update_one({**query, "preferences": text}, {"$set": {"preferences": value}})
        return True


def _malformed(changes: Mapping[str, Any], exc: WriteError) -> errors.APIError:
    """A dotted key through a stored value that is not an object."""
    detail = (exc.details or {}).get("errmsg") or str(exc)
    return errors.InvalidPreferencesUpdate(f"malformed preferences update: {detail}", keys=sorted(changes))


def preference_writes(changes: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """The ``$set`` paths for a ``set_preferences`` request, applied in order as the reference applies them:
    a top-level key is a dotted path (``{"a.b": 0}`` sets ``b`` in object ``a``); a later key under an
    earlier one changes that earlier value, a later key above earlier ones replaces them. Keys inside values
    may not start with ``$`` nor contain ``.``."""
    writes: dict[tuple[str, ...], Any] = {}
    for key, value in changes.items():
        path = _checked_path(key)
        _check_nested_keys(value)
        for earlier in [p for p in writes if p[:len(path)] == path]:
            del writes[earlier]
        parent = next((p for p in writes if path[:len(p)] == p), None)
        if parent is None:
            writes[path] = copy.deepcopy(value)
            continue
        target = writes[parent]
        for part in path[len(parent):-1]:
            if not isinstance(target, dict):
                raise errors.InvalidPreferencesUpdate(f"key {key!r} goes through a value that is not an object",
                                                      key=key)
            target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise errors.InvalidPreferencesUpdate(f"key {key!r} goes through a value that is not an object", key=key)
        target[path[-1]] = copy.deepcopy(value)
    return writes


def _checked_path(key: str) -> tuple[str, ...]:
    parts = tuple(key.split("."))
    if any(not p or p.startswith("$") for p in parts):
        raise errors.FieldsValueError(
            f"Key {key} is invalid: keys cannot be empty, start with '$' or have empty dotted parts", key=key
        )
    return parts


def _check_nested_keys(value: Any) -> None:
    for key, item in _nested_items(value):
        if not isinstance(key, str) or key.startswith("$") or "." in key or not key:
            raise errors.FieldsValueError(f"Key {key} is invalid. Keys cannot start with '$' or contain '.'.",
                                          key=key)


def _nested_items(value: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _nested_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nested_items(item)
