"""Status changes: started/stopped/failed/completed/close/publish, stop, reset, enqueue and dequeue.

Every change is one conditional write (``{_id, status: <status read>}``) so two callers racing on the same
task cannot both win; the loser gets FailedChangingTaskStatus (400/121). Responses carry
``{updated, fields}`` where ``fields`` are the values written, as the reference server answers.
"""
from __future__ import annotations

from trackside.api import errors
from trackside.api.bll import task_documents as documents
from trackside.api.bll.common import to_api
from trackside.api.bll.task_cleanup import CLEANUP_FIELDS, TaskCleanup, input_only_artifacts
from trackside.api.bll.task_status import (
    ALLOWED_TRANSITIONS, CLOSED, COMPLETED, CREATED, DEVELOPMENT_TAG, IN_PROGRESS, PUBLISHED, QUEUED, STOPPED,
    STOPPING_MESSAGE, UNKNOWN, check_transition,
)
from trackside.api.bll.task_store import TaskStore, changed_by
from trackside.api.context import Identity
from trackside.shared import domain_events
from trackside.shared.events import EventStore
from trackside.shared.timeutil import utcnow

# Fields a reset clears so the task can run again from scratch.
RESET_UNSET = ("output.result", "output.error", "last_worker", "last_worker_report", "started", "completed",
               "published", "active_duration", "enqueue_status")


