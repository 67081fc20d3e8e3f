"""The API's collections and their indexes (created at start-up by :func:`ensure_indexes`)."""
from trackside.shared.storage.mongo import ASCENDING as ASC, DESCENDING as DESC, Collection, Index

PROJECTS = Collection("projects", (
    Index((("company", ASC), ("name", ASC)), unique=True),
    Index((("company", ASC), ("parent", ASC))),
    Index((("company", ASC), ("last_update", DESC))),
    Index((("path", ASC),)),  # a project's descendants (statistics with sub-projects, deletes of a sub-tree)
))
# The tasks table's usual sorts, in a project and across projects, are served by an index in sort order, so a
# page stops at its size (the embedded store: trackside.shared.embedded.secantus_plans).
TASKS = Collection("tasks", (
    Index((("company", ASC), ("project", ASC), ("last_update", DESC))),
    Index((("company", ASC), ("last_update", DESC))),
    Index((("company", ASC), ("project", ASC), ("name", ASC))),
    Index((("company", ASC), ("project", ASC), ("started", DESC))),
    Index((("company", ASC), ("started", DESC))),
    Index((("company", ASC), ("status", ASC))),
    Index((("company", ASC), ("name", ASC))),
    Index((("parent", ASC),)),
    Index((("status_changed", ASC),)),  # the watchdog's replay of recent status changes (domain events)
    Index((("completed", ASC),)),  # project statistics: the tasks completed in the hour 24 hours ago
    Index((("models.input.model", ASC),)),  # a deleted/reset task's draft models other tasks use as input
))
# Project statistics kept incrementally (trackside.shared.project_counters): what each task last added to its
# project's counters; the counters themselves ("project_counters") are looked up by id only.
TASK_COUNTER_STAMPS = Collection("task_counter_stamps", (Index((("p", ASC),)),))
MODELS = Collection("models", (
    Index((("company", ASC), ("project", ASC), ("created", DESC))),
    Index((("company", ASC), ("task", ASC))),
))
QUEUES = Collection("queues", (
    Index((("company", ASC), ("name", ASC)), unique=True),
))
# One document per worker status report with machine statistics (bll/worker_stats.py; pruned by age).
WORKER_STATS = Collection("worker_stats", (
    Index((("company", ASC), ("time", ASC))),
    Index((("company", ASC), ("worker", ASC), ("time", ASC))),
    Index((("time", ASC),)),
))
# One document per serving container status report (bll/serving.py: endpoint metrics history; pruned by age).
SERVING_STATS = Collection("serving_stats", (
    Index((("company", ASC), ("endpoint_url", ASC), ("time", ASC))),
    Index((("time", ASC),)),
))
# One document per company (bll/storage_settings.py).
STORAGE_SETTINGS = Collection("storage_settings", (Index((("company", ASC),), unique=True),))
BACKEND_COLLECTIONS = (PROJECTS, TASKS, MODELS, QUEUES, WORKER_STATS, SERVING_STATS, STORAGE_SETTINGS,
                       TASK_COUNTER_STAMPS)

USERS = Collection("users", (Index((("company", ASC),)),))
CREDENTIALS = Collection("credentials", (Index((("user", ASC), ("company", ASC))),))
AUTH_COLLECTIONS = (USERS, CREDENTIALS)
