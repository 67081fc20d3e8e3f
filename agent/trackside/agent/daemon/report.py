"""``daemon --status``: the worker(s) these arguments name, their queues, schedule and runtime properties.

The worker ids come from the PID files of detached agents started with the same arguments (a default id
has a random part, so it cannot be recomputed), else from ``agent.worker_id``. The server says whether
each is alive and what it runs (``workers.get_all``) and which runtime properties it has
(``workers.get_runtime_properties``: the ``force`` on/off override that dispatch applies at claim time).
"""
from __future__ import annotations

from datetime import datetime

from trackside.agent.api import AgentApi, ApiError
from trackside.agent.config import AgentConfig
from trackside.agent.daemon import detach
from trackside.agent.daemon.queues import resolve_queues
from trackside.agent.schedule import Schedule
from trackside.agent.worker_id import configured_worker_id

# ``schedule_state`` in ``workers.get_all``: what the server's claim gate makes of the worker right now.
SCHEDULE_STATES = {
    "active": "takes tasks",
    "idle_by_schedule": "takes no tasks: outside its working hours",
    "forced_on": "takes tasks: forced on (runtime property force or queue tag force_workers:on)",
    "forced_off": "takes no tasks: forced off (runtime property force or queue tag force_workers:off)",
}


def print_status(api: AgentApi, config: AgentConfig, args, key: str, schedule: Schedule | None = None) -> int:
    queues = resolve_queues(api.call, list(args.queues))
    running = [record for record in detach.records(key) if record.process() is not None]
    workers = [record.worker for record in running if record.worker]
    if not workers and configured_worker_id(config):
        workers = [configured_worker_id(config)]
    live = {w["id"]: w for w in api.call("workers.get_all", {"last_seen": 600}).get("workers") or []}

    print("Queues, highest priority first: " + ", ".join(f"{q.name} ({q.id})" for q in queues))
    if schedule is None:
        print("Schedule: always on (no --uptime/--downtime)")
    else:
        now = datetime.now()
        change = schedule.next_change(now)
        until = f" until {change:%a %H:%M}" if change else ""
        print(f"Schedule: {schedule.describe()}; {'on' if schedule.is_active(now) else 'off'} now{until}")
    tagged = api.call("queues.get_all", {"id": [q.id for q in queues], "only_fields": ["name", "tags"]}).get("queues")
    forcing = [f"{q.get('name')}: {tag}" for q in tagged or [] for tag in q.get("tags") or []
               if tag.startswith("force_workers:")]
    if forcing:
        print("Queue tags that override the schedule: " + ", ".join(forcing))
    if not workers:
        print("Worker: none running with these arguments (a default worker id is chosen at start; "
              "run with -d to have it recorded, or set agent.worker_id)")
        return 0
    for worker in workers:
        record = live.get(worker)
        task = (record or {}).get("task") or {}
        state = "not reporting" if record is None else (
            f"running task {task.get('id')} ({task.get('name')})" if task else "idle")
        hours = SCHEDULE_STATES.get((record or {}).get("schedule_state"))
        print(f"Worker: {worker} ({state}{'; ' + hours if hours else ''})")
        try:
            properties = api.call("workers.get_runtime_properties", {"worker": worker}).get("runtime_properties") or []
        except ApiError as exc:
            print(f"  runtime properties: unavailable ({exc})")
            continue
        if not properties:
            print("  runtime properties: none")
        for prop in properties:
            expiry = f", expires in {prop['expiry']} s" if prop.get("expiry") else ""
            print(f"  runtime property {prop['key']} = {prop.get('value')}{expiry}")
    return 0
