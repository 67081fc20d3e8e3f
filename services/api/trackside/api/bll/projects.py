"""Projects: a tree addressed by full paths (``a/b/c``). Parents are created on demand; renames and moves
rewrite the paths of the whole sub-tree."""
from __future__ import annotations

import re
from typing import Any

from pyhocon import ConfigTree
from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import HIDDEN_TAG, get_all, get_one, insert_unique, to_api
from trackside.api.context import Identity
from trackside.shared.ids import new_id
from trackside.shared.storage.query import QuerySpec
from trackside.shared.timeutil import utcnow

SPEC = QuerySpec(
    pattern_fields=("name", "basename", "description"),
    list_fields=("id", "tags", "system_tags", "user"),
    plain_fields=("default_output_destination",),
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

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, company: str, project_id: str, only_fields: list[str] | None = None) -> dict:
        return get_one(self.coll, company, project_id, errors.InvalidProjectId, only_fields, kind="project")

    def get_all(self, company: str, params: dict) -> list[dict]:
        """``parent`` finds every descendant; ``shallow_search`` limits to direct children (or the top level)."""
        parents = params.get("parent")
        shallow = params.get("shallow_search")
        if parents:
            extra = {"parent": {"$in": parents}} if shallow else {"path": {"$in": parents}}
        else:
            extra = {"parent": None} if shallow else None
        return get_all(self.coll, company, params, SPEC, extra_filter=extra)

    def find_by_name(self, company: str, name: str) -> dict | None:
        return to_api(self.coll.find_one({"company": company, "name": "/".join(split_path(name))}))

    def subtree_ids(self, company: str, project_id: str) -> list[str]:
        """The project and all its descendants."""
        children = [d["_id"] for d in self.coll.find({"company": company, "path": project_id}, {"_id": 1})]
        return [project_id, *children]

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
        self.get(company, project_id)
        destination = self.get(company, destination_id)
        if destination_id == project_id:
            raise errors.ProjectSourceAndDestinationAreTheSame(project=project_id)
        if destination_id in self.subtree_ids(company, project_id):
            raise errors.ProjectCannotBeMergedIntoItsChild(project=project_id, destination_project=destination_id)
        moved = 0
        for coll in (self._tasks, self._models):
            moved += coll.update_many({"company": company, "project": project_id},
                                      {"$set": {"project": destination_id, "last_update": utcnow()}}).modified_count
        moved_projects = 0
        for child in list(self.coll.find({"company": company, "parent": project_id})):
            self._rename_subtree(company, to_api(child), f"{destination['name']}/{child['basename']}",
                                 new_parent=destination_id, reparent=True)
            moved_projects += 1
        self.coll.delete_one({"_id": project_id})
        return {"moved_entities": moved, "moved_projects": moved_projects}

    def contents(self, company: str, project_ids: list[str]) -> dict:
        in_projects = {"company": company, "project": {"$in": project_ids}}
        not_archived = {"system_tags": {"$ne": "archived"}}
        return {
            "tasks": self._tasks.count_documents(in_projects),
            "non_archived_tasks": self._tasks.count_documents({**in_projects, **not_archived}),
            "models": self._models.count_documents(in_projects),
            "non_archived_models": self._models.count_documents({**in_projects, **not_archived}),
        }

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
        in_projects = {"company": company, "project": {"$in": ids}}
        result = {"deleted": 0, "disassociated_tasks": 0, "deleted_tasks": 0, "deleted_models": 0,
                  "urls": {"model_urls": [], "artifact_urls": [], "event_urls": []}}
        if delete_contents:
            result["urls"]["model_urls"] = [m["uri"] for m in self._models.find(in_projects, {"uri": 1}) if m.get("uri")]
            result["deleted_tasks"] = self._tasks.delete_many(in_projects).deleted_count
            result["deleted_models"] = self._models.delete_many(in_projects).deleted_count
        else:
            result["disassociated_tasks"] = self._tasks.update_many(in_projects, {"$set": {"project": None}}).modified_count
            self._models.update_many(in_projects, {"$set": {"project": None}})
        result["deleted"] = self.coll.delete_many({"_id": {"$in": ids}}).deleted_count
        return result

    def tags(self, company: str, coll_name: str, project_ids: list[str] | None, filter_: dict | None) -> dict:
        coll = self._tasks if coll_name == "tasks" else self._models
        query: dict = {"company": company}
        if project_ids:
            query["project"] = {"$in": [p for pid in project_ids for p in self.subtree_ids(company, pid)]}
        if filter_ and filter_.get("system_tags"):
            query["system_tags"] = {"$in": filter_["system_tags"]}
        return {"tags": sorted(coll.distinct("tags", query)), "system_tags": sorted(coll.distinct("system_tags", query))}

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
