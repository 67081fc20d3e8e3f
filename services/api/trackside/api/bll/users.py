"""Users: documents in the auth database, created from configuration at start-up (no sign-up)."""
from __future__ import annotations

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import to_api
from trackside.api.context import Identity


class UsersBLL:
    def __init__(self, auth_db: Database):
        self._users = auth_db["users"]

    def current(self, identity: Identity) -> dict:
        doc = self._users.find_one({"_id": identity.user, "company": identity.company})
        if doc is None:
            # Identities from tokens always map to a user created at start-up or with their credentials.
            raise errors.InvalidUserId(f"invalid user id: {identity.user}", id=identity.user)
        user = to_api(doc)
        user["company"] = {"id": identity.company, "name": identity.company_name}
        user.setdefault("given_name", user.get("name"))
        user.setdefault("family_name", "")
        user.setdefault("preferences", {})
        return user

    def names(self, company: str, ids: list[str] | None = None) -> list[dict]:
        query: dict = {"company": company}
        if ids is not None:
            query["_id"] = {"$in": ids}
        return [{"id": d["_id"], "name": d.get("name", "")} for d in self._users.find(query, {"name": 1}).sort("name", 1)]
