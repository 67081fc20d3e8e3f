"""Reports: tasks of type ``report`` whose markdown lives in ``report`` (and its files in ``report_assets``).

As in the reference, a report is hidden from task listings (system tags ``reports`` and ``hidden``) and kept in
a hidden ``.reports`` project under the project it belongs to (``<project>/.reports``, or ``.reports`` at the
root), created on demand and deleted when its last report leaves. A report is edited while ``created``;
publishing is final, except that its name, comment and tags may still change.
"""
from __future__ import annotations

import textwrap

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import HIDDEN_TAG, scroll_reply
from trackside.api.bll.event_histograms import clamp_samples
from trackside.api.bll.event_reads import metric_variants
from trackside.api.bll.event_samples import multi_task_plots
from trackside.api.bll.references import TASK_REFERENCES, References
from trackside.api.bll.task_documents import new_task
from trackside.api.bll.task_status import ARCHIVED_TAG, CREATED, PUBLISHED
from trackside.api.bll.task_store import changed_by
from trackside.api.context import Identity
from trackside.shared.project_counters import ProjectCounters
from trackside.shared.timeutil import utcnow

REPORT_TYPE = "report"
REPORTS_TAG = "reports"
REPORTS_PROJECT = ".reports"
REPORT_SYSTEM_TAGS = [REPORTS_TAG, HIDDEN_TAG]
UPDATABLE = ("name", "tags", "comment", "report", "report_assets")
# What may still change once a report is published.
UPDATABLE_WHEN_PUBLISHED = frozenset({"name", "tags", "comment"})
# The report text is echoed back shortened, as the reference does.
ECHOED_REPORT_WIDTH = 100


