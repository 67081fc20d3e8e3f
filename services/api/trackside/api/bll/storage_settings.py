"""Storage credentials per company (``storage.*``): one ``storage_settings`` document per company with
``aws``, ``google`` and ``azure`` sections; a section not stored falls back to the server's configuration
(``services.storage_credentials``, as the reference's). Setting a section replaces it whole; resetting
removes it.

The settings hold secrets: nothing here logs them, and errors never echo values.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from pymongo.database import Database
from pyhocon import ConfigTree

from trackside.api import errors
from trackside.shared.ids import new_id
from trackside.shared.timeutil import utcnow

SECTIONS = ("aws", "google", "azure")
# What a bucket or container entry shows when a field was never given (the reference's schema defaults).
AWS_BUCKET_DEFAULTS = {
    "bucket": "", "subdir": "", "host": "", "key": "", "secret": "", "token": "", "multipart": True, "acl": "",
    "secure": True, "region": "", "verify": True, "use_credentials_chain": False,
}
GOOGLE_BUCKET_DEFAULTS = {"bucket": "", "subdir": "", "project": None, "credentials_json": None}
AZURE_CONTAINER_DEFAULTS = {"account_name": "", "account_key": None, "container_name": None}


def _plain(value: Any) -> Any:
    return value.as_plain_ordered_dict() if isinstance(value, ConfigTree) else value


def _entries(items: Iterable[Mapping] | None, defaults: dict) -> list[dict]:
    return [{**defaults, **{k: v for k, v in dict(item).items() if k in defaults and v is not None}}
            for item in (items or [])]


class StorageSettingsBLL:
    def __init__(self, db: Database, config: ConfigTree):
        self.coll = db["storage_settings"]
        self._defaults = _plain(config.get("services.storage_credentials", None)) or {}

    def get(self, company: str) -> dict:
        stored = self.coll.find_one({"company": company}) or {}
        return {
            "aws": self._aws(stored.get("aws")),
            "google": self._google(stored.get("google")),
            "azure": self._azure(stored.get("azure")),
            "last_update": stored.get("last_update"),
        }

    def _aws(self, stored: dict | None) -> dict:
        if stored:
            return {
                **{k: stored.get(k) for k in ("key", "secret", "token", "region")},
                "use_credentials_chain": bool(stored.get("use_credentials_chain", False)),
                "buckets": _entries(stored.get("buckets"), AWS_BUCKET_DEFAULTS),
            }
        conf = dict(self._defaults.get("aws", {}).get("s3", {}) or {})
        return {
            **{k: str(conf.get(k) or "").strip() for k in ("key", "secret", "token", "region")},
            "use_credentials_chain": bool(conf.get("use_credentials_chain") or False),
            "buckets": _entries(conf.get("credentials"), AWS_BUCKET_DEFAULTS),
        }

    def _google(self, stored: dict | None) -> dict:
        source = stored or dict(self._defaults.get("google", {}).get("storage", {}) or {})
        buckets = source.get("buckets") if stored else source.get("credentials")
        return {
            "project": source.get("project"),
            "credentials_json": source.get("credentials_json"),
            "buckets": _entries(buckets, GOOGLE_BUCKET_DEFAULTS),
        }

    def _azure(self, stored: dict | None) -> dict:
        source = stored or dict(self._defaults.get("azure", {}).get("storage", {}) or {})
        return {"containers": _entries(source.get("containers"), AZURE_CONTAINER_DEFAULTS)}

    def set(self, company: str, settings: Mapping[str, Any]) -> int:
        update = {name: settings[name] for name in SECTIONS if settings.get(name) is not None}
        if not update:
            raise errors.ValidationError("No settings were provided: give aws, google or azure")
        credentials = update.get("google", {}).get("credentials_json")
        if credentials:
            try:
                json.loads(credentials)
            except ValueError as exc:  # the message names the position only, never the content
                raise errors.ValidationError(f"Invalid json credentials: {exc}", field="google.credentials_json") \
                    from None
        self.coll.update_one(
            {"company": company},
            {"$set": {**update, "last_update": utcnow()}, "$setOnInsert": {"_id": new_id()}},
            upsert=True,
        )
        return 1

    def reset(self, company: str, keys: list[str]) -> int:
        update: dict = {"$set": {"last_update": utcnow()}}
        if keys:
            update["$unset"] = {k: "" for k in keys}
        return self.coll.update_one({"company": company}, update).matched_count
