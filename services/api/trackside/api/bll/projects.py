"""Projects: a tree addressed by full paths (``a/b/c``). Parents are created on demand; renames and moves
rewrite the paths of the whole sub-tree."""
from __future__ import annotations

import re
from typing import Any

from pyhocon import ConfigTree
from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import (
    HIDDEN_TAG, company_filter, get_all, get_one, insert_unique, public_allowed, query_error, to_api,
)
from trackside.api.bll.project_queries import ProjectQueries
from trackside.api.bll.project_stats import PIPELINE_TAG, REPORTS_TAG, ProjectStats
from trackside.api.context import Identity
from trackside.shared import domain_events
from trackside.shared.ids import new_id
from trackside.shared.project_counters import counter_id
from trackside.shared.storage import query
from trackside.shared.storage.query import QueryError, QuerySpec
from trackside.shared.timeutil import utcnow

SPEC = QuerySpec(
    pattern_fields=("name", "basename", "description"),
    list_fields=("id", "tags", "system_tags", "user"),
    plain_fields=("default_output_destination",),
    range_fields=("last_update",),
    date_fields=frozenset({"last_update"}),
    text_fields=("name", "id", "description"),
)
EDITABLE = {"description", "tags", "system_tags", "default_output_destination"}


def split_path(name: Any) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        raise errors.InvalidProjectName("invalid project name: name must be a non-empty string", name=name)
    parts = [part.strip() for part in name.split("/")]
    if any(not part for part in parts):
        raise errors.InvalidProjectName(f"invalid project name {name!r}: empty path segment", name=name)
    return parts