class TaskTransitions:
    def __init__(self, store: TaskStore, projects, queues, models, events: EventStore, workers=None):
        self.store = store
        self.projects = projects
        self.queues = queues
        self.models = models
        self.events = events
        self.workers = workers
        self.cleanup = TaskCleanup(store.coll, models.coll, events)

    def change_status(self, identity: Identity, task: dict, new_status: str, *, force: bool = False,
                      reason: str | None = None, message: str | None = None, writes: dict | None = None,
                      operators: dict | None = None, also: dict | None = None) -> dict:
        """Move ``task`` (as read) to ``new_status`` with extra ``writes`` ($set) and update ``operators``;
        ``also``: more the task must still match for the write to land."""
        check_transition(task["id"], task.get("status"), new_status, force)
        fields = {
            "status": new_status, "status_reason": reason or "", "status_message": message or "",
            "status_changed": utcnow(), **changed_by(identity), **(writes or {}),
        }
        self.store.update_if_status(identity.company, task, {"$set": fields, **(operators or {})}, also)
        self.projects.touch(identity.company, task.get("project"))
        domain_events.status_changed(identity.company, task, new_status, task.get("status"), fields["status_changed"],
                                     identity.user, fields["status_reason"], fields["status_message"])
        return {"updated": 1, "fields": fields}

    # -- the plain transitions, reported by the SDK and the agent ---------------------------------------
    def started(self, identity: Identity, task_id: str, force: bool, reason: str | None, message: str | None) -> dict:
        for attempt in range(2):
            task = self.store.load(identity.company, task_id, ["started", "status_message", "status_reason"])
            now = utcnow()
            if task.get("status") == IN_PROGRESS and task.get("started"):
                # Started again (agent daemon, then child, then SDK): keep the first start time.
                writes, operators = {}, {"$min": {"started": now}}
            else:
                writes, operators = {"started": now}, {"$unset": {"completed": 1, "active_duration": 1}}
            pending_stop = task.get("status") == IN_PROGRESS and task.get("status_message") == STOPPING_MESSAGE
            if pending_stop:
                # A stop request its agent has not seen yet survives a repeated start (the agent's second one,
                # the SDK's): overwritten, the task would run on as if nobody had asked.
                said, also = (task.get("status_reason"), STOPPING_MESSAGE), None
            else:
                # A stop landing meanwhile makes the write miss: look again.
                said, also = (reason, message), {"status_message": {"$ne": STOPPING_MESSAGE}}
            try:
                result = self.change_status(identity, task, IN_PROGRESS, force=force, reason=said[0],
                                            message=said[1], writes=writes, operators=operators, also=also)
                break
            except errors.FailedChangingTaskStatus:
                if attempt:
                    raise
        if task.get("status") != IN_PROGRESS:
            # A claimed task is started: its lease is done (the stock agent starts with tasks.started).
            self.queues.drop_lease(identity.company, task_id)
        return {"started": result["updated"], **result}

    def finished(self, identity: Identity, task_id: str, new_status: str, force: bool, reason: str | None,
                 message: str | None) -> dict:
        """tasks.stopped / failed / completed: the run is over."""
        task = self.store.load(identity.company, task_id, ["id"])
        return self.change_status(identity, task, new_status, force=force, reason=reason, message=message,
                                  writes={"completed": utcnow()})

    def close(self, identity: Identity, task_id: str, force: bool, reason: str | None, message: str | None) -> dict:
        task = self.store.load(identity.company, task_id, ["id"])
        return self.change_status(identity, task, CLOSED, force=force, reason=reason, message=message)

    def completed(self, identity: Identity, task_id: str, force: bool, reason: str | None, message: str | None,
                  publish: bool) -> dict:
        result = self.finished(identity, task_id, COMPLETED, force, reason, message)
        if publish:
            published = self.publish(identity, task_id, force, reason, message, publish_model=True)
            result["published"] = published["updated"]
            result["fields"]["status"] = PUBLISHED
        return result

    def publish(self, identity: Identity, task_id: str, force: bool, reason: str | None, message: str | None,
                publish_model: bool) -> dict:
        """Publish the task and, with ``publish_model``, its latest output model if still a draft."""
        task = self.store.load(identity.company, task_id, ["models.output"])
        status = task.get("status")
        if not force and PUBLISHED not in ALLOWED_TRANSITIONS.get(status or UNKNOWN, frozenset()):
            # Publishing again is refused too (the reference allows no same-status publish).
            raise errors.InvalidTaskStatus(
                f"invalid status change: task {task_id} is {status}, it cannot be published (use force)",
                task=task_id, current_status=status, new_status=PUBLISHED)
        result = self.change_status(identity, task, PUBLISHED, force=True, reason=reason, message=message,
                                    writes={"published": utcnow()})
        output_models = (task.get("models") or {}).get(documents.OUTPUT) or []
        if publish_model and output_models:
            self.models.mark_ready(identity, output_models[-1].get("model"))
        return result

    # -- stop: a request to a worker, or an immediate stop -----------------------------------------------
    def stop(self, identity: Identity, task_id: str, force: bool, reason: str | None,
             include_pipeline_steps: bool = False) -> dict:
        """A task a live worker runs keeps its status and gets the message "stopping": the agent polls for it,
        kills the run and reports tasks.stopped itself. Any other task (queued, development, or with no live
        worker on it) is stopped here. A pipeline controller's steps are stopped first, with force."""
        task = self.store.load(identity.company, task_id, ["system_tags", "last_worker", "execution.queue", "type"])
        if include_pipeline_steps and task.get("type") == "controller":
            for step in self.store.coll.find({"company": identity.company, "parent": task_id}, {"_id": 1}):
                self.stop(identity, step["_id"], True, reason)
        if self._run_by_live_worker(identity.company, task):
            return self.change_status(identity, task, task["status"], force=force, reason=reason,
                                      message=STOPPING_MESSAGE)
        # Checked before leaving the queue, so a refused stop leaves the queue entry in place.
        check_transition(task_id, task.get("status"), STOPPED, force)
        if task.get("status") == QUEUED:
            self._leave_queue(identity.company, task)  # and out of any claim an agent has not started
        return self.change_status(identity, task, STOPPED, force=force, reason=reason,
                                  message=f"Stopped by {identity.user_name or identity.user}")

    def _run_by_live_worker(self, company: str, task: dict) -> bool:
        if task.get("status") == QUEUED or DEVELOPMENT_TAG in (task.get("system_tags") or []):
            return False
        return bool(self.workers and self.workers.is_running(company, task.get("last_worker"), task["id"]))

    # -- reset ------------------------------------------------------------------------------------------
    def reset(self, identity: Identity, task_id: str, force: bool, clear_all: bool,
              delete_output_models: bool = True, return_file_urls: bool = False) -> dict:
        """Back to "created" with the run's results gone: metrics, runtime, times, output artifacts and output
        models (see :mod:`task_cleanup`), events; a published task only with ``force``."""
        company = identity.company
        task = self.store.load(company, task_id, [*CLEANUP_FIELDS, "execution"])
        if task.get("status") == PUBLISHED and not force:
            raise errors.InvalidTaskStatus(f"invalid task status: task {task_id} is published (use force)",
                                           task=task_id, status=PUBLISHED)
        # Checked before anything changes: published children or outputs refuse the reset unless forced.
        check_transition(task_id, task.get("status"), CREATED, force)
        plan = self.cleanup.plan(company, task, force)
        removed = self.queues.remove_entry(company, None, task_id)
        writes = {"last_iteration": 0, "last_metrics": {}, "models.output": [], "runtime": {}}
        if clear_all:
            writes.update(execution=documents.default_execution(), script={})
        else:
            writes["execution.queue"] = None
            writes["execution.artifacts"] = input_only_artifacts(task)
        result = self.change_status(identity, task, CREATED, force=True, reason="reset", message="reset",
                                    writes=writes, operators={"$unset": {f: 1 for f in RESET_UNSET}})
        # After the status change, so a lost race leaves models and events in place.
        cleaned = self.cleanup.apply(identity.user, plan, delete_output_models=delete_output_models,
                                     update_children=False)
        self.cleanup.delete_events(company, cleaned, [task_id], collect_urls=return_file_urls)
        reply = {**result, "dequeued": {"removed": removed} if task.get("status") == QUEUED else {},
                 "deleted_models": cleaned.deleted_models, "events": {"deleted": cleaned.deleted_events}}
        if return_file_urls:
            reply["urls"] = cleaned.urls()
        return reply

    # -- queues -----------------------------------------------------------------------------------------
    def enqueue(self, identity: Identity, task_id: str, queue_id: str | None, queue_name: str | None, force: bool,
                reason: str | None, message: str | None) -> dict:
        if queue_id and queue_name:
            raise errors.ValidationError("either queue or queue_name may be given, not both",
                                         fields=["queue", "queue_name"])
        task = self.store.load(identity.company, task_id, ["execution.queue", "enqueue_status"])
        status = task.get("status")
        # Checked before resolving the queue, so a refused enqueue creates no queue by name.
        check_transition(task_id, status, QUEUED, force)
        queue_id, queue_name = self._target_queue(identity, queue_id, queue_name)
        # An earlier claim on the task that was not started is superseded: its agent may no longer start it.
        self.queues.drop_lease(identity.company, task_id)
        # Dequeueing returns the task to the status it was enqueued from.
        enqueued_from = task.get("enqueue_status") if status == QUEUED and task.get("enqueue_status") else status
        result = self.change_status(
            identity, task, QUEUED, force=force, reason=reason, message=message,
            writes={"execution.queue": queue_id, "enqueue_status": enqueued_from},
            operators={"$pull": {"system_tags": DEVELOPMENT_TAG}},
        )
        try:
            self.queues.add_entry(identity.company, queue_id, task_id)
        except errors.APIError:
            self._undo_enqueue(identity, task)
            raise
        previous_queue = (task.get("execution") or {}).get("queue")
        if previous_queue and previous_queue != queue_id:
            # Entries only: an agent may already hold a fresh claim on the new entry.
            self.queues.remove_entry(identity.company, previous_queue, task_id, drop_lease=False)
        domain_events.publish_object("task.enqueued", identity.company, task, ("project",), queue=queue_id,
                                     queue_name=queue_name)
        return {"queued": 1, **result}

    def _target_queue(self, identity: Identity, queue_id: str | None, queue_name: str | None) -> tuple[str, str]:
        """The queue's id and name."""
        if queue_name:
            return self.queues.get_or_create(identity, queue_name), queue_name
        queue = self.queues.get(identity.company, queue_id, only_fields=["id", "name"]) if queue_id \
            else self.queues.get_default(identity.company)
        return queue["id"], queue.get("name")

    def _undo_enqueue(self, identity: Identity, task: dict) -> None:
        restore = {
            "status": task.get("status"), "status_reason": "failed enqueueing", "status_message": "",
            "enqueue_status": task.get("enqueue_status"),
            "execution.queue": (task.get("execution") or {}).get("queue"),
        }
        try:
            self.store.update_if_status(identity.company, {**task, "status": QUEUED}, {"$set": restore})
        except errors.FailedChangingTaskStatus:
            pass  # someone else already moved the task on: their change stands

    def dequeue(self, identity: Identity, task_id: str, new_status: str | None, reason: str | None,
                message: str | None, all_queues: bool = False, status_for_running: str | None = None) -> dict:
        """Take the task out of its queue and, if it was queued or running, give it ``new_status`` (default:
        the status it was enqueued from). ``status_for_running`` overrides that for a running task."""
        task = self.store.load(identity.company, task_id, ["execution.queue", "enqueue_status"])
        if all_queues:
            self.queues.remove_entry(identity.company, None, task_id)
        else:
            self._leave_queue(identity.company, task)
        if task.get("status") not in (QUEUED, IN_PROGRESS):
            return {"dequeued": 1, "updated": 0, "fields": {}}
        if status_for_running and task.get("status") == IN_PROGRESS:
            new_status = status_for_running
        result = self.change_status(identity, task, new_status or task.get("enqueue_status") or CREATED,
                                    force=True, reason=reason, message=message,
                                    operators={"$unset": {"enqueue_status": 1}})
        return {"dequeued": 1, **result}

    def _leave_queue(self, company: str, task: dict) -> dict:
        """Out of its queue, and out of any claim an agent has not started yet."""
        queue_id = (task.get("execution") or {}).get("queue")
        if not queue_id:
            self.queues.drop_lease(company, task["id"])
            return {"removed": 0}
        return {"removed": self.queues.remove_entry(company, queue_id, task["id"])}

    def revert_from_queue(self, identity: Identity, task_ids: list[str], queue_id: str, reason: str) -> list[str]:
        """Tasks taken out of ``queue_id`` by queues.remove_task/clear_queue/delete return to the status they
        were enqueued from (or created), as in the reference; the ids of those changed."""
        reverted = []
        for task_id in task_ids:
            found = self.store.coll.find_one(
                {"_id": task_id, "company": identity.company, "execution.queue": queue_id, "status": QUEUED},
                {"status": 1, "enqueue_status": 1, "project": 1, "name": 1})
            if not found:
                continue
            task = to_api(found)
            try:
                self.change_status(identity, task, task.get("enqueue_status") or CREATED, force=True, reason=reason,
                                   operators={"$unset": {"enqueue_status": 1, "execution.queue": 1}})
            except errors.FailedChangingTaskStatus:
                continue  # changed meanwhile: that change stands
            self.queues.drop_lease(identity.company, task_id)
            reverted.append(task_id)
        return reverted

