"""Tasks: reading, creation and edits, clones, deletion, archiving and the per-project statistics.

Status changes live in :mod:`task_transitions` (``TasksBLL.transitions``) and edits of parameters,
configuration, artifacts and models in :mod:`task_contents` (``TasksBLL.contents``); all three share one
:class:`TaskStore`.
"""
from __future__ import annotations

from datetime import timedelta

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import get_all, owner_ids, require_ids, set_fields
from trackside.api.bll.task_cleanup import CLEANUP_FIELDS, CONTROLLER, CleanupResult
from trackside.api.bll.task_contents import EditRule, TaskContents
from trackside.api.bll.task_documents import (
    DELETED_PREFIX, MERGED_SUBDOCS, clone_fields, edit_writes, new_task, prepare_fields,
)
from trackside.api.bll.task_params import storage_path, unescape_task
from trackside.api.bll.task_status import (
    ARCHIVED_TAG, COMPLETED, CREATED, IN_PROGRESS, PUBLISHED, STOPPED, TASK_STATUSES, UNKNOWN,
)
from trackside.api.bll.task_store import TaskStore, changed_by
from trackside.api.bll.task_transitions import TaskTransitions
from trackside.api.context import Identity
from trackside.shared import domain_events
from trackside.shared.events import EventStore
from trackside.shared.ids import is_id
from trackside.shared.storage.query import QuerySpec
from trackside.shared.timeutil import utcnow

SPEC = QuerySpec(
    pattern_fields=("name", "comment", "report"),
    list_fields=("id", "tags", "system_tags", "project", "status", "type", "user", "parent", "hyperparams.*",
                 "execution.queue", "models.input.model"),
    range_fields=("created", "started", "active_duration", "last_metrics.*", "last_iteration"),
    datetime_fields=("status_changed", "last_update", "last_change"),
    date_fields=frozenset({"created", "started"}),
    plain_fields=("runtime.*",),
    numeric_prefixes=("hyperparams.", "last_metrics.", "execution.parameters."),
    text_fields=("name", "id", "comment", "report", "models.input.model", "models.output.model",
                 "script.repository", "script.entry_point"),
)
# The data of a task.created domain event, besides id and name.
TASK_CREATED_FIELDS = ("project", "type", "status", "user")
# What tasks.update may change in any status (tasks.edit covers the task's definition).
UPDATABLE = {"name", "tags", "system_tags", "comment", "project"}