class ProjectsBLL:
    def __init__(self, db: Database, config: ConfigTree):
        self.coll = db["projects"]
        self._tasks = db["tasks"]
        self._models = db["models"]
        self._max_depth = config.get_int("services.projects.max_depth", 10)
        self.stats = ProjectStats(db, self)
        self.counters = self.stats.counters
        self.queries = ProjectQueries(db, self)

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, company: str, project_id: str, only_fields: list[str] | None = None,
            allow_public: bool = False) -> dict:
        """``allow_public`` only for reads (projects.get_by_id): public projects are never written by others."""
        return get_one(self.coll, company, project_id, errors.InvalidProjectId, only_fields, kind="project",
                       allow_public=allow_public)

    def get_all(self, company: str, params: dict, hide_hidden: bool | None = None) -> list[dict]:
        """``parent`` finds every descendant; ``shallow_search`` limits to direct children (or the top level).

        ``hide_hidden`` overrides the default rule (hidden projects are left out unless ``search_hidden`` or
        ``id`` is given): get_all_ex decides on the ids the caller asked for, not the ids it selected."""
        parents = params.get("parent")
        shallow = params.get("shallow_search")
        clauses = []
        if parents:
            clauses.append({"parent": {"$in": parents}} if shallow else {"path": {"$in": parents}})
        elif shallow:
            clauses.append({"parent": None})
        if hide_hidden:
            clauses.append({"system_tags": {"$ne": HIDDEN_TAG}})
        extra = {"$and": clauses} if clauses else None
        return get_all(self.coll, company, params, SPEC, extra_filter=extra, hidden_aware=hide_hidden is None,
                       allow_public=public_allowed(params))

    def get_all_ex(self, company: str, params: dict) -> list[dict]:
        """get_all plus the web app's extras: selection by ``active_users``/``children_type``, ``hidden`` marks,
        own contents, statistics with sub-projects, and dataset statistics."""
        params = dict(params)
        requested_ids = params.get("id")
        users = params.get("active_users")
        children_type = params.get("children_type")
        search_hidden = bool(params.get("search_hidden"))
        selected = None
        if users or children_type:
            allow_public = (params["allow_public"] if params.get("allow_public") is not None
                            else not params.get("non_public"))
            ids, selected = self.stats.with_selected_children(
                company, users=users, project_ids=requested_ids, allow_public=allow_public,
                children_type=children_type, children_tags=params.get("children_tags"),
                children_tags_filter=params.get("children_tags_filter"))
            if not ids:
                return []
            params["id"] = ids
        only_fields = params.get("only_fields")
        strip_system_tags = bool(search_hidden and only_fields and "system_tags" not in only_fields)
        if strip_system_tags:
            params["only_fields"] = [*only_fields, "system_tags"]
        projects = self.get_all(company, params, hide_hidden=not (search_hidden or requested_ids))
        if search_hidden:
            for project in projects:
                tags = project.pop("system_tags", None) if strip_system_tags else project.get("system_tags")
                if HIDDEN_TAG in (tags or []):
                    project["hidden"] = True
        if projects:
            self._add_statistics(company, projects, params, selected)
        return projects

    def _add_statistics(self, company: str, projects: list[dict], params: dict, selected: list[str] | None) -> None:
        ids = list(dict.fromkeys(p["id"] for p in projects))
        users = params.get("active_users")
        datasets = params.get("children_type") == "dataset"
        stats_filter, stats_hidden = _stats_filter(params)
        state = params.get("stats_for_state")
        extras: dict[str, dict] = {pid: {} for pid in ids}
        if params.get("check_own_contents"):
            own = (self.stats.own_datasets(company, ids, stats_filter, users) if datasets
                   else self.stats.own_contents(company, ids, stats_filter, state, users))
            for pid in ids:
                extras[pid].update(own.get(pid, {}))
        if params.get("include_stats"):
            with_children = params.get("stats_with_children", True)
            stats, children = (
                self.stats.dataset_stats(company, ids, with_children, stats_filter, users, selected) if datasets
                else self.stats.task_stats(company, ids, state, with_children, stats_hidden, stats_filter, users,
                                           selected))
            for pid in ids:
                extras[pid].update(stats=stats[pid], sub_projects=children[pid])
        if params.get("include_dataset_stats"):
            runtime = self.stats.dataset_runtime(company, ids, users)
            for pid in ids:
                extras[pid]["dataset_stats"] = runtime.get(pid)
        for project in projects:
            project.update(extras[project["id"]])

    def find_by_name(self, company: str, name: str) -> dict | None:
        return to_api(self.coll.find_one({"company": company, "name": "/".join(split_path(name))}))

    def subtree_ids(self, company: str, project_id: str) -> list[str]:
        """The project and all its descendants."""
        children = [d["_id"] for d in self.coll.find({"company": company, "path": project_id}, {"_id": 1})]
        return [project_id, *children]

    def ids_with_children(self, company: str, project_ids: list[str]) -> list[str]:
        """The projects and all their descendants."""
        children = [d["_id"] for d in self.coll.find({**company_filter(company, True), "path": {"$in": project_ids}},
                                                     {"_id": 1})]
        return list(dict.fromkeys([*project_ids, *children]))

    def ids_with_parents(self, project_ids: list[str]) -> list[str]:
        """The (existing) projects and all their ancestors."""
        found = list(self.coll.find({"_id": {"$in": project_ids}}, {"path": 1}))
        return list(dict.fromkeys([*(d["_id"] for d in found), *(p for d in found for p in d.get("path") or [])]))

    def project_tags(self, company: str, include_system: bool, project_ids: list[str] | None,
                     filter_: dict | None) -> dict:
        """Tags of the projects themselves (and their descendants)."""
        match = {"company": company, **tags_filter(filter_)}
        if project_ids:
            match["_id"] = {"$in": self.ids_with_children(company, project_ids)}
        tags = self.coll.distinct("tags", match)
        system_tags = self.coll.distinct("system_tags", match) if include_system else []
        return {"tags": sorted(t for t in tags if isinstance(t, str)),
                "system_tags": sorted(t for t in system_tags if isinstance(t, str))}

    def children(self, company: str, project_ids: list[str]) -> dict[str, list[dict]]:
        result: dict[str, list[dict]] = {pid: [] for pid in project_ids}
        for doc in self.coll.find({"company": company, "parent": {"$in": project_ids}}, {"name": 1, "parent": 1}):
            result[doc["parent"]].append({"id": doc["_id"], "name": doc["name"]})
        return result

    # -- writing ---------------------------------------------------------------------------------------
    def create(self, identity: Identity, name: str, fields: dict) -> str:
        parts = split_path(name)
        self._check_depth(parts)
        parent = self._ensure_path(identity, parts[:-1], hidden=HIDDEN_TAG in (fields.get("system_tags") or []))
        doc = self._new_doc(identity, parts, parent, fields)
        insert_unique(self.coll, doc, f"project {doc['name']!r}")
        domain_events.publish_object("project.created", identity.company, doc)
        return doc["_id"]

    def get_or_create(self, identity: Identity, name: str) -> str:
        existing = self.find_by_name(identity.company, name)
        return existing["id"] if existing else self.create(identity, name, {})

    def update(self, identity: Identity, project_id: str, fields: dict) -> dict:
        project = self.get(identity.company, project_id)
        updates = {k: v for k, v in fields.items() if k in EDITABLE and v is not None}
        new_name = fields.get("name")
        if new_name is not None:
            parts = split_path(new_name)
            old_parts = project["name"].split("/")
            # A name is the full path; changing anything but the last part is a move.
            if parts[:-1] != old_parts[:-1]:
                raise errors.CannotUpdateProjectLocation(project=project_id)
            if parts[-1] != old_parts[-1]:
                self._rename_subtree(identity.company, project, "/".join(old_parts[:-1] + [parts[-1]]))
                updates["basename"] = parts[-1]
        if updates:
            updates["last_update"] = utcnow()
            self.coll.update_one({"_id": project_id}, {"$set": updates})
        return updates

    def touch(self, company: str, project_id: str | None) -> None:
        if project_id:
            self.coll.update_one({"_id": project_id, "company": company}, {"$set": {"last_update": utcnow()}})

    def move(self, identity: Identity, project_id: str, new_location: str | None) -> int:
        project = self.get(identity.company, project_id)
        new_parent = None
        if new_location:
            target = split_path(new_location)
            new_parent = self._ensure_path(identity, target)
            if new_parent in self.subtree_ids(identity.company, project_id):
                raise errors.ProjectCannotBeMovedUnderItself(project=project_id, new_location=new_location)
        if new_parent == project.get("parent"):
            raise errors.ProjectSourceAndDestinationAreTheSame(project=project_id)
        prefix = self.coll.find_one({"_id": new_parent}) if new_parent else None
        new_name = f"{prefix['name']}/{project['basename']}" if prefix else project["basename"]
        self._check_depth(new_name.split("/"))
        if self.coll.find_one({"company": identity.company, "name": new_name}):
            raise errors.ExpectedUniqueData(f"project {new_name!r} already exists", name=new_name)
        self._rename_subtree(identity.company, project, new_name, new_parent=new_parent, reparent=True)
        return len(self.subtree_ids(identity.company, project_id))

    def merge(self, identity: Identity, project_id: str, destination_id: str) -> dict:
        company = identity.company
        project = self.get(company, project_id)
        destination = self.get(company, destination_id)
        if destination_id == project_id:
            raise errors.ProjectSourceAndDestinationAreTheSame(project=project_id)
        if destination_id in self.subtree_ids(company, project_id):
            raise errors.ProjectCannotBeMergedIntoItsChild(project=project_id, destination_project=destination_id)
        moved = 0
        for coll in (self._tasks, self._models):
            moved += coll.update_many({"company": company, "project": project_id},
                                      {"$set": {"project": destination_id, "last_update": utcnow()}}).modified_count
        self.counters.move_project(counter_id(company, project_id), counter_id(company, destination_id))
        moved_projects = 0
        for child in list(self.coll.find({"company": company, "parent": project_id})):
            self._rename_subtree(company, to_api(child), f"{destination['name']}/{child['basename']}",
                                 new_parent=destination_id, reparent=True)
            moved_projects += 1
        self.coll.delete_one({"_id": project_id})
        domain_events.publish_object("project.deleted", company, project)
        return {"moved_entities": moved, "moved_projects": moved_projects}

    def contents(self, company: str, project_ids: list[str]) -> dict:
        counts = {}
        for kind, coll in (("tasks", self._tasks), ("models", self._models)):
            docs = self._in_projects(coll, company, project_ids, {"system_tags": 1})
            counts[kind] = len(docs)
            counts[f"non_archived_{kind}"] = sum("archived" not in (d.get("system_tags") or []) for d in docs)
        return counts

    @staticmethod
    def _in_projects(coll, company: str, project_ids: list[str], fields: dict) -> list[dict]:
        """The documents of the projects, one index equality per project: the embedded store serves
        ``{company, project}`` from the (company, project, ...) index but scans the collection for a ``$in``."""
        found: list[dict] = []
        for project_id in project_ids:
            found.extend(coll.find({"company": company, "project": project_id}, fields))
        return found

    @staticmethod
    def _per_project(coll, company: str, project_ids: list[str], write) -> int:
        """``write(coll, {company, project})`` for each project: an equality the (company, project, ...) index
        serves, so the store reads only that project's documents (and writes them 1,000 per transaction).
        Measured faster than writing the same documents by ``_id`` batches (index upkeep dominates)."""
        return sum(write(coll, {"company": company, "project": project_id}) for project_id in project_ids)

    def delete(self, identity: Identity, project_id: str, force: bool, delete_contents: bool) -> dict:
        company = identity.company
        self.get(company, project_id)
        ids = self.subtree_ids(company, project_id)
        counts = self.contents(company, ids)
        if not force:
            if counts["non_archived_tasks"]:
                raise errors.ProjectHasTasks(f"project has {counts['non_archived_tasks']} associated tasks (use force)",
                                             project=project_id)
            if counts["non_archived_models"]:
                raise errors.ProjectHasModels(f"project has {counts['non_archived_models']} associated models (use force)",
                                              project=project_id)
        result = {"deleted": 0, "disassociated_tasks": 0, "deleted_tasks": 0, "deleted_models": 0,
                  "urls": {"model_urls": [], "artifact_urls": [], "event_urls": []}}
        # Everything by index equality per project: time in proportion to the contents, never a scan.
        if delete_contents:
            models = self._in_projects(self._models, company, ids, {"uri": 1})
            result["urls"]["model_urls"] = [m["uri"] for m in models if m.get("uri")]
            doomed = self._in_projects(self._tasks, company, ids, {"name": 1, "project": 1}) \
                if domain_events.publisher() else []
            result["deleted_tasks"] = self._per_project(
                self._tasks, company, ids, lambda coll, match: coll.delete_many(match).deleted_count)
            for task in doomed:
                domain_events.publish_object("task.deleted", company, task, ("project",))
            result["deleted_models"] = self._per_project(
                self._models, company, ids, lambda coll, match: coll.delete_many(match).deleted_count)
        else:
            def disassociate(coll, match):
                return coll.update_many(match, {"$set": {"project": None}}).modified_count
            result["disassociated_tasks"] = self._per_project(self._tasks, company, ids, disassociate)
            self._per_project(self._models, company, ids, disassociate)
        self.counters.drop_projects(counter_id(company, pid) for pid in ids)
        doomed = list(self.coll.find({"_id": {"$in": ids}}, {"name": 1})) if domain_events.publisher() else []
        result["deleted"] = self.coll.delete_many({"_id": {"$in": ids}}).deleted_count
        for project in doomed:
            domain_events.publish_object("project.deleted", company, project)
        return result

    def tags(self, company: str, coll_name: str, project_ids: list[str] | None, filter_: dict | None,
             include_system: bool = False) -> dict:
        """Tags of the tasks or models in the projects (and their descendants); system tags on request."""
        coll = self._tasks if coll_name == "tasks" else self._models
        match: dict = {"company": company, **tags_filter(filter_)}
        if project_ids:
            match["project"] = {"$in": self.ids_with_children(company, project_ids)}
        result = {"tags": sorted(t for t in coll.distinct("tags", match) if isinstance(t, str))}
        if include_system:
            result["system_tags"] = sorted(t for t in coll.distinct("system_tags", match) if isinstance(t, str))
        return result

    # -- internals -------------------------------------------------------------------------------------
    def _check_depth(self, parts: list[str]) -> None:
        if len(parts) > self._max_depth:
            raise errors.ProjectPathExceedsMax(f"project path depth {len(parts)} exceeds {self._max_depth}")

    def _ensure_path(self, identity: Identity, parts: list[str], hidden: bool = False) -> str | None:
        """Create each missing project along ``parts``; the id of the last one (None for the root)."""
        parent = None
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            found = self.coll.find_one({"company": identity.company, "name": name}, {"_id": 1})
            if found:
                parent = found["_id"]
                continue
            # Auto-created ".datasets"/".pipelines" folders are hidden, like the projects below them.
            system_tags = [HIDDEN_TAG] if hidden and parts[depth - 1].startswith(".") else []
            doc = self._new_doc(identity, parts[:depth], parent, {"system_tags": system_tags})
            try:
                insert_unique(self.coll, doc, f"project {name!r}")
                domain_events.publish_object("project.created", identity.company, doc)
            except errors.ExpectedUniqueData:  # created concurrently by another request: use that one
                doc = self.coll.find_one({"company": identity.company, "name": name}, {"_id": 1})
            parent = doc["_id"]
        return parent

    def _new_doc(self, identity: Identity, parts: list[str], parent: str | None, fields: dict) -> dict:
        now = utcnow()
        parent_doc = self.coll.find_one({"_id": parent}, {"path": 1}) if parent else None
        return {
            "_id": new_id(), "company": identity.company, "user": identity.user,
            "name": "/".join(parts), "basename": parts[-1], "parent": parent,
            "path": (parent_doc.get("path", []) + [parent]) if parent_doc else [],
            "description": fields.get("description") or "", "tags": fields.get("tags") or [],
            "system_tags": fields.get("system_tags") or [],
            "default_output_destination": fields.get("default_output_destination"),
            "created": now, "last_update": now,
        }

    def _rename_subtree(self, company: str, project: dict, new_name: str,
                        new_parent: str | None = None, reparent: bool = False) -> None:
        old_name = project["name"]
        if new_name != old_name and self.coll.find_one({"company": company, "name": new_name}):
            raise errors.ExpectedUniqueData(f"project {new_name!r} already exists", name=new_name)
        updates: dict = {"name": new_name, "basename": new_name.split("/")[-1], "last_update": utcnow()}
        new_path = project.get("path", [])
        if reparent:
            parent_doc = self.coll.find_one({"_id": new_parent}, {"path": 1}) if new_parent else None
            new_path = (parent_doc.get("path", []) + [new_parent]) if parent_doc else []
            updates.update(parent=new_parent, path=new_path)
        self.coll.update_one({"_id": project["id"]}, {"$set": updates})
        pattern = "^" + re.escape(old_name + "/")
        for child in self.coll.find({"company": company, "name": {"$regex": pattern}}):
            child_updates = {"name": new_name + child["name"][len(old_name):]}
            if reparent:
                old_path = child.get("path", [])
                own_index = old_path.index(project["id"])
                child_updates["path"] = new_path + old_path[own_index:]
            self.coll.update_one({"_id": child["_id"]}, {"$set": child_updates})


