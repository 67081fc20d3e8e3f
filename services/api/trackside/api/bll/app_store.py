"""Installed custom applications, per company: ``apps`` (one document per app) and ``app_versions``.

An upload of a new version keeps the older version documents, so instances launched from them keep their
dashboards; re-uploading a version replaces it. The validated app.conf is kept as JSON text (``app_json``):
its keys are user text (hyperparameter sections, ``default_conditional_on`` values such as "0.5") that may
hold dots or ``$``, which document field names must not. Assets are a list of ``{name, data}`` for the same
reason.
"""
from __future__ import annotations

import json

from pymongo.database import Database

from trackside.api import errors
from trackside.api.context import Identity
from trackside.shared.apps import AppPackage
from trackside.shared.timeutil import utcnow

APPS, APP_VERSIONS = "apps", "app_versions"
# A version document holds all assets; MongoDB refuses a document over 16 MiB, so the assets stop below it.
MAX_STORED_ASSET_BYTES = 15 * 1024 * 1024


def app_key(company: str, app_id: str) -> str:
    return f"{company}:{app_id}"


class AppStore:
    def __init__(self, db: Database):
        self.apps = db[APPS]
        self.versions = db[APP_VERSIONS]
        self._tasks = db["tasks"]

    def setup(self) -> None:
        self.apps.create_index([("company", 1), ("app_id", 1)], name="apps_company_app")
        self.versions.create_index([("company", 1), ("app_id", 1), ("version", 1)], unique=True,
                                   name="app_versions_company_app_version")
        # Instances are found by their app (gallery counts, apps.get_instances) among all the company's tasks.
        self._tasks.create_index([("company", 1), ("application.app_id", 1), ("created", -1)],
                                 name="tasks_company_application_created")

    # -- writing ---------------------------------------------------------------------------------------
    def save(self, identity: Identity, package: AppPackage) -> bool:
        """Store the package as its app's current version; True when that version existed (replaced)."""
        company, now = identity.company, utcnow()
        version_key = {"company": company, "app_id": package.id, "version": package.version}
        version_doc = {
            **version_key, "app_json": json.dumps(package.app), "uploaded": now, "user": identity.user,
            "assets": [{"name": name, "data": data} for name, data in sorted(package.assets.items())],
        }
        replaced = self.versions.replace_one(version_key, version_doc, upsert=True).matched_count > 0
        self.apps.update_one(
            {"_id": app_key(company, package.id)},
            {"$set": {"company": company, "app_id": package.id, "version": package.version,
                      "last_update": now, "user": identity.user},
             "$setOnInsert": {"enabled": True, "created": now}},
            upsert=True)
        return replaced

    def set_enabled(self, company: str, app_id: str, enabled: bool) -> int:
        self.require(company, app_id)
        self.apps.update_one({"_id": app_key(company, app_id)}, {"$set": {"enabled": enabled, "last_update": utcnow()}})
        return 1

    def delete(self, company: str, app_id: str) -> int:
        if not self.apps.delete_one({"_id": app_key(company, app_id)}).deleted_count:
            raise app_not_found(app_id)
        self.versions.delete_many({"company": company, "app_id": app_id})
        return 1

    # -- reading ---------------------------------------------------------------------------------------
    def find(self, company: str, app_id: str) -> dict | None:
        return self.apps.find_one({"_id": app_key(company, app_id)})

    def require(self, company: str, app_id: str) -> dict:
        found = self.find(company, app_id)
        if found is None:
            raise app_not_found(app_id)
        return found

    def listed(self, company: str, ids: list[str] | None, include_disabled: bool) -> list[dict]:
        query: dict = {"company": company}
        if ids:
            query["app_id"] = {"$in": ids}
        if not include_disabled:
            query["enabled"] = True
        return list(self.apps.find(query))

    def version(self, company: str, app_id: str, version: str) -> dict | None:
        """The stored version without its assets: ``app`` is the validated app.conf."""
        doc = self.versions.find_one({"company": company, "app_id": app_id, "version": version}, {"assets": 0})
        if doc is None:
            return None
        doc["app"] = json.loads(doc.pop("app_json"))
        return doc

    def asset(self, company: str, app_id: str, version: str, name: str) -> bytes | None:
        doc = self.versions.find_one({"company": company, "app_id": app_id, "version": version}, {"assets": 1})
        for item in (doc or {}).get("assets") or []:
            if item.get("name") == name:
                return bytes(item["data"])
        return None

    def current(self, company: str, app_id: str) -> tuple[dict, dict]:
        """(the app document, its current version); an unknown app is 400 invalid id naming it."""
        app_doc = self.require(company, app_id)
        version = self.version(company, app_id, app_doc["version"])
        if version is None:  # an interrupted upload wrote the app but not the version
            raise app_not_found(app_id)
        return app_doc, version


def app_not_found(app_id: str) -> errors.APIError:
    return errors.InvalidId(f"invalid app id: {app_id!r} not found", id=app_id)
