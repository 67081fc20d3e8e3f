"""server.*: what this server is (info, config, endpoints), its usage statistics, and the stats opt-in."""
from __future__ import annotations

from typing import Any

from marshmallow import fields

from trackside.api import SERVER_VERSION, errors
from trackside.api.bll import ui_actions
from trackside.api.bll.users import ADMIN_ROLES
from trackside.api.context import Call
from trackside.api.registry import AUTH_NONE, REGISTRY, endpoint, format_version
from trackside.api.schema import Bool, RequestSchema, Str

UI_ACTION_TARGETS = ("project", "task", "model", "queue")
# Optional features a client shows only when the server serves them: feature -> an endpoint that proves it.
FEATURE_ENDPOINTS = {
    "reports": "reports.create",
    "pipelines": "pipelines.start_pipeline",
    "serving": "serving.register_container",
    "storage_settings": "storage.get_settings",
    "webhooks": "webhooks.create",
    "public_objects": "projects.make_public",
    "applications": "apps.get_apps",
}


@endpoint("server.info", RequestSchema, auth=AUTH_NONE)
def info(call: Call) -> dict:
    """Open to anyone, as in the reference."""
    return {"version": SERVER_VERSION, "build": "trackside", "commit": ""}


@endpoint("server.info", RequestSchema, min_version="2.8", auth=AUTH_NONE)
def info_2_8(call: Call) -> dict:
    return {**info(call), "uid": call.app.company_id}


@endpoint("server.info", RequestSchema, min_version="2.12", auth=AUTH_NONE)
def info_2_12(call: Call) -> dict:
    # The reference drops uid from 2.12 on (its 2.12 handler builds on the 2.1 one); kept here, as clients
    # that read it at 2.8 expect it still.
    return {**info_2_8(call), "api_version": format_version(call.app.max_version)}


class GetConfigRequest(RequestSchema):
    path = Str()


@endpoint("server.config", GetConfigRequest, auth=AUTH_NONE)
def config(call: Call) -> dict:
    """What a browser app needs to start, never the configuration itself: the reference hands its whole
    configuration (less ``secure``) to system users only; this answer is safe for anyone, and the
    configured UI actions are added for a logged-in caller. ``path`` picks a dotted part of it."""
    answer = _config_answer(call)
    path = call.data.get("path")
    if not path:
        return answer
    value: Any = answer
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise errors.FieldsValueError(f"no such configuration path: {path}", path=path)
        value = value[part]
    return value if isinstance(value, dict) else {"value": value}


def _config_answer(call: Call) -> dict:
    conf, auth = call.app.config, call.app.auth
    answer = {
        "version": SERVER_VERSION,
        "api_version": format_version(call.app.max_version),
        "feature_set": "basic",
        "login": {
            "basic": {"enabled": auth.fixed_users_enabled, "guest": {"enabled": False}},
            "sso": {},
            "sso_providers": [],
        },
        "features": {name: REGISTRY.resolve(ep, call.app.max_version) is not None
                     for name, ep in FEATURE_ENDPOINTS.items()},
        "files_server": conf.get("hosts.fileserver", ""),
        "max_download_items": int(conf.get("services.organization.download.max_download_items", 50000)),
    }
    if call.identity is not None:
        answer["ui_actions"] = _ui_actions(conf)
        answer["events_store"] = conf.get("services.events.store", "mongo")  # the settings page's summary
    return answer


def _ui_actions(conf) -> dict:
    actions = conf.get("services.organization.ui_actions", None) or {}
    if hasattr(actions, "as_plain_ordered_dict"):
        actions = actions.as_plain_ordered_dict()
    # Server-side actions keep their url, headers and payload on the server (bll/ui_actions.py).
    return {target: [ui_actions.for_browser(item) if isinstance(item, dict) and isinstance(item.get("action"), dict)
                     else item for item in ui_actions.plain(list(actions.get(target) or []))]
            for target in UI_ACTION_TARGETS}


@endpoint("server.endpoints", RequestSchema)
def endpoints(call: Call) -> dict:
    """Every served endpoint with its implementations, newest first, as the reference lists them."""
    return {
        "endpoints": {
            name: [
                {
                    "min_version": format_version(ep.min_version),
                    "required_fields": _required_fields(ep.schema),
                    "auth": ep.auth,
                    "roles": sorted(ep.roles) if ep.roles else None,
                }
                for ep in REGISTRY.versions(name)
            ]
            for name in REGISTRY.names()
        },
        "models": {},
    }


def _required_fields(schema) -> list[str]:
    if schema is None:
        return []
    return sorted((f.data_key or name) for name, f in schema().fields.items() if f.required)


class GetStatsRequest(RequestSchema):
    interval = fields.Integer()  # accepted and unused, as in the reference


@endpoint("server.get_stats", GetStatsRequest, roles=tuple(ADMIN_ROLES))
def get_stats(call: Call) -> dict:
    return call.app.server_stats.report(call.identity.company)


class ReportStatsOptionRequest(RequestSchema):
    enabled = Bool()


@endpoint("server.report_stats_option", ReportStatsOptionRequest, min_version="2.4")
def report_stats_option(call: Call) -> dict:
    """Trackside never sends usage statistics: the answer of a reference server with reporting unsupported,
    which stores nothing either."""
    return {"supported": False}
