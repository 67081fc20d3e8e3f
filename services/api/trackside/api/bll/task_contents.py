"""Edits of a task's contents: hyper-parameters, configuration, artifacts, model references, requirements.

Each edit is one atomic update of exactly what it changes (a parameter, a configuration item, an artifact,
a model reference), filtered on the statuses that allow it (:meth:`TaskStore.try_update`). Nothing is read
and written back, so concurrent edits of different items never conflict and none is lost; the only refusal
is a status that does not allow the edit. Contents may change while the task is new, or with ``force``
while it is queued or running, as in the reference server; properties in any status.
"""
from __future__ import annotations

from trackside.api.bll import task_documents as documents, task_params as params
from trackside.api.bll.task_status import EDITABLE, EDITABLE_WITH_FORCE, check_editable
from trackside.api.bll.task_store import EDIT_ATTEMPTS, TaskStore, changed_by
from trackside.api.context import Identity
from trackside.shared.timeutil import utcnow


class EditRule:
    """Which statuses allow an edit, as a write filter (``statuses``) and as a check of a re-read task."""

    def __init__(self, force: bool | None):
        # None: any status.
        self.statuses = None if force is None else (EDITABLE_WITH_FORCE if force else EDITABLE)
        self.force = force

    def check(self, task: dict) -> None:
        if self.force is not None:
            check_editable(task["id"], task.get("status"), self.force)


ANY_STATUS = EditRule(None)
# The SDK registers artifacts and models while the task runs.
WHILE_RUNNING = EditRule(True)


class TaskContents:
    def __init__(self, store: TaskStore):
        self.store = store

    def _apply(self, identity: Identity, task_id: str, update: dict, rule: EditRule) -> int:
        if not any(update.values()):
            # Nothing to change: still a 400/101 for a missing task and a status refusal, as for a real edit.
            rule.check(self.store.load(identity.company, task_id, ["id"]))
            return 0
        return self.store.update_contents(identity, task_id, update, rule.statuses, rule.check)

    # -- hyper-parameters ------------------------------------------------------------------------------
    def get_params(self, company: str, task_ids: list[str]) -> list[dict]:
        return [{"task": t["id"], "hyperparams": params.params_list(t.get("hyperparams"))}
                for t in self._load_many(company, task_ids, "hyperparams")]

    def edit_params(self, identity: Identity, task_id: str, items: list[dict], replace: str, force: bool) -> int:
        items = params.normalize_sections(items)
        return self._apply(identity, task_id, params.params_update(items, replace), self._params_rule(items, force))

    def delete_params(self, identity: Identity, task_id: str, keys: list[dict], force: bool) -> int:
        keys = params.normalize_sections(keys)
        return self._apply(identity, task_id, params.params_delete_update(keys), self._params_rule(keys, force))

    @staticmethod
    def _params_rule(items: list[dict], force: bool) -> EditRule:
        # Properties describe the task (e.g. the UI's notes), so they stay editable in every status.
        return ANY_STATUS if params.only_properties(items) else EditRule(force)

    # -- configuration ---------------------------------------------------------------------------------
    def get_configurations(self, company: str, task_ids: list[str], names: list[str] | None) -> list[dict]:
        return [{"task": t["id"], "configuration": params.configuration_list(t.get("configuration"), names)}
                for t in self._load_many(company, task_ids, "configuration")]

    def get_configuration_names(self, company: str, task_ids: list[str], skip_empty: bool) -> list[dict]:
        found = [{"task": t["id"], "names": params.configuration_names(t.get("configuration"), skip_empty)}
                 for t in self._load_many(company, task_ids, "configuration")]
        return [entry for entry in found if entry["names"]]

    def edit_configuration(self, identity: Identity, task_id: str, items: list[dict], replace: bool,
                           force: bool) -> int:
        return self._apply(identity, task_id, params.configuration_update(items, replace), EditRule(force))

    def delete_configuration(self, identity: Identity, task_id: str, names: list[str], force: bool) -> int:
        return self._apply(identity, task_id, params.configuration_delete_update(names), EditRule(force))

    # -- artifacts and models: list items upserted one by one, each in one write ------------------------
    def add_or_update_artifacts(self, identity: Identity, task_id: str, artifacts: list[dict]) -> int:
        for artifact in artifacts:
            artifact = documents.with_default_mode(artifact)
            key, mode = documents.artifact_key(artifact)
            self._upsert_item(identity, task_id, "execution.artifacts", {"key": key, "mode": mode}, artifact)
        return 1

    def delete_artifacts(self, identity: Identity, task_id: str, artifact_ids: list[dict]) -> int:
        by_mode: dict[str, list[str]] = {}
        for key, mode in map(documents.artifact_key, artifact_ids):
            by_mode.setdefault(mode, []).append(key)
        # One array may take one $pull per update, hence a write per mode.
        for mode, keys in by_mode.items():
            self._apply(identity, task_id, {"$pull": {"execution.artifacts": {"mode": mode, "key": {"$in": keys}}}},
                        WHILE_RUNNING)
        return 1

    def add_or_update_model(self, identity: Identity, task_id: str, kind: str, name: str, model: str,
                            iteration: int | None) -> int:
        entry = {"name": name, "model": model, "updated": utcnow()}
        self._upsert_item(identity, task_id, f"models.{kind}", {"name": name}, entry)
        if iteration is not None:
            self.store.coll.update_one({"_id": task_id}, {"$max": {"last_iteration": iteration}})
        return 1

    def delete_models(self, identity: Identity, task_id: str, models: list[dict]) -> int:
        pulls = {}
        for kind in (documents.INPUT, documents.OUTPUT):
            names = [m["name"] for m in models if m["type"] == kind]
            if names:
                pulls[f"models.{kind}"] = {"name": {"$in": names}}
        self._apply(identity, task_id, {"$pull": pulls}, WHILE_RUNNING)
        return 1

    def _upsert_item(self, identity: Identity, task_id: str, path: str, identity_fields: dict, item: dict) -> None:
        """Replace the item of the list at ``path`` matching ``identity_fields`` in place, or append it when
        there is none: two conditional writes, one of which matches unless another writer added or removed
        that same item in between (then the pair is redone)."""
        same = {"$elemMatch": identity_fields}
        element_filter = {f"e.{field}": value for field, value in identity_fields.items()}
        for _ in range(EDIT_ATTEMPTS):
            if self.store.try_update(identity, task_id, {"$set": {f"{path}.$[e]": item}}, WHILE_RUNNING.statuses,
                                     WHILE_RUNNING.check, precondition={path: same},
                                     array_filters=[element_filter]):
                return
            if self.store.try_update(identity, task_id, {"$push": {path: item}}, WHILE_RUNNING.statuses,
                                     WHILE_RUNNING.check, precondition={path: {"$not": same}}):
                return
        raise self.store.lost_race(task_id, None)

    # -- requirements ----------------------------------------------------------------------------------
    def set_requirements(self, identity: Identity, task_id: str, requirements: dict) -> dict:
        """Requirements are free-form: the SDK sends ``pip`` as text, the agent as a list of lines."""
        self.store.load(identity.company, task_id, ["id"])
        fields = {"script.requirements": requirements}
        self.store.coll.update_one({"_id": task_id, "company": identity.company},
                                   {"$set": {**fields, **changed_by(identity)}})
        return {"updated": 1, "fields": fields}

    def _load_many(self, company: str, task_ids: list[str], field: str) -> list[dict]:
        return [self.store.load(company, task_id, [field]) for task_id in dict.fromkeys(task_ids)]
