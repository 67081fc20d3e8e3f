"""Custom context-menu actions (``services.organization.ui_actions.{project,task,model,queue}``).

Each item is ``{name, tooltip, action {method, url, payload, headers}}`` as in the reference; ours also takes
``server_side: true``: the webhooks service's worker performs it (``jobs.run_ui_action``), so its url, headers
and payload (which may name ``${secret.NAME}``) never leave the server. The configuration is checked when read,
and a malformed one is refused with the path of the bad value.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from trackside.api import errors
from trackside.api.bll.common import require_ids
from trackside.shared.webhooks import jobs

SECTION = "services.organization.ui_actions"
TARGETS = ("project", "task", "model", "queue")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Where the ids of each target live, and the error for an id that is not there.
COLLECTIONS = {"project": ("projects", errors.InvalidProjectId), "task": ("tasks", errors.InvalidTaskId),
               "model": ("models", errors.InvalidModelId), "queue": ("queues", errors.InvalidQueueId)}
PARALLEL_RUNS = 8


class UiActionsConfigError(Exception):
    pass


def plain(value: Any) -> Any:
    """pyhocon trees and lists as plain dicts and lists."""
    if isinstance(value, dict):  # a ConfigTree too
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def read(config) -> dict[str, list[dict]]:
    """Every target's actions, checked and normalised; UiActionsConfigError naming the bad key."""
    section = plain(config.get(SECTION, None) or {})
    if not isinstance(section, dict):
        raise UiActionsConfigError(f"{SECTION} must be an object with the lists {', '.join(TARGETS)}")
    return {target: [_checked(f"{SECTION}.{target}[{index}]", item)
                     for index, item in enumerate(_list(f"{SECTION}.{target}", section.get(target)))]
            for target in TARGETS}


def _list(path: str, value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UiActionsConfigError(f"{path} must be a list of actions, not {type(value).__name__}")
    return value


def _checked(path: str, item: Any) -> dict:
    if not isinstance(item, dict):
        raise UiActionsConfigError(f"{path} must be an object {{name, tooltip, action}}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UiActionsConfigError(f"{path}.name must be a non-empty string")
    action = item.get("action")
    if not isinstance(action, dict):
        raise UiActionsConfigError(f"{path}.action must be an object {{method, url, payload, headers}}")
    method = action.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise UiActionsConfigError(f"{path}.action.method must be one of {', '.join(METHODS)}, not {method!r}")
    if not isinstance(action.get("url"), str) or not action["url"].strip():
        raise UiActionsConfigError(f"{path}.action.url must be a non-empty string")
    headers = action.get("headers") or {}
    if not isinstance(headers, dict):
        raise UiActionsConfigError(f"{path}.action.headers must be an object")
    server_side = item.get("server_side", False)
    if not isinstance(server_side, bool):
        raise UiActionsConfigError(f"{path}.server_side must be true or false")
    tooltip = item.get("tooltip") or ""
    return {"name": name, "tooltip": str(tooltip), "server_side": server_side,
            "action": {"method": method.upper(), "url": action["url"], "payload": action.get("payload"),
                       "headers": {str(k): str(v) for k, v in headers.items()}}}


def for_browser(item: dict) -> dict:
    """What a browser sees of an action: a server-side one keeps only its method."""
    if item.get("server_side"):
        return {**item, "action": {"method": item["action"]["method"]}}
    return item


class UiActions:
    def __init__(self, db, redis, config):
        self._db = db
        self._redis = redis
        self._config = config

    def configured(self) -> dict[str, list[dict]]:
        try:
            return read(self._config)
        except UiActionsConfigError as exc:
            raise errors.DataError(f"malformed UI actions configuration: {exc}", key=SECTION) from None

    def for_browser(self) -> dict[str, list[dict]]:
        return {target: [for_browser(item) for item in items] for target, items in self.configured().items()}

    def run(self, company: str, target: str, name: str, ids: list[str]) -> list[dict]:
        """Run the server-side action ``name`` of ``target`` once per id, on the webhooks workers."""
        item = next((i for i in self.configured()[target] if i["name"] == name), None)
        if item is None:
            raise errors.ValidationError(f"Validation error (name: no {target} action is called {name!r})",
                                         fields=["name"])
        if not item["server_side"]:
            raise errors.ValidationError(
                f"Validation error (name: the {target} action {name!r} runs in the browser, not on the server)",
                fields=["name"])
        ids = list(dict.fromkeys(ids))
        self._require(company, target, ids)
        with ThreadPoolExecutor(max_workers=min(PARALLEL_RUNS, len(ids))) as pool:
            results = list(pool.map(lambda object_id: jobs.run_ui_action(self._redis, item["action"], object_id),
                                    ids))
        return [{"id": object_id, **{k: result.get(k) for k in ("ok", "status_code", "duration_ms", "error")}}
                for object_id, result in zip(ids, results)]

    def _require(self, company: str, target: str, ids: list[str]) -> None:
        coll, not_found = COLLECTIONS[target]
        require_ids(self._db[coll], company, ids, not_found)