class ReportsBLL:
    def __init__(self, db: Database, projects, tasks, models, events, references: References):
        self.coll = db["tasks"]
        self.references = references
        self.projects = projects
        self.tasks = tasks
        self.models = models
        self.events = events

    # -- the report and its project ------------------------------------------------------------------------
    def load(self, company: str, task_id: str, only_fields: list[str] | None = None) -> dict:
        """The report (API shape); 400/101 when there is no such task, 400/150 when it is not a report."""
        task = self.tasks.store.load(company, task_id, [*only_fields, "type"] if only_fields else None)
        if task.get("type") != REPORT_TYPE:
            raise errors.OperationSupportedOnReportsOnly(f"task {task_id} is not a report", id=task_id)
        return task

    def _project_name(self, company: str, project_id: str | None) -> str:
        return self.projects.get(company, project_id, only_fields=["name"])["name"] if project_id else ""

    def reports_project(self, identity: Identity, name: str) -> str:
        """The id of the ``.reports`` project for the project called ``name`` ("" for the root), created if
        missing."""
        name = name.strip("/")
        if name.rpartition("/")[2] != REPORTS_PROJECT:
            name = f"{name}/{REPORTS_PROJECT}" if name else REPORTS_PROJECT
        existing = self.projects.find_by_name(identity.company, name)
        if existing:
            return existing["id"]
        try:
            return self.projects.create(identity, name, {"description": "Reports project",
                                                         "system_tags": list(REPORT_SYSTEM_TAGS)})
        except errors.ExpectedUniqueData:  # created concurrently by another request
            return self.projects.find_by_name(identity.company, name)["id"]

    def _drop_reports_project_if_empty(self, company: str, project_id: str | None) -> None:
        if not project_id:
            return
        project = self.projects.coll.find_one({"_id": project_id, "company": company}, {"basename": 1})
        if project and project.get("basename") == REPORTS_PROJECT and not self.coll.count_documents(
                {"company": company, "project": project_id}, limit=1):
            self.projects.coll.delete_one({"_id": project_id, "company": company})

    # -- writing ----------------------------------------------------------------------------------------------
    def create(self, identity: Identity, data: dict) -> dict:
        project_id = self.reports_project(identity, self._project_name(identity.company, data.get("project")))
        now = utcnow()
        fields = {"name": data["name"], "type": REPORT_TYPE, "comment": data.get("comment"),
                  "tags": data.get("tags"), "project": project_id, "system_tags": list(REPORT_SYSTEM_TAGS)}
        doc = new_task(identity, fields, now)
        # The reference drops these on create although its schema takes them; a client expects them kept.
        doc["report"] = data.get("report") or ""
        doc["report_assets"] = list(data.get("report_assets") or [])
        self.coll.insert_one(doc)
        ProjectCounters(self.coll.database).reconcile(doc["_id"])
        self.projects.touch(identity.company, project_id)
        return {"id": doc["_id"], "project_id": project_id}

    def update(self, identity: Identity, task_id: str, data: dict) -> dict:
        task = self.load(identity.company, task_id, ["id"])
        updates = {key: data[key] for key in UPDATABLE if data.get(key) is not None}
        if not updates:
            return {"updated": 0}
        content_change = not set(updates) <= UPDATABLE_WHEN_PUBLISHED
        if content_change and task.get("status") != CREATED:
            raise errors.InvalidTaskStatus(
                f"report {task_id} is {task.get('status')}: only its name, comment and tags may change",
                expected=CREATED, status=task.get("status"))
        bookkeeping = changed_by(identity)
        if not content_change:
            bookkeeping.pop("last_update")  # a rename is not a change of the report's contents
        self.tasks.store.update_if_status(identity.company, task, {"$set": {**updates, **bookkeeping}})
        shown = dict(updates)
        if shown.get("tags"):
            shown["tags"] = sorted(shown["tags"])
        if shown.get("report"):
            shown["report"] = textwrap.shorten(shown["report"], width=ECHOED_REPORT_WIDTH)
        return {"updated": 1, "fields": shown}

    def move(self, identity: Identity, task_id: str, project: str | None, project_name: str | None) -> str:
        """Into the ``.reports`` project of ``project_name`` or ``project`` (None: the root)."""
        task = self.load(identity.company, task_id, ["project"])
        name = project_name or self._project_name(identity.company, project)
        target = self.reports_project(identity, name)
        self.tasks.move(identity, [task_id], target, None)
        if task.get("project") != target:
            self._drop_reports_project_if_empty(identity.company, task.get("project"))
        return target

    def publish(self, identity: Identity, task_id: str, message: str) -> dict:
        task = self.load(identity.company, task_id, ["id"])
        return self.tasks.transitions.change_status(identity, task, PUBLISHED, force=True, reason="",
                                                    message=message, writes={"published": utcnow()})

    def set_archived(self, identity: Identity, task_id: str, archived: bool, message: str) -> int:
        self.load(identity.company, task_id, ["id"])
        tag_change = {"$addToSet" if archived else "$pull": {"system_tags": ARCHIVED_TAG}}
        now = utcnow()
        writes = {"status_message": message, "status_reason": "", "last_change": now,
                  "last_changed_by": identity.user}
        changed = self.coll.update_one({"_id": task_id, "company": identity.company},
                                       {**tag_change, "$set": writes}).modified_count
        ProjectCounters(self.coll.database).reconcile(task_id)
        return changed

    def delete(self, identity: Identity, task_id: str, force: bool) -> int:
        task = self.load(identity.company, task_id, ["project", "system_tags"])
        if task.get("status") != CREATED and ARCHIVED_TAG not in (task.get("system_tags") or []) and not force:
            raise errors.TaskCannotBeDeleted(
                f"report {task_id} is {task.get('status')}: archive it first or use force",
                task=task_id, expected=CREATED, current=task.get("status"))
        self.tasks.delete(identity, task_id, force=True)
        self._drop_reports_project_if_empty(identity.company, task.get("project"))
        return 1

    # -- reading ----------------------------------------------------------------------------------------------
    def get_all_ex(self, company: str, params: dict) -> dict:
        """Reports only (hidden ones included: every report is); ``project`` means the projects' ``.reports``
        folders. Pages by ``page``/``page_size`` or by scroll, as every get_all_ex."""
        query = {**params, "type": [REPORT_TYPE], "search_hidden": True}
        if "project" in params:
            folders = self._reports_folders(company, params["project"], params.get("include_subprojects"))
            if not folders:
                return {"tasks": []}
            query["project"] = folders
        query.pop("include_subprojects", None)  # already applied: the folders have no sub-projects
        join = self.references.plan(query.get("only_fields"), TASK_REFERENCES)
        reports = join.apply(company, self.tasks.get_all(company, {**query, "only_fields": join.only_fields}))
        return {"tasks": reports, **scroll_reply(params, len(reports))}

    def _reports_folders(self, company: str, projects, include_subprojects: bool) -> list[str]:
        """The ``.reports`` projects among ``projects`` and their direct children (None: the root's)."""
        wanted = projects if isinstance(projects, list) else [projects]
        if include_subprojects:
            wanted = list(dict.fromkeys(
                p for value in wanted for p in (self.projects.subtree_ids(company, value) if value else [value])))
        query = {"company": company, "basename": REPORTS_PROJECT,
                 "$or": [{"parent": {"$in": wanted}}, {"_id": {"$in": [p for p in wanted if p]}}]}
        return [doc["_id"] for doc in self.projects.coll.find(query, {"_id": 1})]

    def tags(self, company: str) -> list[str]:
        return sorted(t for t in self.coll.distinct("tags", {"company": company, "type": REPORT_TYPE}) if t)

    # -- what a report embeds -----------------------------------------------------------------------------------
    def task_data(self, company: str, params: dict) -> dict:
        """The tasks (or models) a query finds, with the events asked for: ``debug_images``, ``plots``,
        ``scalar_metrics_iter_histogram`` (each per task, as the events service answers for several tasks) and
        ``single_value_metrics``."""
        model_events = bool(params.get("model_events"))
        query = {key: value for key, value in params.items() if key not in EVENT_PARTS}
        if query.get("size") and "scroll_id" not in query and not query.get("page_size"):
            query["page_size"] = query["size"]  # without a scroll, size still limits the tasks returned
        entities = (self.models.get_all_ex(company, query) if model_events
                    else self.tasks.get_all(company, query))
        result: dict = {"tasks": entities, **scroll_reply(query, len(entities))}
        ids = self._own(company, [entity["id"] for entity in entities], model_events)
        if not ids:
            # Nothing to read events of: every part asked for is empty.
            empty = {"debug_images": [], "plots": {}, "scalar_metrics_iter_histogram": {},
                     "single_value_metrics": []}
            result.update({part: empty[part] for part in EVENT_PARTS if params.get(part) is not None})
            return result
        images = params.get("debug_images")
        if images is not None:
            wanted = metric_variants(images.get("metrics")) or {}
            pages = self.events.image_pages.get(company, {task: dict(wanted) for task in ids}, images["iters"],
                                                model_events=model_events)
            result["debug_images"] = pages["metrics"]
        plots = params.get("plots")
        if plots is not None:
            result["plots"] = multi_task_plots(self.events.reads, company, ids, plots["iters"],
                                               plots["last_iters_per_task_metric"],
                                               metric_variants(plots.get("metrics")), model_events)["plots"]
        scalars = params.get("scalar_metrics_iter_histogram")
        if scalars is not None:
            result["scalar_metrics_iter_histogram"] = self.events.histograms.compare(
                company, ids, scalars["key"], clamp_samples(scalars.get("samples")),
                metric_variants(scalars.get("metrics")), model_events)
        if params.get("single_value_metrics") is not None:
            result["single_value_metrics"] = self.events.reads.single_value_metrics(company, ids, model_events)
        return result

    def _own(self, company: str, ids: list[str], model_events: bool) -> list[str]:
        """The caller's own among ``ids``: events are read for those only (a public example listed along has
        its events under its owner's company, which these reads do not reach)."""
        own = set(self.events.reads.entities[model_events].distinct("_id", {"_id": {"$in": ids}, "company": company}))
        return [i for i in ids if i in own]


EVENT_PARTS = ("debug_images", "plots", "scalar_metrics_iter_histogram", "single_value_metrics")
