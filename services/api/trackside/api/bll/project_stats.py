"""Project statistics for ``projects.get_all_ex``: task counts and run times per state, own contents,
dataset counts, and the projects that hold a given kind of child (``active_users``, ``children_type``).

Task statistics come from the counters kept per project (:mod:`trackside.shared.project_counters`) when the
request asks for what they hold (no user filter; a stats filter on the archived/kind system tags only): a few
small documents per project, whatever the number of tasks. Other filters sum a projection of the matching tasks
in Python (the Mongo-wire servers we run on differ in which aggregation operators they support)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import HIDDEN_TAG, company_filter
from trackside.api.bll.task_status import TASK_STATUSES
from trackside.shared.project_counters import (
    KIND_TAGS, KIND_TYPES, TASK_PROJECTION, ProjectCounters, contribution, hour_of, parse_bucket,
)
from trackside.shared.storage import query
from trackside.shared.storage.query import QueryError
from trackside.shared.timeutil import utcnow

ARCHIVED, ACTIVE = "archived", "active"
STATES = (ARCHIVED, ACTIVE)
DATASET_TAG, PIPELINE_TAG, REPORTS_TAG = "dataset", "pipeline", "reports"
DATASETS_FOLDER, PIPELINES_FOLDER = ".datasets", ".pipelines"
# Tasks in these statuses do not count as "completed in the last 24 hours" even with a completion time.
NOT_FINISHED = ("queued", "in_progress", "failed")


def field_filter(field: str, spec: Any) -> dict:
    """One field of a stats filter: a list with the tag operators, or {any/all: {include, exclude}, op}."""
    if not spec or not isinstance(spec, (list, dict)):
        raise errors.ValidationError(f"Non empty list or dictionary expected for the field: {field}", field=field)
    if isinstance(spec, list):
        if not all(isinstance(v, str) for v in spec):
            raise errors.ValidationError(f"Only string values are allowed in the list filter: {field}", field=field)
        try:
            return query.list_field_filter(field, spec)
        except QueryError as exc:
            raise errors.ValidationError(str(exc), field=field) from None
    try:
        return query.list_filter_object(field, spec)
    except QueryError as exc:
        raise errors.ValidationError(str(exc), field=field) from None


def with_state(filter_: Mapping | None, state: str | None) -> dict | None:
    """The filter restricted to archived or active (non-archived) entities, unless it already says which."""
    if not state:
        return dict(filter_) if filter_ else None
    filter_ = dict(filter_ or {})
    tags = filter_.get("system_tags") or []
    if not isinstance(tags, list):
        return filter_
    if not any(t in tags for t in (ARCHIVED, f"-{ARCHIVED}")):
        filter_["system_tags"] = [ARCHIVED if state == ARCHIVED else f"-{ARCHIVED}", *tags]
    return filter_


def with_system_tag(filter_: Mapping | None, tag: str) -> dict:
    filter_ = dict(filter_ or {})
    tags = filter_.get("system_tags")
    tags = list(tags) if isinstance(tags, list) else []
    if tag not in tags:
        tags.append(tag)
    filter_["system_tags"] = tags
    return filter_


def _empty_section() -> dict:
    return {"status_count": dict.fromkeys(TASK_STATUSES, 0), "runtime": 0, "recent": 0, "last_started": None}


class ProjectStats:
    def __init__(self, db: Database, projects):
        self._tasks = db["tasks"]
        self._models = db["models"]
        self._projects_coll = db["projects"]
        self._projects = projects
        self.counters = ProjectCounters(db)

    # -- matching --------------------------------------------------------------------------------------
    @staticmethod
    def match(company: str, project_ids: Iterable, filter_: Mapping | None, users: list[str] | None,
              project_field: str = "project") -> dict:
        clauses: list[dict] = [company_filter(company, True), {project_field: {"$in": list(project_ids)}}]
        if users:
            clauses.append({"user": {"$in": users}})
        for field, spec in (filter_ or {}).items():
            clause = field_filter(field, spec)
            if clause:
                clauses.append(clause)
        return {"$and": clauses}

    def _descendants(self, project_ids: list[str], search_hidden: bool,
                     allowed: list[str] | None) -> dict[str, list[dict]]:
        """Every descendant (any depth) of each project, as {id, name, path}."""
        match: dict = {"path": {"$in": project_ids}}
        if not search_hidden:
            match["system_tags"] = {"$ne": HIDDEN_TAG}
        if allowed:
            match["_id"] = {"$in": list(allowed)}
        found = list(self._projects_coll.find(match, {"name": 1, "path": 1}))
        return {pid: [d for d in found if pid in (d.get("path") or [])] for pid in project_ids}

    @staticmethod
    def children_info(project_ids: list[str], descendants: Mapping[str, list[dict]]) -> dict[str, list[dict]]:
        return {pid: sorted(({"id": d["_id"], "name": d["name"]} for d in descendants.get(pid, [])),
                            key=lambda c: c["name"])
                for pid in project_ids}

    def _scope(self, project_ids: list[str], with_children: bool, search_hidden: bool,
               allowed: list[str] | None) -> tuple[dict[str, list[dict]], dict[str, set[str]]]:
        """(descendants per project, the ids each project's figures are summed over)."""
        descendants = self._descendants(project_ids, search_hidden, allowed) if with_children else {}
        scope = {pid: {pid, *(d["_id"] for d in descendants.get(pid, []))} for pid in project_ids}
        return descendants, scope

    # -- task statistics -------------------------------------------------------------------------------
    def task_stats(self, company: str, project_ids: list[str], state: str | None, with_children: bool,
                   search_hidden: bool, filter_: Mapping | None, users: list[str] | None,
                   selected: list[str] | None) -> tuple[dict, dict]:
        matcher = None if users else bucket_matcher(filter_)
        descendants, scope = self._scope(project_ids, with_children, search_hidden, selected)
        all_ids = set().union(*scope.values()) if scope else set()
        per_project = (self._counted(company, all_ids, state, matcher) if matcher
                       else self._scanned(company, all_ids, state, filter_, users))
        states = [s for s in STATES if not state or s == state]
        stats = {pid: {s: self._section(per_project, scope[pid], s) for s in states} for pid in project_ids}
        return stats, self.children_info(project_ids, descendants)

    def _counted(self, company: str, project_ids: set[str], state: str | None, matcher) -> dict[str, dict]:
        """Per project and section, from the counters: hours after the one 24 hours ago are summed, that hour
        is counted exactly from the tasks completed in it (the index on ``completed``)."""
        owners = self.counters.owner_ids(company, project_ids)
        day_ago = utcnow() - timedelta(hours=24)
        boundary = hour_of(day_ago)
        per_project: dict[str, dict[str, dict]] = {}
        for cid, buckets in self.counters.read(list(owners)).items():
            for key, bucket in buckets.items():
                section, kinds, type_ = parse_bucket(key)
                if (state and section != state) or not matcher(section, kinds, type_):
                    continue
                entry = per_project.setdefault(owners[cid], {}).setdefault(section, _empty_section())
                for status, count in (bucket.get("n") or {}).items():
                    if count:
                        entry["status_count"][status] = entry["status_count"].get(status, 0) + count
                entry["runtime"] += bucket.get("rt") or 0
                entry["recent"] += sum(n for h, n in (bucket.get("h") or {}).items() if int(h) > boundary)
                if bucket.get("ls") is not None:
                    started = datetime.fromtimestamp(bucket["ls"] / 1000, tz=timezone.utc)
                    if entry["last_started"] is None or started > entry["last_started"]:
                        entry["last_started"] = started
        hour_end = datetime.fromtimestamp((boundary + 1) * 3600, tz=timezone.utc)
        for task in self._tasks.find({"completed": {"$gt": day_ago, "$lt": hour_end}}, TASK_PROJECTION):
            counted = contribution(task)
            if not counted or counted[0] not in owners or counted[1][4] != boundary:
                continue
            section, kinds, type_ = parse_bucket(counted[1][0])
            if (state and section != state) or not matcher(section, kinds, type_):
                continue
            per_project.setdefault(owners[counted[0]], {}).setdefault(section, _empty_section())["recent"] += 1
        return per_project

    def _scanned(self, company: str, all_ids: set[str], state: str | None, filter_: Mapping | None,
                 users: list[str] | None) -> dict[str, dict]:
        """Per project and section, summed over every matching task (filters the counters do not keep)."""
        per_project: dict[str, dict[str, dict]] = {}
        day_ago = utcnow() - timedelta(hours=24)
        fields = {"project": 1, "status": 1, "system_tags": 1, "started": 1, "completed": 1}
        for task in self._tasks.find(self.match(company, all_ids, filter_, users), fields):
            tags = task.get("system_tags") if isinstance(task.get("system_tags"), list) else []
            section = ARCHIVED if ARCHIVED in tags else ACTIVE
            if state and section != state:
                continue
            entry = per_project.setdefault(task.get("project"), {}).setdefault(section, _empty_section())
            status = task.get("status") or "unknown"
            entry["status_count"][status] = entry["status_count"].get(status, 0) + 1
            started, completed = task.get("started"), task.get("completed")
            if isinstance(started, datetime) and isinstance(completed, datetime) and completed > started:
                entry["runtime"] += math.floor((completed - started).total_seconds())
            if isinstance(completed, datetime) and completed > day_ago and status not in NOT_FINISHED:
                entry["recent"] += 1
            if isinstance(started, datetime) and (entry["last_started"] is None or started > entry["last_started"]):
                entry["last_started"] = started
        return per_project

    @staticmethod
    def _section(per_project: Mapping[str, dict], ids: set[str], state: str) -> dict:
        total = _empty_section()
        for pid in ids:
            entry = per_project.get(pid, {}).get(state)
            if not entry:
                continue
            for status, count in entry["status_count"].items():
                total["status_count"][status] = total["status_count"].get(status, 0) + count
            total["runtime"] += entry["runtime"]
            total["recent"] += entry["recent"]
            if entry["last_started"] and (not total["last_started"] or entry["last_started"] > total["last_started"]):
                total["last_started"] = entry["last_started"]
        return {
            "status_count": total["status_count"],
            "total_tasks": sum(total["status_count"].values()),
            "total_runtime": total["runtime"],
            "completed_tasks_24h": total["recent"],
            "last_task_run": total["last_started"],
        }

    # -- datasets --------------------------------------------------------------------------------------
    def dataset_stats(self, company: str, project_ids: list[str], with_children: bool, filter_: Mapping | None,
                      users: list[str] | None, selected: list[str] | None) -> tuple[dict, dict]:
        """Dataset projects (system tag "dataset") directly under each project or its descendants."""
        descendants, scope = self._scope(project_ids, with_children, True, selected)
        all_ids = set().union(*scope.values()) if scope else set()
        match = self.match(company, all_ids, with_system_tag(filter_, DATASET_TAG), users, project_field="parent")
        per_parent: dict[str, dict] = {}
        for doc in self._projects_coll.find(match, {"parent": 1, "tags": 1}):
            entry = per_parent.setdefault(doc.get("parent"), {"count": 0, "tags": set()})
            entry["count"] += 1
            entry["tags"].update(t for t in doc.get("tags") or () if isinstance(t, str))
        stats = {}
        for pid in project_ids:
            count, tags = 0, set()
            for sub in scope[pid]:
                if sub in per_parent:
                    count += per_parent[sub]["count"]
                    tags |= per_parent[sub]["tags"]
            stats[pid] = {"datasets": {"count": count, "tags": sorted(tags)}}
        return stats, self.children_info(project_ids, descendants)

    def own_datasets(self, company: str, project_ids: list[str], filter_: Mapping | None,
                     users: list[str] | None) -> dict[str, dict]:
        match = self.match(company, project_ids, with_system_tag(filter_, DATASET_TAG), users, project_field="parent")
        counts = _count_by(self._projects_coll.find(match, {"parent": 1}), "parent")
        return {pid: {"own_datasets": counts.get(pid, 0)} for pid in project_ids}

    def own_contents(self, company: str, project_ids: list[str], filter_: Mapping | None, state: str | None,
                     users: list[str] | None) -> dict[str, dict]:
        filter_ = with_state(filter_, state)
        match = self.match(company, project_ids, filter_, users)
        matcher = None if users else bucket_matcher(filter_)
        tasks = (self._counted_tasks(company, project_ids, matcher) if matcher
                 else _count_by(self._tasks.find(match, {"project": 1}), "project"))
        models = _count_by(self._models.find(match, {"project": 1}), "project")
        return {pid: {"own_tasks": tasks.get(pid, 0), "own_models": models.get(pid, 0)} for pid in project_ids}

    def _counted_tasks(self, company: str, project_ids: list[str], matcher) -> dict[str, int]:
        """Task counts per project (its own tasks only) from the counters."""
        owners = self.counters.owner_ids(company, project_ids)
        counts: dict[str, int] = {}
        for cid, buckets in self.counters.read(list(owners)).items():
            for key, bucket in buckets.items():
                if matcher(*parse_bucket(key)):
                    counts[owners[cid]] = counts.get(owners[cid], 0) + sum((bucket.get("n") or {}).values())
        return counts

    def dataset_runtime(self, company: str, project_ids: list[str], users: list[str] | None) -> dict[str, dict]:
        """File count and size from the runtime of each project's most recently updated non-archived task."""
        match = self.match(company, project_ids, {"system_tags": [f"-{ARCHIVED}"]}, users)
        latest: dict[str, dict] = {}
        for task in self._tasks.find(match, {"project": 1, "runtime": 1, "last_update": 1}):
            runtime = task.get("runtime")
            if not isinstance(runtime, dict) or not runtime:
                continue
            current = latest.get(task["project"])
            updated = task.get("last_update") or datetime.min
            if current is None or updated >= current["updated"]:
                latest[task["project"]] = {"updated": updated, "runtime": runtime}
        return {pid: {"file_count": entry["runtime"].get("ds_file_count", 0),
                      "total_size": entry["runtime"].get("ds_total_size", 0)}
                for pid, entry in latest.items()}

    # -- projects holding selected children ------------------------------------------------------------
    def with_selected_children(self, company: str, users: list[str] | None = None,
                               project_ids: list[str] | None = None, allow_public: bool = True,
                               children_type: str | None = None, children_tags: list | None = None,
                               children_tags_filter: Mapping | None = None) -> tuple[list[str], list[str]]:
        """(matching ids among ``project_ids`` or all, every selected project with its parents)."""
        if not (users or children_type):
            raise errors.ValidationError("Either active users or children_condition should be specified")
        base: list[dict] = [company_filter(company, allow_public)]
        if users:
            base.append({"user": {"$in": users}})
        child = list(base)
        if children_tags_filter:
            child.append(field_filter("tags", children_tags_filter))
        elif children_tags:
            child.append(field_filter("tags", children_tags))
        project_query = None
        if children_type == "dataset":
            queries = [(self._projects_coll, child + [{"system_tags": DATASET_TAG, "basename": {"$ne": DATASETS_FOLDER}}])]
        elif children_type == "pipeline":
            queries = [(self._projects_coll,
                        child + [{"system_tags": PIPELINE_TAG, "basename": {"$ne": PIPELINES_FOLDER}}])]
        elif children_type == "report":
            queries = [(self._tasks, child + [{"system_tags": REPORTS_TAG}])]
        else:
            project_query = list(base)
            queries = [(self._tasks, list(base)), (self._models, list(base))]
        if project_ids:
            scope = self._projects.ids_with_children(company, project_ids)
            if project_query is not None:
                project_query.append({"_id": {"$in": scope}})
            queries = [(coll, clauses + [{"parent" if coll is self._projects_coll else "project": {"$in": scope}}])
                       for coll, clauses in queries]
        found: set[str] = set()
        if project_query is not None:
            found |= {d["_id"] for d in self._projects_coll.find({"$and": project_query}, {"_id": 1})}
        for coll, clauses in queries:
            field = "_id" if coll is self._projects_coll else "project"
            found |= {v for v in coll.distinct(field, {"$and": clauses}) if v}
        if not found:
            return [], []
        selected = self._projects.ids_with_parents(list(found))
        matching = [p for p in selected if p in set(project_ids)] if project_ids else list(selected)
        return matching, selected


def bucket_matcher(filter_: Mapping | None):
    """A test of (section, kind tags, kind type) equal to the stats filter, or None when the counters cannot
    answer it: only plain lists ("-x" excluding) of archived/kind system tags and of kind types can be answered
    (the projects page's -pipeline/-dataset/..., the pipelines page's pipeline + controller, the reports
    page's reports + report). Validated as the scan would."""
    if not filter_:
        return lambda section, kinds, type_: True
    for field, spec in filter_.items():
        field_filter(field, spec)  # the same validation errors as the scan
    known = {"system_tags": {*KIND_TAGS, ARCHIVED}, "type": set(KIND_TYPES)}
    tests = {}
    for field, spec in filter_.items():
        if field not in known or not isinstance(spec, list):
            return None
        include, exclude = set(), set()
        for value in spec:
            name = value[1:] if value.startswith("-") else value
            if name not in known[field]:
                return None
            (exclude if value.startswith("-") else include).add(name)
        tests[field] = (include, exclude)

    def matches(section: str, kinds: set[str], type_: str) -> bool:
        values = {"system_tags": kinds | {ARCHIVED} if section == ARCHIVED else kinds,
                  "type": {type_} if type_ else set()}
        return all((not include or bool(values[field] & include)) and not values[field] & exclude
                   for field, (include, exclude) in tests.items())
    return matches


def _count_by(docs: Iterable[dict], field: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in docs:
        counts[doc.get(field)] = counts.get(doc.get(field), 0) + 1
    return counts