def tags_filter(filter_: dict | None) -> dict:
    """The {tags, system_tags} filter of the tags endpoints (with the tag operators)."""
    clauses = []
    for field in ("tags", "system_tags"):
        values = (filter_ or {}).get(field)
        if values:
            try:
                clauses.append(query.list_field_filter(field, values))
            except QueryError as exc:
                raise query_error(exc) from None
    return {"$and": clauses} if clauses else {}


def _stats_filter(params: dict) -> tuple[dict | None, bool]:
    """(filter of the entities counted in statistics, whether hidden sub-projects count): pipelines and
    reports are counted through their controller/report tasks, which live in hidden projects."""
    explicit, children_type = params.get("include_stats_filter"), params.get("children_type")
    search_hidden = bool(params.get("search_hidden"))
    if explicit or not children_type:
        return explicit, search_hidden
    if params.get("children_tags_filter"):
        base = {"tags": params["children_tags_filter"]}
    elif params.get("children_tags"):
        base = {"tags": params["children_tags"]}
    else:
        base = {}
    if children_type == "pipeline":
        return {**base, "system_tags": [PIPELINE_TAG], "type": ["controller"]}, True
    if children_type == "report":
        return {**base, "system_tags": [REPORTS_TAG], "type": ["report"]}, True
    return base, search_hidden
