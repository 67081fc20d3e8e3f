"""0002: project statistics counters for a database written before they were kept.

Every task in a project gets its stamp (what it adds to its project's counters) and every counter is rebuilt
from the stamps (:func:`trackside.shared.project_counters.backfill`). Idempotent: stamps already there are
kept, and the counters are summed from the stamps again.
"""
from __future__ import annotations

from pymongo.database import Database

from trackside.api.migrations.step import Progress, Step
from trackside.shared.project_counters import backfill


def apply(db: Database, progress: Progress) -> int:
    return backfill(db, progress)


STEP = Step("0002_project_counters", "project statistics counters (task stamps, counters per project)", apply)
