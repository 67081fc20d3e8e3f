"""Pipelines: starting a run from a pipeline controller task, and deleting runs.

A pipeline's runs are its controller tasks (type ``controller``) in the pipeline's project; a run's steps are
the tasks whose parent is its controller.
"""
from __future__ import annotations

import re

from trackside.api import errors
from trackside.api.bll.batch import run_batch
from trackside.api.bll.task_params import REPLACE_NONE
from trackside.api.context import Identity

CONTROLLER_TYPE = "controller"
PIPELINE_TAG = "pipeline"
ARGS_SECTION = "Args"
START_MESSAGE = "Starting pipeline"


class PipelinesBLL:
    def __init__(self, tasks, queues, workers):
        self.tasks = tasks
        self.queues = queues
        self.workers = workers

    def start(self, identity: Identity, task_id: str, queue_id: str, args: list[dict],
              verify_watched_queue: bool) -> dict:
        """A clone of the controller ``task_id`` with its ``Args`` set, named as the next run, enqueued."""
        company = identity.company
        self.tasks.get(company, task_id)
        # Checked before cloning, so a bad queue leaves no run behind.
        self.queues.get(company, queue_id, only_fields=["id"])
        run_id = self.tasks.clone(identity, task_id, {}, None)["id"]
        if args:
            items = [{"section": ARGS_SECTION, "name": str(arg["name"]), "value": str(arg["value"])} for arg in args]
            self.tasks.contents.edit_params(identity, run_id, items, REPLACE_NONE, False)
        self._name_run(company, run_id)
        enqueued = self.tasks.transitions.enqueue(identity, run_id, queue_id, None, force=False, reason="",
                                                  message=START_MESSAGE)
        result = {"pipeline": run_id, "enqueued": bool(enqueued.get("queued"))}
        if verify_watched_queue and result["enqueued"]:
            result["queue_watched"] = self.workers.queue_watched(company, queue_id)
        return result

    def _name_run(self, company: str, run_id: str) -> None:
        """``<project basename> #<n>``, n counting the project's pipeline tasks so named (this one included),
        as the reference names runs started from the UI."""
        run = self.tasks.store.load(company, run_id, ["project"])
        if not run.get("project"):
            return
        project = self.tasks.projects.get(company, run["project"], only_fields=["name"])
        prefix = project["name"].rpartition("/")[2]
        count = self.tasks.coll.count_documents({
            "company": company, "project": run["project"], "system_tags": PIPELINE_TAG,
            "name": {"$regex": rf"{re.escape(prefix)}( #\d+)?$"},
        })
        self.tasks.coll.update_one({"_id": run_id, "company": company},
                                   {"$set": {"name": f"{prefix} #{count}" if count else prefix}})

    def delete_runs(self, identity: Identity, project: str, ids: list[str]) -> dict:
        """Delete the given runs of ``project`` with their steps and draft output models; one run must stay."""
        company = identity.company
        runs = {doc["_id"] for doc in self.tasks.coll.find(
            {"company": company, "project": project, "type": CONTROLLER_TYPE}, {"_id": 1})}
        if not runs - set(ids):
            raise errors.CannotRemoveAllRuns(f"at least one run of pipeline project {project} must stay",
                                             project=project)
        # Only controller tasks of this pipeline are deleted; other ids are ignored, as in the reference.
        doomed = [run for run in dict.fromkeys(ids) if run in runs]
        return run_batch(doomed, lambda run: self._delete_run(identity, run))

    def _delete_run(self, identity: Identity, run_id: str) -> dict:
        # With its steps and draft output models; published outputs stay, re-pointed to the deleted run.
        result = self.tasks.delete(identity, run_id, force=True, delete_output_models=True,
                                   include_pipeline_steps=True)
        return {key: result[key] for key in ("deleted", "updated_children", "updated_models", "deleted_models")}
