"""Schema migrations: ordered, idempotent steps that bring a database written by an earlier Trackside up to
this version's layout, recorded in the ``migrations`` collection.

Every API process calls :func:`apply_pending` at start-up (``AppServices.initialize``) and
``trackside-admin migrate`` runs the same steps offline. One process at a time applies them, under a lock
with a lease (:mod:`.lock`); the others wait, then find every step recorded. To add a step, write a module
``mNNNN_<what>.py`` with a ``STEP`` and append it to :data:`STEPS` (never reorder or rename applied ones).
"""
from trackside.api.migrations import m0001_escape_param_keys, m0002_project_counters
from trackside.api.migrations.runner import MigrationError, apply_pending, applied_ids
from trackside.api.migrations.step import Step

STEPS: tuple[Step, ...] = (
    m0001_escape_param_keys.STEP,
    m0002_project_counters.STEP,
)

__all__ = ["STEPS", "Step", "MigrationError", "apply_pending", "applied_ids"]
