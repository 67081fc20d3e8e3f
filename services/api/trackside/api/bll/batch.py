"""The ``*_many`` endpoints: run one operation per id and report successes and failures separately."""
from __future__ import annotations

from typing import Callable, Iterable

from trackside.api import errors


def run_batch(ids: Iterable[str], operation: Callable[[str], dict]) -> dict:
    """``{succeeded: [{id, **result}], failed: [{id, error: {codes, msg, data}}]}``.

    An API error fails only its own id; anything else is a server fault and propagates.
    """
    succeeded, failed = [], []
    for obj_id in ids:
        try:
            succeeded.append({"id": obj_id, **operation(obj_id)})
        except errors.APIError as exc:
            failed.append({
                "id": obj_id,
                "error": {"codes": [exc.code, exc.subcode], "msg": exc.message, "data": exc.error_data},
            })
    return {"succeeded": succeeded, "failed": failed}
