"""What the API shows of an app version: the gallery's summary, and asset references turned into URLs."""
from __future__ import annotations

import copy
from urllib.parse import quote, urlencode

from trackside.shared.apps.assets import ASSET_REF

SUMMARY_KEYS = ("name", "version", "provider", "description", "badges", "category", "featured", "resumable",
                "default_queue", "details_page")


def asset_url(app_id: str, version: str, name: str) -> str:
    """The API path serving one asset (relative to the API root)."""
    return "/apps.get_asset?" + urlencode({"app": app_id, "version": version, "file": name}, quote_via=quote)


def resolved_url(value: str | None, app_id: str, version: str) -> str | None:
    """``${ASSET:file}`` becomes the asset's URL; a public URL stays as given."""
    if not value:
        return None
    return ASSET_REF.sub(lambda m: asset_url(app_id, version, m.group(1)), value)


def summary(app: dict, enabled: bool, instances: dict | None = None) -> dict:
    """What the gallery shows of one app version."""
    out = {"id": app["id"], **{key: copy.deepcopy(app.get(key)) for key in SUMMARY_KEYS}, "enabled": enabled}
    out["icon_url"] = resolved_url(app.get("icon"), app["id"], app["version"])
    out["no_info_html_url"] = resolved_url(app.get("no_info_html"), app["id"], app["version"])
    out["instances"] = instances or {"total": 0, "running": 0}
    return out
