"""What deleting or resetting a task does to everything it produced: output models, children, events, files.

Two steps, so a refusal never leaves anything half-done:

- :meth:`TaskCleanup.plan` reads the task's outputs and raises TaskCannotBeDeleted (400/123) unless ``force``
  when the task has published children or published output models;
- :meth:`TaskCleanup.apply` writes: draft output models are deleted (those other tasks use as input only lose
  their ``task``), published ones stay and point at ``__DELETED__<task>`` (on reset: lose ``task``), children
  point at ``__DELETED__<task>`` (delete only).

:func:`collect_event_urls` and :meth:`TaskCleanup.delete_events` handle the events of the task and of its
deleted models. File URLs are returned to the caller (``return_file_urls``) rather than deleted here: we have
no asynchronous URL-deletion service, so the client removes the files it was told about.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from pymongo.collection import Collection

from trackside.api import errors
from trackside.api.bll.task_documents import DELETED_PREFIX, INPUT, OUTPUT, artifact_key
from trackside.api.bll.task_status import PUBLISHED
from trackside.shared.events import EventStore
from trackside.shared.events.store import IMAGE, PLOT, EventFilter
from trackside.shared.timeutil import utcnow

# Images embedded in a plot (plotly layout images) name their file as "source": "<scheme>://...".
_PLOT_IMAGE_SOURCE = re.compile(r"""["']source["']\s*:\s*["']([a-z][a-z0-9+.\-]*://[^"']+)["']""", re.IGNORECASE)
_EVENT_PAGE = 1000
# Filters below name their indexed field first: the embedded store serves a filter it has no compound index for
# from the index of its FIRST indexed clause, so ``{company, parent}`` would read every task of the company and
# ``{parent, company}`` reads the children only. MongoDB plans them alike.
# What plan/apply read of a task.
CLEANUP_FIELDS = ("system_tags", "type", "models", "execution.artifacts")
# Pipeline controllers: tasks.delete can take their steps (child tasks) along.
CONTROLLER = "controller"


@dataclass
class CleanupPlan:
    """The task's output models as found before anything is written."""

    company: str
    task: dict
    published: dict[str, dict] = field(default_factory=dict)  # model id -> {id, uri, ready}
    drafts: dict[str, dict] = field(default_factory=dict)
    in_use: set[str] = field(default_factory=set)  # draft models other tasks take as input


@dataclass
class CleanupResult:
    updated_children: int = 0
    updated_models: int = 0
    deleted_models: int = 0
    deleted_model_ids: set[str] = field(default_factory=set)
    artifact_urls: set[str] = field(default_factory=set)
    model_urls: set[str] = field(default_factory=set)
    event_urls: set[str] = field(default_factory=set)
    deleted_events: int = 0

    def __iadd__(self, other: "CleanupResult") -> "CleanupResult":
        for name in ("updated_children", "updated_models", "deleted_models", "deleted_events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("deleted_model_ids", "artifact_urls", "model_urls", "event_urls"):
            getattr(self, name).update(getattr(other, name))
        return self

    def urls(self) -> dict:
        return {"model_urls": sorted(self.model_urls), "artifact_urls": sorted(self.artifact_urls),
                "event_urls": sorted(self.event_urls)}

    def counts(self) -> dict:
        return {"updated_children": self.updated_children, "updated_models": self.updated_models,
                "deleted_models": self.deleted_models}


def output_artifact_urls(task: dict) -> set[str]:
    artifacts = (task.get("execution") or {}).get("artifacts") or []
    return {a["uri"] for a in artifacts if a.get("uri") and artifact_key(a)[1] == OUTPUT}


def collect_event_urls(store: EventStore, company: str, ids: list[str], model_events: bool = False) -> set[str]:
    """Every debug image URL and every image URL embedded in a plot among the events of ``ids``."""
    urls: set[str] = set()
    if not ids:
        return urls
    flt = EventFilter(company=company, tasks=ids, types=(IMAGE, PLOT), model_events=model_events)
    after = None
    while True:
        page = store.search(flt, [("id", 1)], _EVENT_PAGE, after=after,
                            fields=["type", "url", "source_urls", "plot_str"])
        for event in page.events:
            if event.get("url"):
                urls.add(event["url"])
            if event.get("source_urls") is not None:
                urls.update(event["source_urls"])
            elif event.get("plot_str"):  # a plot stored before plots kept their source_urls
                urls.update(_PLOT_IMAGE_SOURCE.findall(event["plot_str"]))
        if len(page.events) < _EVENT_PAGE or page.next_after is None:
            return urls
        after = page.next_after


class TaskCleanup:
    def __init__(self, tasks: Collection, models: Collection, events: EventStore):
        self.tasks = tasks
        self.models = models
        self.events = events

    def plan(self, company: str, task: dict, force: bool) -> CleanupPlan:
        """``task`` as loaded with ``models`` and ``execution``; refuses published outputs unless ``force``."""
        task_id = task["id"]
        if not force:
            # Not count_documents: the embedded store counts with a filter by reading the whole collection.
            children = len(list(self.tasks.find({"parent": task_id, "company": company, "status": PUBLISHED},
                                                {"_id": 1})))
            if children:
                raise errors.TaskCannotBeDeleted(
                    f"task {task_id} has {children} published children, use force=True", task=task_id,
                    children=children)
        plan = CleanupPlan(company, task)
        created = list(self.models.find({"company": company, "task": task_id}, {"uri": 1, "ready": 1}))
        published = [m["_id"] for m in created if m.get("ready")]
        if published and not force:
            raise errors.TaskCannotBeDeleted(
                f"task {task_id} has {len(published)} published output models, use force=True", task=task_id,
                models=len(published))
        listed = [item.get("model") for item in (task.get("models") or {}).get(OUTPUT) or [] if item.get("model")]
        for model in created + list(self.models.find({"_id": {"$in": listed}, "company": company},
                                                     {"uri": 1, "ready": 1})):
            entry = {"id": model["_id"], "uri": model.get("uri")}
            if model.get("ready"):
                if not force:
                    raise errors.TaskCannotBeDeleted(
                        f"task {task_id} has the published output model {model['_id']}, use force=True",
                        task=task_id, model=model["_id"])
                plan.published[model["_id"]] = entry
            else:
                plan.drafts[model["_id"]] = entry
        if plan.drafts:
            users = self.tasks.find({"models.input.model": {"$in": list(plan.drafts)}, "company": company},
                                    {"models.input": 1})
            plan.in_use = {item.get("model") for user in users
                           for item in (user.get("models") or {}).get(INPUT) or []} & set(plan.drafts)
        return plan

    def apply(self, user: str, plan: CleanupPlan, *, delete_output_models: bool, update_children: bool) -> CleanupResult:
        """Children and output models as described in the module doc; the URLs the task's files live at."""
        task, company_filter = plan.task, {"company": plan.company}  # last in every filter (see above)
        task_id = task["id"]
        deleted_ref = DELETED_PREFIX + task_id
        stamp = {"last_change": utcnow(), "last_changed_by": user}
        result = CleanupResult(artifact_urls=output_artifact_urls(task))
        if update_children:
            result.updated_children = self.tasks.update_many(
                {"parent": task_id, **company_filter}, {"$set": {"parent": deleted_ref, **stamp}}).modified_count
        drafts = list(plan.drafts)
        kept = list(plan.published)
        if delete_output_models and drafts:
            doomed = [m for m in drafts if m not in plan.in_use]
            if doomed:
                result.deleted_models = self.models.delete_many({"_id": {"$in": doomed}, **company_filter}).deleted_count
                result.deleted_model_ids = set(doomed)
                # Only files nobody refers to any more are the caller's to remove.
                result.model_urls = {plan.drafts[m]["uri"] for m in doomed if plan.drafts[m].get("uri")}
            if plan.in_use:
                self.models.update_many({"_id": {"$in": list(plan.in_use)}, **company_filter},
                                        {"$unset": {"task": 1}, "$set": stamp})
        else:
            kept += drafts
        if kept:
            in_kept = {"_id": {"$in": kept}, **company_filter}
            if update_children:
                result.updated_models = self.models.update_many(
                    in_kept, {"$set": {"task": deleted_ref, **stamp}}).modified_count
            else:
                self.models.update_many(in_kept, {"$unset": {"task": 1}, "$set": stamp})
        return result

    def delete_events(self, company: str, result: CleanupResult, task_ids: Iterable[str],
                      collect_urls: bool) -> None:
        """Remove the events of the tasks and of their deleted models (collecting image URLs first)."""
        task_ids, model_ids = list(task_ids), sorted(result.deleted_model_ids)
        if collect_urls:
            result.event_urls |= collect_event_urls(self.events, company, task_ids)
            result.event_urls |= collect_event_urls(self.events, company, model_ids, model_events=True)
        result.deleted_events += self.events.delete_for_tasks(company, task_ids)
        if model_ids:
            self.events.delete_for_tasks(company, model_ids, model_events=True)


def input_only_artifacts(task: dict) -> list[dict]:
    """The artifacts a reset keeps: those the task takes as input."""
    artifacts = (task.get("execution") or {}).get("artifacts") or []
    return [a for a in artifacts if artifact_key(a)[1] == INPUT]
