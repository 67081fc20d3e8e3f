"""Edits of a task's contents: hyper-parameters, configuration, artifacts, model references, requirements.

Each edit is an atomic read-modify-write of one sub-document (:meth:`TaskStore.modify`). Contents may change
while the task is new, or with ``force`` while it is queued or running, as in the reference server.
"""
from __future__ import annotations

from typing import Callable

from trackside.api.bll import task_documents as documents, task_params as params
from trackside.api.bll.task_status import check_editable
from trackside.api.bll.task_store import TaskStore, changed_by
from trackside.api.context import Identity
from trackside.shared.timeutil import utcnow


def _editable(force: bool) -> Callable[[dict], None]:
    return lambda task: check_editable(task["id"], task.get("status"), force)


def _any_status(task: dict) -> None:
    return None


class TaskContents:
    def __init__(self, store: TaskStore):
        self.store = store

    # -- hyper-parameters ------------------------------------------------------------------------------
    def get_params(self, company: str, task_ids: list[str]) -> list[dict]:
        return [{"task": t["id"], "hyperparams": params.params_list(t.get("hyperparams"))}
                for t in self._load_many(company, task_ids, "hyperparams")]

    def edit_params(self, identity: Identity, task_id: str, items: list[dict], replace: str, force: bool) -> int:
        items = params.normalize_sections(items)
        return self.store.modify(identity, task_id, "hyperparams",
                                 lambda current: params.edit_params(current, items, replace),
                                 self._params_check(items, force))

    def delete_params(self, identity: Identity, task_id: str, keys: list[dict], force: bool) -> int:
        keys = params.normalize_sections(keys)
        return self.store.modify(identity, task_id, "hyperparams",
                                 lambda current: params.delete_params(current, keys),
                                 self._params_check(keys, force))

    @staticmethod
    def _params_check(items: list[dict], force: bool) -> Callable[[dict], None]:
        # Properties describe the task (e.g. the UI's notes), so they stay editable in every status.
        return _any_status if params.only_properties(items) else _editable(force)

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
        return self.store.modify(identity, task_id, "configuration",
                                 lambda current: params.edit_configuration(current, items, replace),
                                 _editable(force))

    def delete_configuration(self, identity: Identity, task_id: str, names: list[str], force: bool) -> int:
        return self.store.modify(identity, task_id, "configuration",
                                 lambda current: params.delete_configuration(current, names), _editable(force))

    # -- artifacts and models (the SDK registers them while the task runs) ------------------------------
    def add_or_update_artifacts(self, identity: Identity, task_id: str, artifacts: list[dict]) -> int:
        return self.store.modify(identity, task_id, "execution.artifacts",
                                 lambda current: documents.upsert_artifacts(current, artifacts), _editable(True))

    def delete_artifacts(self, identity: Identity, task_id: str, artifact_ids: list[dict]) -> int:
        return self.store.modify(identity, task_id, "execution.artifacts",
                                 lambda current: documents.remove_artifacts(current, artifact_ids), _editable(True))

    def add_or_update_model(self, identity: Identity, task_id: str, kind: str, name: str, model: str,
                            iteration: int | None) -> int:
        now = utcnow()
        updated = self.store.modify(identity, task_id, f"models.{kind}",
                                    lambda current: documents.upsert_model(current, name, model, now),
                                    _editable(True))
        if iteration is not None:
            self.store.coll.update_one({"_id": task_id}, {"$max": {"last_iteration": iteration}})
        return updated

    def delete_models(self, identity: Identity, task_id: str, models: list[dict]) -> int:
        for kind in (documents.INPUT, documents.OUTPUT):
            names = [m["name"] for m in models if m["type"] == kind]
            if names:
                self.store.modify(identity, task_id, f"models.{kind}",
                                  lambda current, names=names: documents.remove_models(current, names),
                                  _editable(True))
        return 1

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
