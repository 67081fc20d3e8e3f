"""What a migration step is: an id recorded once applied, and an idempotent function of the backend database."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pymongo.database import Database

# Steps call it now and then during long work: it renews the runner's lease and raises if the lease was lost.
Progress = Callable[[], None]


@dataclass(frozen=True)
class Step:
    id: str  # "NNNN_<what>": the order is the list's, the id only names the step in the record
    description: str
    # (backend database, progress) -> how many documents it changed. Running it again must change nothing.
    apply: Callable[[Database, Progress], int]
