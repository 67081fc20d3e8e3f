"""tasks.stop / stop_many: a task a live worker runs is asked to stop (status kept, message "stopping", the
agent acts on it); a queued or development task, or one no live worker runs, is stopped at once."""
from __future__ import annotations

import time

from support.names import unique
from support.objects import create_queue, get_task


def new_task(api, **fields) -> str:
    return api.ok("tasks.create", **{"name": unique("stop"), "type": "training", **fields})["id"]


def run_on_worker(api, task_id: str, worker: str | None = None) -> str:
    worker = worker or unique("vm")
    api.ok("tasks.started", task=task_id)
    api.ok("workers.status_report", worker=worker, timestamp=int(time.time() * 1000), task=task_id)
    return worker


def test_a_live_worker_is_asked_to_stop(api):
    task_id = new_task(api)
    run_on_worker(api, task_id)
    reply = api.ok("tasks.stop", task=task_id, status_reason="user abort")
    assert reply["updated"] == 1
    assert reply["fields"]["status"] == "in_progress" and reply["fields"]["status_message"] == "stopping"
    task = get_task(api, task_id)
    assert (task["status"], task["status_message"], task["status_reason"]) == ("in_progress", "stopping", "user abort")


def test_a_stop_request_survives_a_repeated_start(api):
    """The agent (and the SDK in the task) call tasks.started again after the run began: a stop request made
    in between is kept for the agent to see, not overwritten."""
    task_id = new_task(api)
    run_on_worker(api, task_id)
    api.ok("tasks.stop", task=task_id, status_reason="user abort")
    again = api.ok("tasks.started", task=task_id, force=True, status_message="Changed by the agent")
    assert (again["fields"]["status_message"], again["fields"]["status_reason"]) == ("stopping", "user abort")
    task = get_task(api, task_id)
    assert (task["status"], task["status_message"], task["status_reason"]) == ("in_progress", "stopping", "user abort")
    assert api.ok("tasks.stopped", task=task_id, force=True)["fields"]["status"] == "stopped"


def test_a_worker_that_moved_on_or_left_does_not_hold_the_task(api):
    moved_on, left = new_task(api), new_task(api)
    worker = run_on_worker(api, moved_on)
    api.ok("workers.status_report", worker=worker, timestamp=int(time.time() * 1000), task=new_task(api))
    gone = run_on_worker(api, left)
    api.ok("workers.unregister", worker=gone)
    for task_id in (moved_on, left):
        assert api.ok("tasks.stop", task=task_id)["fields"]["status"] == "stopped"
        assert get_task(api, task_id)["status_message"] == "Stopped by Test User"


def test_a_development_task_stops_even_with_a_live_worker(api):
    task_id = new_task(api, system_tags=["development"])
    run_on_worker(api, task_id)
    assert api.ok("tasks.stop", task=task_id)["fields"]["status"] == "stopped"


def test_a_queued_task_stops_and_leaves_its_queue(api):
    queue = create_queue(api, unique("stopq"))
    task_id = new_task(api)
    api.ok("tasks.enqueue", task=task_id, queue=queue)
    assert api.ok("tasks.stop", task=task_id)["fields"]["status"] == "stopped"
    assert api.ok("queues.get_by_id", queue=queue)["queue"]["entries"] == []


def test_a_task_with_no_worker_needs_a_status_that_may_stop(api):
    created = new_task(api)
    api.error("tasks.stop", (400, 110), task=created)
    assert get_task(api, created)["status"] == "created"
    assert api.ok("tasks.stop", task=created, force=True)["fields"]["status"] == "stopped"


def test_stop_many_applies_the_rules_per_task(api):
    asked, stopped = new_task(api), new_task(api)
    run_on_worker(api, asked)
    api.ok("tasks.started", task=stopped)
    refused = new_task(api)
    reply = api.ok("tasks.stop_many", ids=[asked, stopped, refused])
    succeeded = {item["id"]: item for item in reply["succeeded"]}
    assert succeeded[asked]["fields"]["status_message"] == "stopping"
    assert succeeded[stopped]["fields"]["status"] == "stopped"
    assert [f["id"] for f in reply["failed"]] == [refused] and reply["failed"][0]["error"]["codes"] == [400, 110]


def test_stop_a_pipeline_with_its_steps(api):
    controller = new_task(api, type="controller")
    api.ok("tasks.started", task=controller)
    running_step = new_task(api, parent=controller)
    run_on_worker(api, running_step)
    new_step = new_task(api, parent=controller)  # created: needs the force the steps are stopped with
    reply = api.ok("tasks.stop", task=controller, include_pipeline_steps=True)
    assert reply["fields"]["status"] == "stopped"
    assert get_task(api, running_step)["status_message"] == "stopping"
    assert get_task(api, new_step)["status"] == "stopped"
    # Without the flag the steps are left alone.
    other = new_task(api, type="controller")
    step = new_task(api, parent=other)
    api.ok("tasks.stop", task=other, force=True)
    assert get_task(api, step)["status"] == "created"


def test_stop_validation(api):
    api.error("tasks.stop", (400, 11))
    api.error("tasks.stop", (400, 101), task="f" * 32)
    api.error("tasks.stop", (400, 12), task=new_task(api), include_pipeline_steps="yes please")
    api.error("tasks.stop_many", (400, 11))
    api.error("tasks.stop_many", (400, 12), ids="x")


def test_stop_requires_a_token(anon):
    assert anon.send("tasks.stop", {"task": "f" * 32}).code == (401, 20)
    assert anon.send("tasks.stop_many", {"ids": ["f" * 32]}).code == (401, 20)
