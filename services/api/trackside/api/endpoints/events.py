"""events.*: what running tasks report (scalars, plots, debug images, console logs). Ingestion only for now.

``events.add_batch`` takes JSON lines, one event per line: the SDK sends it as GET under ``/v2.23/``, the agent
as an unversioned POST. Each event is checked on its own (see :mod:`trackside.api.bll.events`).
"""
from __future__ import annotations

from trackside.api.context import Call
from trackside.api.registry import endpoint

# Clients name their machine in these headers; it becomes the events' worker unless an event names one.
WORKER_HEADERS = ("x-clearml-worker", "x-trains-worker")


def _worker(call: Call) -> str | None:
    headers = {name.lower(): value for name, value in call.headers.items()}
    return next((headers[h] for h in WORKER_HEADERS if headers.get(h)), None)


@endpoint("events.add_batch", batch=True)
def add_batch(call: Call) -> dict:
    return call.app.events.add(call.identity.company, call.data, _worker(call))


# No schema: the body is the event itself, checked like a batch line.
@endpoint("events.add")
def add(call: Call) -> dict:
    return call.app.events.add(call.identity.company, [call.data], _worker(call))
