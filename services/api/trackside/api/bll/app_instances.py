"""App instances: tasks carrying ``application: {app_id, version, resumable, launch_params}``.

Listing, the dashboard of one instance (its own app version's template, html resolved against the task),
renaming, stopping and relaunching. Status changes go through the task transitions, as tasks.* do.
"""
from __future__ import annotations

import copy
from datetime import datetime

from trackside.api import errors
from trackside.api.bll.app_summary import asset_url, summary
from trackside.api.bll.task_status import ARCHIVED_TAG, IN_PROGRESS, QUEUED
from trackside.api.context import Identity
from trackside.shared.apps import resolve_html

RELAUNCHED = "relaunched"
ACTIVE_STATUSES = (QUEUED, IN_PROGRESS)  # what the gallery counts as running


def instance_not_found(instance_id: str) -> errors.APIError:
    return errors.InvalidId(f"invalid instance id: {instance_id!r} is no app instance", id=instance_id)


class AppInstances:
    def __init__(self, apps, users):
        self.apps = apps  # AppsBLL: the store, the tasks and launching
        self.users = users

    @property
    def _tasks(self):
        return self.apps.tasks

    # -- reading ---------------------------------------------------------------------------------------
    def get_all(self, company: str, app_id: str | None, statuses: list[str] | None,
                updated_since: datetime | None, page: int, page_size: int) -> dict:
        """A page of the company's unarchived instances, newest first, and how many match in all."""
        query: dict = {"company": company, "application.app_id": app_id or {"$exists": True},
                       "system_tags": {"$ne": ARCHIVED_TAG}}
        if statuses:
            query["status"] = {"$in": statuses}
        if updated_since is not None:
            query["last_update"] = {"$gte": updated_since}
        coll = self._tasks.coll
        found = list(coll.find(query, _LISTED).sort([("created", -1), ("_id", -1)])
                     .skip(page * page_size).limit(page_size))
        names = self._user_names(company, [t.get("user") for t in found])
        return {"instances": [_shown(task, names) for task in found], "total": coll.count_documents(query)}

    def counts(self, company: str, app_ids: list[str]) -> dict:
        """{app id: {total, running}} of the apps' unarchived instances (running: queued or in progress)."""
        counts = {app_id: {"total": 0, "running": 0} for app_id in app_ids}
        if not app_ids:
            return counts
        rows = self._tasks.coll.aggregate([
            {"$match": {"company": company, "application.app_id": {"$in": app_ids},
                        "system_tags": {"$ne": ARCHIVED_TAG}}},
            {"$group": {"_id": {"app": "$application.app_id", "status": "$status"}, "n": {"$sum": 1}}},
        ])
        for row in rows:
            entry = counts.get(row["_id"]["app"])
            if entry is not None:
                entry["total"] += row["n"]
                if row["_id"]["status"] in ACTIVE_STATUSES:
                    entry["running"] += row["n"]
        return counts

    def info(self, company: str, instance_id: str) -> dict:
        """The instance, its own app version's summary and dashboard with html resolved against the task."""
        task = self._load(company, instance_id)
        application = task["application"]
        app_id, version = application.get("app_id"), application.get("version")
        names = self._user_names(company, [task.get("user")])
        stored = self.apps.store.version(company, app_id, version)
        app_doc = self.apps.store.find(company, app_id)
        reply = {
            "instance": _shown({**task, "_id": task["id"]}, names),
            "task": {"id": task["id"], "hyperparams": task.get("hyperparams") or {},
                     "configuration": task.get("configuration") or {}},
        }
        if stored is None or app_doc is None:  # the app (or this version) was deleted; the task stays
            return {**reply, "app": None, "app_missing": True, "dashboard": {"lines": []}}
        counts = self.counts(company, [app_id])[app_id]
        dashboard = copy.deepcopy(stored["app"].get("dashboard") or {"lines": []})
        for line in dashboard.get("lines") or []:
            for element in line.get("contents") or []:
                if element.get("type") == "html" and isinstance(element.get("text"), str):
                    element["text"] = resolve_html(element["text"], task,
                                                   lambda name: asset_url(app_id, version, name))
        return {**reply, "app": summary(stored["app"], app_doc.get("enabled", True), counts), "app_missing": False,
                "dashboard": dashboard}

    # -- changing --------------------------------------------------------------------------------------
    def rename(self, identity: Identity, instance_id: str, name: str) -> dict:
        self._load(identity.company, instance_id)
        if not name.strip():
            raise errors.ValidationError("Validation error (name: must not be empty)", fields=["name"])
        return {"updated": self._tasks.update(identity, instance_id, {"name": name})["updated"]}

    def stop(self, identity: Identity, instance_id: str, force: bool) -> dict:
        """tasks.stop semantics: a queued instance leaves its queue; a running one is stopped by its agent."""
        self._load(identity.company, instance_id)
        self._tasks.transitions.stop(identity, instance_id, force, "stopped from the app page")
        return {"stopped": 1}

    def relaunch(self, identity: Identity, instance_id: str, read_choices) -> dict:
        """The stored launch_params launched again on the app's current version; the old task is stopped and
        archived only once they are known to be valid, so a refused relaunch leaves it as it was."""
        task = self._load(identity.company, instance_id)
        application = task["application"]
        params = application.get("launch_params") or {}
        app, values = self.apps.checked_launch(identity, application.get("app_id"), params, read_choices)
        if task.get("status") in (QUEUED, IN_PROGRESS):
            self._tasks.transitions.stop(identity, instance_id, True, RELAUNCHED)
        self._tasks.archive(identity, instance_id, RELAUNCHED, f"relaunched as a new instance of {app['id']}")
        return self.apps.start_instance(identity, app, params, values, task.get("name"))

    # -- helpers ---------------------------------------------------------------------------------------
    def _load(self, company: str, instance_id: str) -> dict:
        """The instance task in API shape; anything else (unknown, another company's, a plain task) is 400/10."""
        if not self._tasks.coll.count_documents(
                {"_id": instance_id, "company": company, "application": {"$exists": True}}, limit=1):
            raise instance_not_found(instance_id)
        return self._tasks.get(company, instance_id)

    def _user_names(self, company: str, user_ids: list) -> dict:
        ids = sorted({u for u in user_ids if u})
        return {u["id"]: u["name"] for u in self.users.names(company, ids)} if ids else {}


_LISTED = {"name": 1, "application": 1, "status": 1, "status_message": 1, "status_reason": 1, "created": 1,
           "started": 1, "completed": 1, "last_update": 1, "user": 1, "execution.queue": 1, "project": 1}


def _shown(task: dict, names: dict) -> dict:
    """An instance as apps.get_instances lists it (a stored task: ``_id``)."""
    application = task.get("application") or {}
    user = task.get("user")
    return {
        "id": task["_id"], "name": task.get("name"), "app_id": application.get("app_id"),
        "version": application.get("version"), "status": task.get("status"),
        "status_message": task.get("status_message"), "status_reason": task.get("status_reason"),
        "created": task.get("created"), "started": task.get("started"), "completed": task.get("completed"),
        "last_update": task.get("last_update"), "user": {"id": user, "name": names.get(user, "")},
        "queue": (task.get("execution") or {}).get("queue"), "project": task.get("project"),
    }
