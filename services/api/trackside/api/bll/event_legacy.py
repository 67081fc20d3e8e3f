"""The request forms old clients still send: ``events.get_task_log`` before 2.9 and ``events.debug_images``
before 2.7.

Both scroll: the first call fixes the order and the selection, later calls pass the scroll id and get the next
batch; an exhausted scroll answers an empty batch. As everywhere here, the scroll id is the paging state itself
(:mod:`.event_scroll`).

- ``get_task_log`` 1.5: the log by timestamp in ``order`` (the reference's default: ``desc``).
- ``get_task_log`` 1.7: ``from`` head (oldest first, the default) or tail (newest first) decides which end is
  read; ``order`` only decides how each batch is listed.
- ``debug_images`` 2.1: the images of the task's ``iters`` latest iterations, latest iteration first.
"""
from __future__ import annotations

from dataclasses import replace

from trackside.api.bll import event_scroll
from trackside.api.bll.event_reads import MAX_BATCH, EventReads, public
from trackside.api.bll.event_samples import last_iterations
from trackside.shared.events import ASC, DESC, IMAGE, LOG, EventFilter

LOG_KIND, IMAGES_KIND = "legacy-log", "legacy-images"
DIRECTIONS = {"asc": ASC, "desc": DESC}


def _page(reads: EventReads, flt: EventFilter, sort, batch_size: int, kind: str, state: dict) -> tuple[list, str]:
    """One batch after the state's cursor; the events and the next scroll id."""
    page = reads.store.search(flt, sort, min(batch_size, MAX_BATCH), after=state.get("after"))
    if page.next_after:
        state = {**state, "after": list(page.next_after)}
    return [public(e) for e in page.events], event_scroll.encode(kind, state)


def _log_state(scroll_id: str) -> dict:
    state = event_scroll.decode(scroll_id, LOG_KIND)
    event_scroll.field(state, "order", lambda v: v in DIRECTIONS, scroll_id)
    event_scroll.field(state, "after", event_scroll.is_cursor, scroll_id)
    event_scroll.field(state, "total", event_scroll.is_int, scroll_id)
    if "order" not in state or "total" not in state:
        raise event_scroll.invalid(scroll_id)
    return state


def scroll_log(reads: EventReads, company: str, task: str, order: str, batch_size: int,
               scroll_id: str | None = None) -> dict:
    """get_task_log before 2.9: ``{events, returned, total, scroll_id}``, by timestamp in ``order`` (which a
    scroll id keeps from its first call)."""
    reads.require(company, [task], fields=())
    flt = reads.filter(company, [task], types=[LOG])
    state = _log_state(scroll_id) if scroll_id else {"order": order, "total": reads.store.count(flt)}
    events, next_id = _page(reads, flt, [("timestamp", DIRECTIONS[state["order"]])], batch_size, LOG_KIND, state)
    return {"events": events, "returned": len(events), "total": state["total"], "scroll_id": next_id}


def scroll_log_from(reads: EventReads, company: str, task: str, start: str, order: str, batch_size: int,
                    scroll_id: str | None = None) -> dict:
    """get_task_log 1.7: read from the head or the tail, each batch listed in ``order``."""
    read_order = "asc" if start == "head" else "desc"
    result = scroll_log(reads, company, task, read_order, batch_size, scroll_id)
    if order != read_order:
        result["events"].reverse()
    return result


def _images_state(scroll_id: str) -> dict:
    state = event_scroll.decode(scroll_id, IMAGES_KIND)
    event_scroll.field(state, "after", event_scroll.is_cursor, scroll_id)
    event_scroll.field(state, "total", event_scroll.is_int, scroll_id)
    window = event_scroll.field(state, "window", lambda v: v is None or (
        isinstance(v, list) and len(v) == 2 and all(map(event_scroll.is_int, v))), scroll_id)
    if "total" not in state or "window" not in state:
        raise event_scroll.invalid(scroll_id)
    state["window"] = window
    return state


def debug_images(reads: EventReads, company: str, task: str, iters: int, scroll_id: str | None = None,
                 model_events: bool = False, batch_size: int = 500) -> dict:
    """debug_images 2.1: ``{task, images, returned, total, scroll_id}``."""
    reads.require(company, [task], model_events, fields=())
    flt = reads.filter(company, [task], model_events, types=[IMAGE])
    if scroll_id:
        state = _images_state(scroll_id)
    else:
        chosen = last_iterations(reads, flt, iters)
        window = [chosen[-1], chosen[0]] if chosen else None
        total = reads.store.count(replace(flt, iter_min=window[0], iter_max=window[1])) if window else 0
        state = {"window": window, "total": total}
    images, next_id = [], event_scroll.encode(IMAGES_KIND, state)
    if state["window"]:
        low, high = state["window"]
        images, next_id = _page(reads, replace(flt, iter_min=low, iter_max=high), [("iter", DESC)], batch_size,
                                IMAGES_KIND, state)
    return {"task": task, "images": images, "returned": len(images), "total": state["total"],
            "scroll_id": next_id}
