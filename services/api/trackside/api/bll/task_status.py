"""Task statuses, types and the rules for moving between statuses (pure functions, no database)."""
from __future__ import annotations

from trackside.api import errors

CREATED, QUEUED, IN_PROGRESS, STOPPED = "created", "queued", "in_progress", "stopped"
PUBLISHING, PUBLISHED, CLOSED, FAILED, COMPLETED, UNKNOWN = (
    "publishing", "published", "closed", "failed", "completed", "unknown",
)
TASK_STATUSES = (CREATED, QUEUED, IN_PROGRESS, STOPPED, PUBLISHED, PUBLISHING, CLOSED, FAILED, COMPLETED, UNKNOWN)

TASK_TYPES = (
    "training", "testing", "inference", "data_processing", "application", "monitor", "controller", "optimizer",
    "service", "qc", "custom", "dataset_import", "annotation", "annotation_manual",
)

DEVELOPMENT_TAG = "development"
ARCHIVED_TAG = "archived"
# The status message a worker-run task gets from tasks.stop; the agent polls for it and aborts the run.
STOPPING_MESSAGE = "stopping"

# Which status each status may move to without ``force`` (the reference server's state machine).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({QUEUED, IN_PROGRESS}),
    QUEUED: frozenset({CREATED, IN_PROGRESS, STOPPED}),
    IN_PROGRESS: frozenset({STOPPED, FAILED, CREATED, COMPLETED}),
    STOPPED: frozenset({CLOSED, CREATED, FAILED, QUEUED, IN_PROGRESS, PUBLISHED, PUBLISHING, COMPLETED}),
    CLOSED: frozenset({CREATED, FAILED, PUBLISHED, PUBLISHING, STOPPED}),
    FAILED: frozenset({CREATED, STOPPED, PUBLISHED, QUEUED}),
    PUBLISHING: frozenset({PUBLISHED}),
    PUBLISHED: frozenset(),
    COMPLETED: frozenset({PUBLISHED, IN_PROGRESS, CREATED}),
}

# Statuses whose contents (parameters, artifacts, models...) may change: a new task, or with force a running one.
EDITABLE = frozenset({CREATED})
EDITABLE_WITH_FORCE = frozenset({CREATED, IN_PROGRESS})


def check_transition(task_id: str, current: str | None, new: str, force: bool) -> None:
    """Raise unless ``current -> new`` is allowed. A same-status transition is always allowed (the SDK
    calls tasks.started on a task the agent already started)."""
    if force or current == new:
        return
    if new not in ALLOWED_TRANSITIONS.get(current or UNKNOWN, frozenset()):
        raise _status_error(task_id, current, f"cannot change task status from {current} to {new}", new_status=new)


def check_editable(task_id: str, current: str | None, force: bool) -> None:
    """Raise unless the task's contents may be changed in its current status."""
    allowed = EDITABLE_WITH_FORCE if force else EDITABLE
    if current not in allowed:
        expected = " or ".join(sorted(allowed))
        raise _status_error(
            task_id, current, f"task status is {current}, expected {expected}" + ("" if force else " (use force)"),
            expected=sorted(allowed),
        )


def check_not_published(task_id: str, current: str | None, force: bool) -> None:
    if current == PUBLISHED and not force:
        raise _status_error(task_id, current, "task is published (use force)")


def _status_error(task_id: str, current: str | None, message: str, **data) -> errors.APIError:
    # A published task is final: refusals because of it get their own code.
    error = errors.TaskPublished if current == PUBLISHED else errors.InvalidTaskStatus
    return error(f"{error.default_message}: task {task_id}: {message}", task=task_id, current_status=current, **data)