class TasksBLL:
    def __init__(self, db: Database, projects, queues, models, events: EventStore, workers=None):
        self.coll = db["tasks"]
        self.projects = projects
        self.queues = queues
        self.models = models
        self.events = events
        self.store = TaskStore(self.coll)
        self.transitions = TaskTransitions(self.store, projects, queues, models, events, workers)
        self.contents = TaskContents(self.store)

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, company: str, task_id: str, allow_public: bool = False) -> dict:
        """``allow_public`` only for reads (tasks.get_by_id): public tasks are never written by others."""
        return self.store.load(company, task_id, allow_public=allow_public)

    def get_all(self, company: str, params: dict) -> list[dict]:
        params = dict(params)
        if params.get("include_subprojects") and params.get("project"):
            params["project"] = self._with_subprojects(company, params["project"])
        for key in ("only_fields", "order_by"):
            if params.get(key):
                params[key] = [storage_path(path) for path in params[key]]
        for key in [k for k in params if k.startswith("hyperparams.")]:  # filters by a parameter's value
            params[storage_path(key)] = params.pop(key)
        # Tasks asked for by id are found even when hidden, as in the reference server; public tasks are
        # listed unless get_all_ex says allow_public: false.
        tasks = get_all(self.coll, company, params, SPEC, hidden_aware=not params.get("id"),
                        allow_public=params.get("allow_public", True))
        return [unescape_task(task) for task in tasks]

    def _with_subprojects(self, company: str, project_ids: list) -> list:
        expanded = []
        for value in project_ids:
            expanded.extend(self.projects.subtree_ids(company, value) if is_id(value) else [value])
        return list(dict.fromkeys(expanded))

    def types(self, company: str, project_ids: list[str] | None) -> list[str]:
        query: dict = {"company": company}
        if project_ids:
            query["project"] = {"$in": project_ids}
        return sorted(t for t in self.coll.distinct("type", query) if t)

    # -- creating and editing --------------------------------------------------------------------------
    def create(self, identity: Identity, data: dict, application: dict | None = None) -> str:
        """``application``: only apps.launch_instance sets it (the task is an app instance); no request can."""
        now = utcnow()
        fields = prepare_fields(data, now)
        self._check_references(identity.company, fields)
        doc = new_task(identity, fields, now)
        if application:
            doc["application"] = application
        self.coll.insert_one(doc)
        self.store.counters.reconcile(doc["_id"])
        self.projects.touch(identity.company, doc["project"])
        domain_events.publish_object("task.created", identity.company, doc, TASK_CREATED_FIELDS)
        return doc["_id"]

    def validate(self, identity: Identity, data: dict) -> None:
        """tasks.validate: every check of tasks.create, nothing written (a deleted parent is ignored)."""
        if str(data.get("parent") or "").startswith(DELETED_PREFIX):
            data = {k: v for k, v in data.items() if k != "parent"}
        now = utcnow()
        fields = prepare_fields(data, now)
        self._check_references(identity.company, fields)
        new_task(identity, fields, now)

    def edit(self, identity: Identity, task_id: str, data: dict, force: bool) -> dict:
        """Change the task's definition; only a new task unless ``force``."""
        task = self.store.load(identity.company, task_id, list(MERGED_SUBDOCS))
        rule = EditRule(None if force else False)
        rule.check(task)
        fields = prepare_fields(data, utcnow())
        if not fields:
            return {"updated": 0, "fields": {}}
        self._check_references(identity.company, fields)
        writes = {**edit_writes(task, fields), **changed_by(identity)}
        # Filtered on the statuses that allow the edit, not on the one just read: a concurrent status change
        # that still allows it (or an edit of another field) never turns this into a conflict.
        self.store.update_contents(identity, task_id, {"$set": writes}, rule.statuses, rule.check)
        self.projects.touch(identity.company, fields.get("project") or task.get("project"))
        return {"updated": 1, "fields": writes}

    def update(self, identity: Identity, task_id: str, data: dict) -> dict:
        """Names, comments, tags and project: allowed in every status."""
        task = self.store.load(identity.company, task_id, ["id"])
        writes = set_fields({}, data, UPDATABLE)
        if data.get("output__error") is not None:
            writes["output.error"] = data["output__error"]
        if not writes:
            return {"updated": 0, "fields": {}}
        self._check_references(identity.company, writes)
        writes.update(changed_by(identity))
        self.coll.update_one({"_id": task_id, "company": identity.company}, {"$set": writes})
        self.store.counted({"$set": writes}, task_id)
        self.projects.touch(identity.company, writes.get("project") or task.get("project"))
        return {"updated": 1, "fields": writes}

    def clone(self, identity: Identity, task_id: str, overrides: dict, new_project_name: str | None) -> dict:
        source = self.store.load(identity.company, task_id)
        result: dict = {}
        if overrides.get("project") is None and new_project_name:
            project_id = self.projects.get_or_create(identity, new_project_name)
            overrides = {**overrides, "project": project_id}
            result["new_project"] = {"id": project_id, "name": new_project_name}
        # Only references the caller chose are checked; the source's were checked when it was written.
        self._check_references(identity.company, {key: overrides.get(key) for key in ("project", "parent")})
        now = utcnow()
        doc = new_task(identity, clone_fields(source, overrides, now), now)
        if source.get("application"):  # a clone of an app instance is an instance of the same app
            doc["application"] = source["application"]
        self.coll.insert_one(doc)
        self.store.counters.reconcile(doc["_id"])
        self.projects.touch(identity.company, doc["project"])
        domain_events.publish_object("task.created", identity.company, doc, TASK_CREATED_FIELDS)
        return {"id": doc["_id"], **result}

    def _check_references(self, company: str, fields: dict) -> None:
        if fields.get("project"):
            self.projects.get(company, fields["project"], only_fields=["id"])
        parent = fields.get("parent")
        if parent and not parent.startswith(DELETED_PREFIX):
            self.store.load(company, parent, ["id"])

    # -- housekeeping ----------------------------------------------------------------------------------
    def ping(self, identity: Identity, task_id: str) -> None:
        """The task is alive: refresh ``last_update`` (and the running time of a running task)."""
        task = self.store.load(identity.company, task_id, ["started"])
        now = utcnow()
        writes: dict = {"last_update": now}
        if task.get("status") == IN_PROGRESS and task.get("started"):
            writes["active_duration"] = int((now - task["started"]).total_seconds())
        self.coll.update_one({"_id": task_id, "company": identity.company}, {"$set": writes})

    def delete(self, identity: Identity, task_id: str, force: bool, delete_output_models: bool = True,
               return_file_urls: bool = False, include_pipeline_steps: bool = False) -> dict:
        """Delete a new or archived task (any task with ``force``), its events and draft output models; see
        :mod:`task_cleanup`. A pipeline controller's steps go with it when ``include_pipeline_steps``."""
        company = identity.company
        task = self.store.load(company, task_id, list(CLEANUP_FIELDS))
        archived = ARCHIVED_TAG in (task.get("system_tags") or [])
        if task.get("status") != CREATED and not archived and not force:
            raise errors.TaskCannotBeDeleted(
                f"task {task_id} is {task.get('status')}: only new or archived tasks are deleted without force",
                task=task_id, expected=CREATED, current=task.get("status"),
            )
        cleanup = self.transitions.cleanup
        result, deleted = CleanupResult(), []
        if include_pipeline_steps and task.get("type") == CONTROLLER:
            for step in self.coll.find({"parent": task_id, "company": company}, {"_id": 1}):  # parent's index
                step_task = self.store.load(company, step["_id"], list(CLEANUP_FIELDS))
                result += self._delete_one(identity, step_task, True, delete_output_models)
                deleted.append(step["_id"])
        result += self._delete_one(identity, task, force, delete_output_models)
        deleted.append(task_id)
        cleanup.delete_events(company, result, deleted, collect_urls=return_file_urls)
        self.projects.touch(company, task.get("project"))
        return {"deleted": True, **result.counts(), "urls": result.urls() if return_file_urls else None,
                "events": {"deleted": result.deleted_events}}

    def _delete_one(self, identity: Identity, task: dict, force: bool, delete_output_models: bool) -> CleanupResult:
        # Planned first: a refusal (published outputs) leaves the task queued and whole.
        plan = self.transitions.cleanup.plan(identity.company, task, force)
        self.queues.remove_entry(identity.company, None, task["id"])
        result = self.transitions.cleanup.apply(identity.user, plan, delete_output_models=delete_output_models,
                                                update_children=True)
        self.coll.delete_one({"_id": task["id"], "company": identity.company})
        self.store.counters.reconcile(task["id"])
        domain_events.publish_object("task.deleted", identity.company, task, ("project",))
        return result

    def archive(self, identity: Identity, task_id: str, reason: str | None, message: str | None) -> int:
        """Hide the task from default listings, taking it out of its queue (a running one is stopped)."""
        self.transitions.dequeue(identity, task_id, None, reason, message, all_queues=True,
                                 status_for_running=STOPPED)
        return self._set_archived(identity, task_id, {"$addToSet": {"system_tags": ARCHIVED_TAG}}, reason, message)

    def unarchive(self, identity: Identity, task_id: str, reason: str | None, message: str | None) -> int:
        self.store.load(identity.company, task_id, ["id"])
        return self._set_archived(identity, task_id, {"$pull": {"system_tags": ARCHIVED_TAG}}, reason, message)

    def _set_archived(self, identity: Identity, task_id: str, tag_change: dict, reason: str | None,
                      message: str | None) -> int:
        writes = {"status_reason": reason or "", "status_message": message or "", **changed_by(identity)}
        self.coll.update_one({"_id": task_id, "company": identity.company}, {**tag_change, "$set": writes})
        self.store.counters.reconcile(task_id)
        return 1

    def move(self, identity: Identity, task_ids: list[str], project: str | None,
             project_name: str | None) -> str | None:
        """Move tasks to a project (``None``: the root); ``project_name`` is created when missing."""
        company = identity.company
        require_ids(self.coll, company, task_ids, errors.InvalidTaskId)
        if project:
            self.projects.get(company, project, only_fields=["id"])
        elif project_name:
            project = self.projects.get_or_create(identity, project_name)
        in_tasks = {"company": company, "_id": {"$in": task_ids}}
        old_projects = self.coll.distinct("project", in_tasks)
        self.coll.update_many(in_tasks, {"$set": {"project": project, **changed_by(identity)}})
        self.store.counters.reconcile_many(task_ids)
        for project_id in {*old_projects, project}:
            self.projects.touch(company, project_id)
        return project

    def update_tags(self, identity: Identity, task_ids: list[str], add: list[str] | None,
                    remove: list[str] | None) -> int:
        company = identity.company
        require_ids(self.coll, company, task_ids, errors.InvalidTaskId)
        in_tasks = {"company": company, "_id": {"$in": task_ids}}
        # Adding and removing on one array cannot share an update, hence two writes.
        if add:
            self.coll.update_many(in_tasks, {"$addToSet": {"tags": {"$each": add}}, "$set": changed_by(identity)})
        if remove:
            self.coll.update_many(in_tasks, {"$pullAll": {"tags": remove}, "$set": changed_by(identity)})
        return len(set(task_ids))

    # -- statistics for projects -----------------------------------------------------------------------
    def project_stats(self, company: str, project_ids: list[str], state: str = "active") -> dict[str, dict]:
        """Task counts per status over each project's sub-tree, for projects.get_all_ex."""
        archived = {"system_tags": ARCHIVED_TAG} if state == "archived" else {"system_tags": {"$ne": ARCHIVED_TAG}}
        day_ago = utcnow() - timedelta(days=1)
        stats = {}
        for pid in project_ids:
            subtree = self.projects.subtree_ids(company, pid)
            match = {"company": company, "project": {"$in": subtree}, **archived}
            counts = {s: 0 for s in TASK_STATUSES}
            for row in self.coll.aggregate([{"$match": match}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
                counts[row["_id"] or UNKNOWN] = row["n"]
            completed_24h = self.coll.count_documents(
                {**match, "status": {"$in": [COMPLETED, PUBLISHED]}, "completed": {"$gte": day_ago}}
            )
            stats[pid] = {state: {"status_count": counts, "total_tasks": sum(counts.values()),
                                  "completed_tasks_24h": completed_24h, "total_runtime": 0}}
        return stats

    def user_ids(self, company: str, project_ids: list[str] | None) -> list[str]:
        return owner_ids(self.coll, company, project_ids)
