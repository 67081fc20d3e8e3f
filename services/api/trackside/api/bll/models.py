"""Models: registered weights files, their metadata, and the output-model links kept on tasks.

A model may name the task that produced it (``task``). Tasks list their models in ``models.input`` and
``models.output`` as ``{name, model, updated}`` items; the few writes this module makes to those lists are
single atomic updates on the tasks collection, so it does not depend on the tasks BLL.

``metadata`` is stored as ``{escaped key: {key, type, value}}``: MongoDB field names cannot contain ``.`` or
``$``, so the stored key is escaped while each item keeps the real key, which is what the API shows.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.common import get_all, get_one, owner_ids, require_ids, set_fields
from trackside.api.bll.references import MODEL_REFERENCES, References
from trackside.api.context import Identity
from trackside.shared import domain_events
from trackside.shared.ids import new_id
from trackside.shared.storage import keys
from trackside.shared.storage.query import QuerySpec
from trackside.shared.timeutil import utcnow

SPEC = QuerySpec(
    pattern_fields=("name", "comment"),
    list_fields=("id", "tags", "system_tags", "framework", "uri", "user", "project", "task", "parent",
                 "metadata.*"),
    plain_fields=("ready",),
    range_fields=("created", "last_metrics.*", "last_iteration"),
    datetime_fields=("last_update", "last_change"),
    date_fields=frozenset({"created"}),
    numeric_prefixes=("metadata.", "last_metrics."),
    text_fields=("name", "id", "comment", "parent", "task", "project"),
)
ARCHIVED_TAG = "archived"
# The name the reference gives the output model a task records through models.update_for_task.
OUTPUT_MODEL_NAME = "Output Model"
# Task references to a force-deleted model keep a marker instead of a dangling id, as in the reference.
DELETED_PREFIX = "__DELETED__"
PUBLISHED = "published"
# Task statuses in which models.update_for_task may still change the task's output model.
OUTPUT_UPDATABLE_STATUSES = ("created", "in_progress")
WRITABLE = frozenset({
    "name", "uri", "comment", "tags", "system_tags", "framework", "design", "labels", "ready",
    "project", "parent", "task", "ui_cache", "created",
})


# -- metadata ----------------------------------------------------------------------------------------------
def metadata_field(key: str) -> str:
    """The stored field name for a metadata key (:mod:`trackside.shared.storage.keys`)."""
    return keys.escape(key)


def metadata_query_key(key: str) -> str:
    """A ``metadata.<key>.value`` filter key as stored (the key part escaped); other keys as they are."""
    if not key.startswith("metadata."):
        return key
    path = key[len("metadata."):]
    name, dot, leaf = path.rpartition(".") if "." in path else (path, "", "")
    return f"metadata.{metadata_field(name)}{dot}{leaf}"


def metadata_doc(items: Iterable[dict]) -> dict:
    return {metadata_field(item["key"]): _metadata_item(item) for item in items}


def _metadata_item(item: dict) -> dict:
    return {"key": item["key"], "type": item.get("type"), "value": item.get("value")}


def _api_metadata(model: dict) -> dict:
    """Key the stored metadata items by their real keys again."""
    metadata = model.get("metadata")
    if isinstance(metadata, dict):
        model["metadata"] = {
            item.get("key", field): item for field, item in metadata.items() if isinstance(item, dict)
        }
    return model


# The data of model.created / model.published domain events, besides id and name.
MODEL_EVENT_FIELDS = ("project", "task")


class ModelsBLL:
    def __init__(self, db: Database, projects, references: References):
        self.coll = db["models"]
        self._tasks = db["tasks"]
        self.projects = projects
        self.references = references

    # -- reading ---------------------------------------------------------------------------------------
    def user_ids(self, company: str, project_ids: list[str] | None) -> list[str]:
        return owner_ids(self.coll, company, project_ids)

    def get(self, company: str, model_id: str, only_fields: list[str] | None = None,
            allow_public: bool = False) -> dict:
        """``allow_public`` only for reads (models.get_by_id): public models are never written by others."""
        model = get_one(self.coll, company, model_id, errors.InvalidModelId, only_fields, kind="model",
                        allow_public=allow_public)
        return _api_metadata(model)

    def get_all(self, company: str, params: dict) -> list[dict]:
        params = self._with_subprojects(company, params)
        params = {metadata_query_key(k): v for k, v in params.items()}
        # The reference neither hides hidden models nor limits listing to the caller's own: public ones show
        # unless get_all_ex says allow_public: false.
        models = get_all(self.coll, company, params, SPEC, hidden_aware=False,
                         allow_public=params.get("allow_public", True))
        return [_api_metadata(m) for m in models]

    def get_all_ex(self, company: str, params: dict) -> list[dict]:
        """get_all, plus ``project.name``-style only_fields resolved into ``{id, name}`` sub-documents."""
        join = self.references.plan(params.get("only_fields"), MODEL_REFERENCES)
        models = join.apply(company, self.get_all(company, {**params, "only_fields": join.only_fields}))
        if params.get("include_stats"):
            self._add_stats(company, models)
        return models

    def get_by_task(self, company: str, task_id: str) -> dict:
        task = self._tasks.find_one({"_id": task_id, "company": company}, {"models": 1})
        if task is None:
            raise errors.InvalidTaskId(f"invalid task id: task id={task_id!r} not found", id=task_id)
        outputs = (task.get("models") or {}).get("output") or []
        if not outputs:
            raise errors.MissingTaskFields(f"task {task_id} has no output model", field="models.output")
        return self.get(company, outputs[-1]["model"])

    def frameworks(self, company: str, project_ids: list[str] | None) -> list[str]:
        query: dict = {"company": company}
        if project_ids:
            query["project"] = {"$in": self._subtrees(company, project_ids)}
        return sorted(f for f in self.coll.distinct("framework", query) if f)

    # -- writing ---------------------------------------------------------------------------------------
    def create(self, identity: Identity, fields: dict) -> str:
        return self._insert(identity, self._writable_values(identity.company, fields))

    def update(self, identity: Identity, model_id: str, fields: dict, iteration: int | None = None) -> dict:
        """models.edit / models.update: set the given fields; the changed fields as the API shows them."""
        company = identity.company
        model = self.get(company, model_id, only_fields=["task"])
        updates = self._writable_values(company, fields)
        if "uri" in updates:
            updates.setdefault("ui_cache", {})  # new weights make the UI's cached view stale
        task_id = updates.get("task") or model.get("task")
        if iteration is not None and task_id:
            self._raise_task_iteration(company, task_id, iteration)
        if not updates:
            return {}
        updates["last_update"] = utcnow()
        self.coll.update_one({"_id": model_id, "company": company}, {"$set": updates})
        return _api_metadata(dict(updates))

    def publish(self, identity: Identity, model_id: str,
                publish_task: Callable[[str], dict] | None = None) -> tuple[int, dict | None]:
        """models.set_ready / publish_many: the model becomes ready (a ready one is 400/203); with
        ``publish_task`` its creating task is published first, unless it already is (a refusal fails it all).
        The update count and ``{id, data}`` of the task's publishing, if any."""
        company = identity.company
        model = self.get(company, model_id, only_fields=["task", "ready"])
        if model.get("ready"):
            raise errors.ModelIsReady(f"model {model_id} is already published (ready)", model=model_id)
        published_task = None
        if publish_task and model.get("task"):
            task = self._tasks.find_one({"_id": model["task"], "company": company}, {"status": 1})
            if task and task.get("status") != PUBLISHED:
                published_task = {"id": model["task"], "data": publish_task(model["task"])}
        return self.mark_ready(identity, model_id), published_task

    def mark_ready(self, identity: Identity, model_id: str | None) -> int:
        """Set ``ready`` on a draft model (a published task's output model is published with it)."""
        if not model_id:
            return 0
        now = utcnow()
        changed = self.coll.update_one(
            {"_id": model_id, "company": identity.company, "ready": {"$ne": True}},
            {"$set": {"ready": True, "last_update": now, "last_change": now, "last_changed_by": identity.user}},
        ).modified_count
        if changed and domain_events.publisher():  # the event's names cost a read only when it is sent
            model = self.coll.find_one({"_id": model_id}, {"name": 1, "project": 1, "task": 1}) or {"_id": model_id}
            domain_events.publish_object("model.published", identity.company, model, MODEL_EVENT_FIELDS)
        return changed

    def set_archived(self, identity: Identity, model_id: str, archived: bool) -> bool:
        change = {"$addToSet" if archived else "$pull": {"system_tags": ARCHIVED_TAG}}
        result = self.coll.update_one(
            {"_id": model_id, "company": identity.company}, {**change, "$set": {"last_update": utcnow()}}
        )
        if not result.matched_count:
            raise errors.InvalidModelId(f"invalid model id: model id={model_id!r} not found", id=model_id)
        return True

    def delete(self, identity: Identity, model_id: str, force: bool) -> dict:
        """Refuse (unless ``force``) a model other tasks use as input or whose creating task is published."""
        company = identity.company
        model = self.get(company, model_id, only_fields=["task", "uri"])
        if not force:
            self._check_unused(company, model)
        self._release_task_references(company, model_id)
        deleted = self.coll.delete_one({"_id": model_id, "company": company}).deleted_count
        return {"deleted": bool(deleted), "url": model.get("uri")}

    def update_for_task(self, identity: Identity, task_id: str, fields: dict) -> dict:
        """Create (or update) the output model of a task and record it in the task's ``models.output``."""
        uri, override = fields.get("uri"), fields.get("override_model_id")
        if bool(uri) == bool(override):
            raise errors.MissingRequiredFields(
                "exactly one of uri and override_model_id is required", fields=["uri", "override_model_id"]
            )
        company, iteration = identity.company, fields.get("iteration")
        task = self._task_for_output_update(company, task_id)
        outputs = (task.get("models") or {}).get("output") or []
        if override:
            self.get(company, override, only_fields=["id"])
            self._record_output(company, task_id, override, iteration)
            return {"id": override, "created": False, "updated": 1}
        if outputs:  # the task already has an output model: update its latest one
            model_id = outputs[-1]["model"]
            changed = self.update(identity, model_id, _output_changes(fields), iteration)
            return {"id": model_id, "created": False, "updated": 1 if changed else 0, "fields": changed}
        model_id = self._insert(identity, _output_model_fields(task, fields))
        self._record_output(company, task_id, model_id, iteration)
        return {"id": model_id, "created": True, "updated": 1}

    def add_or_update_metadata(self, identity: Identity, model_id: str, items: list[dict], replace: bool) -> int:
        stored = metadata_doc(items)
        if replace:
            change = {"metadata": stored}
        else:
            change = {f"metadata.{field}": item for field, item in stored.items()}
        return self._set(identity.company, model_id, change)

    def delete_metadata(self, identity: Identity, model_id: str, keys: list[str]) -> int:
        unset = {f"metadata.{metadata_field(key)}": 1 for key in set(keys)}
        result = self.coll.update_one(
            {"_id": model_id, "company": identity.company}, {"$unset": unset, "$set": {"last_update": utcnow()}}
        )
        if not result.matched_count:
            raise errors.InvalidModelId(f"invalid model id: model id={model_id!r} not found", id=model_id)
        return 1

    def move(self, identity: Identity, ids: list[str], project: str | None, project_name: str | None) -> str | None:
        """Move models under a project (``project_name`` is created if missing); None means the root."""
        company = identity.company
        if project_name:
            project = self.projects.get_or_create(identity, project_name)
        elif project:
            self.projects.get(company, project, only_fields=["id"])
        require_ids(self.coll, company, ids, errors.InvalidModelId)
        self.coll.update_many(
            {"_id": {"$in": ids}, "company": company}, {"$set": {"project": project, "last_update": utcnow()}}
        )
        return project

    def update_tags(self, identity: Identity, ids: list[str], add: list[str], remove: list[str]) -> int:
        query = {"_id": {"$in": ids}, "company": identity.company}
        stamp = {"$set": {"last_update": utcnow()}}
        updated = 0
        # Two updates: MongoDB refuses $addToSet and $pull on the same field in one.
        if add:
            updated += self.coll.update_many(query, {"$addToSet": {"tags": {"$each": add}}, **stamp}).matched_count
        if remove:
            updated += self.coll.update_many(query, {"$pull": {"tags": {"$in": remove}}, **stamp}).matched_count
        return updated

    # -- internals -------------------------------------------------------------------------------------
    def _insert(self, identity: Identity, values: dict) -> str:
        now = utcnow()
        doc = {
            "_id": new_id(), "company": identity.company, "user": identity.user,
            "name": values.get("name"), "uri": values.get("uri"), "comment": values.get("comment") or "",
            "tags": values.get("tags") or [], "system_tags": values.get("system_tags") or [],
            "framework": values.get("framework"), "design": values.get("design") or {},
            "labels": values.get("labels") or {}, "ready": bool(values.get("ready", False)),
            "project": values.get("project"), "parent": values.get("parent"), "task": values.get("task"),
            "ui_cache": values.get("ui_cache") or {}, "metadata": values.get("metadata") or {},
            "created": values.get("created") or now, "last_update": now,
        }
        self.coll.insert_one(doc)
        domain_events.publish_object("model.created", identity.company, doc, MODEL_EVENT_FIELDS)
        return doc["_id"]

    def _set(self, company: str, model_id: str, values: dict) -> int:
        result = self.coll.update_one(
            {"_id": model_id, "company": company}, {"$set": {**values, "last_update": utcnow()}}
        )
        if not result.matched_count:
            raise errors.InvalidModelId(f"invalid model id: model id={model_id!r} not found", id=model_id)
        return 1

    def _writable_values(self, company: str, fields: dict) -> dict:
        """The request fields a caller may set, with references checked and metadata in its stored form."""
        values = set_fields({}, fields, WRITABLE)
        self._check_references(company, values)
        if fields.get("metadata") is not None:
            values["metadata"] = metadata_doc(fields["metadata"])
        return values

    def _check_references(self, company: str, values: dict) -> None:
        if values.get("project"):
            self.projects.get(company, values["project"], only_fields=["id"])
        if values.get("task"):
            self._task(company, values["task"], {"_id": 1})

    def _task(self, company: str, task_id: str, projection: dict) -> dict:
        task = self._tasks.find_one({"_id": task_id, "company": company}, projection)
        if task is None:
            raise errors.InvalidTaskId(f"invalid task id: task id={task_id!r} not found", id=task_id)
        return task

    def _task_for_output_update(self, company: str, task_id: str) -> dict:
        task = self._task(company, task_id, {"name": 1, "status": 1, "project": 1, "execution": 1, "models": 1})
        status = task.get("status") or "created"
        if status not in OUTPUT_UPDATABLE_STATUSES:
            raise errors.InvalidTaskStatus(
                f"the output model can only be updated for tasks in the {list(OUTPUT_UPDATABLE_STATUSES)} "
                f"states; task {task_id} is {status}", id=task_id, status=status,
            )
        return task

    def _raise_task_iteration(self, company: str, task_id: str, iteration: int) -> None:
        self._tasks.update_one({"_id": task_id, "company": company}, {"$max": {"last_iteration": iteration}})

    def _record_output(self, company: str, task_id: str, model_id: str, iteration: int | None) -> None:
        """Point the task's "Output Model" item at ``model_id``, replacing it or appending it."""
        now = utcnow()
        entry = {"name": OUTPUT_MODEL_NAME, "model": model_id, "updated": now}
        extra = {"$max": {"last_iteration": iteration}} if iteration is not None else {}
        task = {"_id": task_id, "company": company}
        replaced = self._tasks.update_one(
            {**task, "models.output.name": OUTPUT_MODEL_NAME},
            {"$set": {"models.output.$[item]": entry, "last_update": now}, **extra},
            array_filters=[{"item.name": OUTPUT_MODEL_NAME}],
        )
        if not replaced.matched_count:
            # The filter keeps a concurrent call from appending a second "Output Model" item.
            self._tasks.update_one(
                {**task, "models.output.name": {"$ne": OUTPUT_MODEL_NAME}},
                {"$push": {"models.output": entry}, "$set": {"last_update": now}, **extra},
            )

    def _check_unused(self, company: str, model: dict) -> None:
        users = self._tasks.count_documents({"company": company, "models.input.model": model["id"]})
        if users:
            raise errors.ModelInUse(
                f"model {model['id']} is an input of {users} tasks; use force=True to delete", num_tasks=users
            )
        if model.get("task"):
            creator = self._tasks.find_one({"_id": model["task"], "company": company}, {"status": 1})
            if creator and creator.get("status") == PUBLISHED:
                raise errors.ModelCreatingTaskExists(
                    f"model {model['id']} was created by the published task {model['task']}; "
                    "use force=True to delete", task=model["task"],
                )

    def _release_task_references(self, company: str, model_id: str) -> None:
        """Inputs and published outputs keep a deleted-marker (a published task also notes the deletion in
        ``output.error``); other tasks simply drop the output item."""
        self._mark_deleted(company, "input", model_id, {})
        self._mark_deleted(company, "output", model_id, {"status": PUBLISHED},
                           {"output.error": f"model deleted on {utcnow().isoformat()}"})
        self._tasks.update_many(
            {"company": company, "models.output.model": model_id},
            {"$pull": {"models.output": {"model": model_id}}, "$set": {"last_update": utcnow()}},
        )

    def _mark_deleted(self, company: str, kind: str, model_id: str, task_filter: dict,
                      extra: dict | None = None) -> None:
        self._tasks.update_many(
            {"company": company, f"models.{kind}.model": model_id, **task_filter},
            {"$set": {f"models.{kind}.$[item].model": DELETED_PREFIX + model_id, "last_update": utcnow(),
                      **(extra or {})}},
            array_filters=[{"item.model": model_id}],
        )

    def _with_subprojects(self, company: str, params: dict) -> dict:
        if params.get("include_subprojects") and params.get("project"):
            return {**params, "project": self._subtrees(company, params["project"])}
        return params

    def _subtrees(self, company: str, project_ids: list[Any]) -> list[Any]:
        """Each project with its descendants; a null entry ("no project") is kept as it is."""
        expanded: list[Any] = []
        for project_id in project_ids:
            expanded.extend(self.projects.subtree_ids(company, project_id) if project_id else [project_id])
        return expanded

    def _add_stats(self, company: str, models: list[dict]) -> None:
        ids = [m["id"] for m in models]
        labels = {d["_id"]: d.get("labels") or {} for d in self.coll.find({"_id": {"$in": ids}, "company": company},
                                                                           {"labels": 1})}
        for model in models:
            model["stats"] = {"labels_count": len(labels.get(model["id"], {}))}


def _output_changes(fields: dict) -> dict:
    return {k: fields[k] for k in ("uri", "name", "comment", "tags", "system_tags") if fields.get(k) is not None}


def _output_model_fields(task: dict, fields: dict) -> dict:
    """A new output model inherits the task's project, framework, design, labels and input model."""
    execution = task.get("execution") or {}
    inputs = (task.get("models") or {}).get("input") or []
    return {
        **_output_changes(fields),
        "name": fields.get("name") or task.get("name"),
        "comment": fields.get("comment") or f"Created by task `{task.get('name')}` ({task['_id']})",
        "task": task["_id"], "project": task.get("project"), "framework": execution.get("framework"),
        "design": execution.get("model_desc") or {}, "labels": execution.get("model_labels") or {},
        "parent": inputs[0]["model"] if inputs else None,
    }
