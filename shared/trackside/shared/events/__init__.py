"""Task and model events (scalars, plots, debug images, console logs) behind one store interface.

Import the interface from here; backends (``trackside.shared.events.mongo``) are imported by
:func:`open_store` only when configured, so this package needs no database client at import time.
"""
from trackside.shared.events.store import (  # noqa: F401
    ASC, DESC, EVENT_TYPES, IMAGE, LOG, PLOT, SCALAR, SORT_FIELDS, VECTOR, EventFilter, EventStore, InvalidEvent,
    Page, SeriesInfo, WriteResult, allows_locked, complete_sort, event_id, normalise, open_store, register_backend,
)
