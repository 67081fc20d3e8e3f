"""queues.*: queue documents, their entries (order, moves, removal), metrics and metadata, and the REST
claim ``get_next_task`` the stock agent polls (subscribed agents use ``dispatch.*``, endpoints/claims.py)."""
from __future__ import annotations

import redis
from marshmallow import fields, validate

from trackside.api.bll.queues import BACK, FRONT
from trackside.api.context import Call
from trackside.api.endpoints.models import MetadataField, MetadataItem
from trackside.api.registry import endpoint
from trackside.api.bll.common import scroll_reply
from trackside.api.schema import Bool, Float, GetAllRequest, Int, QueryList, RequestSchema, Str, StrList


class QueueRequest(RequestSchema):
    queue = Str(required=True)


class GetByIdRequest(QueueRequest):
    max_task_entries = Int(validate=validate.Range(min=1))


@endpoint("queues.get_by_id", GetByIdRequest)
def get_by_id(call: Call) -> dict:
    data = call.data
    return {"queue": call.app.queues.get(call.identity.company, data["queue"],
                                         max_task_entries=data.get("max_task_entries"))}


class GetAllQueuesRequest(GetAllRequest):
    query_prefixes = ("metadata.",)

    display_name = Str()
    user = QueryList()
    max_task_entries = Int(validate=validate.Range(min=1))


@endpoint("queues.get_all", GetAllQueuesRequest)
def get_all(call: Call) -> dict:
    queues = call.app.queues.get_all(call.identity.company, call.data)
    return {"queues": queues, **scroll_reply(call.data, len(queues))}


@endpoint("queues.get_all_ex", GetAllQueuesRequest)
def get_all_ex(call: Call) -> dict:
    company = call.identity.company
    try:
        workers = call.app.workers.get_all(company, None)
    except redis.RedisError:  # the worker registry is down: the queues are still worth showing
        workers = []
    queues = call.app.queues.get_all_ex(company, call.data, workers)
    return {"queues": queues, **scroll_reply(call.data, len(queues))}


@endpoint("queues.get_default", RequestSchema)
def get_default(call: Call) -> dict:
    return call.app.queues.get_default(call.identity.company)


class CreateQueueRequest(RequestSchema):
    name = Str(required=True, validate=validate.Length(min=1))
    display_name = Str()
    tags = StrList()
    system_tags = StrList()
    metadata = MetadataField()


@endpoint("queues.create", CreateQueueRequest)
def create(call: Call) -> dict:
    data = call.data
    queue_id = call.app.queues.create(call.identity, data["name"], data.get("display_name"), data.get("tags") or [],
                                      data.get("system_tags") or [], data.get("metadata"))
    return {"id": queue_id}


class UpdateQueueRequest(QueueRequest):
    name = Str(validate=validate.Length(min=1))
    display_name = Str()
    tags = StrList()
    system_tags = StrList()
    metadata = MetadataField()


@endpoint("queues.update", UpdateQueueRequest)
def update(call: Call) -> dict:
    result = call.app.queues.update(call.identity.company, call.data["queue"], call.data)
    if "tags" in result["fields"]:  # a force_workers tag may have opened the claim gate: look again now
        call.app.claims.gate_changed(call.identity.company, [call.data["queue"]])
    return result


class DeleteQueueRequest(QueueRequest):
    force = Bool(load_default=False)


@endpoint("queues.delete", DeleteQueueRequest)
def delete(call: Call) -> dict:
    queue_id = call.data["queue"]
    tasks = call.app.queues.delete(call.identity.company, queue_id, call.data["force"])
    call.app.tasks.transitions.revert_from_queue(call.identity, tasks, queue_id, f"Queue {queue_id} was deleted")
    return {"deleted": 1}


# -- entries -----------------------------------------------------------------------------------------------
class QueueTaskRequest(QueueRequest):
    task = Str(required=True)


class AddTaskRequest(QueueTaskRequest):
    update_execution_queue = Bool(load_default=True)


@endpoint("queues.add_task", AddTaskRequest)
def add_task(call: Call) -> dict:
    data, company = call.data, call.identity.company
    call.app.queues.require(company, data["queue"])
    call.app.tasks.store.load(company, data["task"], ["id"])  # an unknown task is refused, not queued
    call.app.queues.drop_lease(company, data["task"])
    # The task names its queue before the entry is visible, so whoever sees the entry (a claim, a page) reads it.
    if data["update_execution_queue"]:
        call.app.tasks.coll.update_one({"_id": data["task"], "company": company},
                                       {"$set": {"execution.queue": data["queue"]}})
    call.app.queues.add_entry(company, data["queue"], data["task"])
    return {"added": 1}


class GetNextTaskRequest(QueueRequest):
    get_task_info = Bool(load_default=False)
    task = Str()


@endpoint("queues.get_next_task", GetNextTaskRequest)
def get_next_task(call: Call) -> dict:
    data = call.data
    return call.app.claims.get_next_task(call.identity, data["queue"], data.get("task"), data["get_task_info"])


class RemoveTaskRequest(QueueTaskRequest):
    update_task_status = Bool(load_default=False)


@endpoint("queues.remove_task", RemoveTaskRequest)
def remove_task(call: Call) -> dict:
    data = call.data
    removed = call.app.queues.remove_task(call.identity.company, data["queue"], data["task"])
    if data["update_task_status"]:
        call.app.tasks.transitions.revert_from_queue(call.identity, [data["task"]], data["queue"],
                                                     f"Task was removed from the queue {data['queue']}")
    return {"removed": removed}


@endpoint("queues.clear_queue", QueueRequest, min_version="2.31")
def clear_queue(call: Call) -> dict:
    queue_id = call.data["queue"]
    tasks = call.app.queues.clear(call.identity.company, queue_id)
    return {"removed_tasks": call.app.tasks.transitions.revert_from_queue(call.identity, tasks, queue_id,
                                                                          f"Queue {queue_id} was cleared")}


class MoveTaskRequest(QueueTaskRequest):
    count = Int(load_default=1)


def _move(call: Call, move) -> dict:
    data = call.data
    return {"position": call.app.queues.reposition(call.identity.company, data["queue"], data["task"], move)}


@endpoint("queues.move_task_forward", MoveTaskRequest)
def move_task_forward(call: Call) -> dict:
    return _move(call, -call.data["count"])


@endpoint("queues.move_task_backward", MoveTaskRequest)
def move_task_backward(call: Call) -> dict:
    return _move(call, call.data["count"])


@endpoint("queues.move_task_to_front", QueueTaskRequest)
def move_task_to_front(call: Call) -> dict:
    return _move(call, FRONT)


@endpoint("queues.move_task_to_back", QueueTaskRequest)
def move_task_to_back(call: Call) -> dict:
    return _move(call, BACK)


@endpoint("queues.peek_task", QueueRequest, min_version="2.15")
def peek_task(call: Call) -> dict:
    return {"task": call.app.queues.peek(call.identity.company, call.data["queue"])}


@endpoint("queues.get_num_entries", QueueRequest, min_version="2.15")
def get_num_entries(call: Call) -> dict:
    return {"num": call.app.queues.count(call.identity.company, call.data["queue"])}


# -- metrics and metadata ----------------------------------------------------------------------------------
class QueueMetricsRequest(RequestSchema):
    # Seconds since the epoch, up to the last date Python handles (year 9999); beyond it was a 500.
    from_date = Float(required=True, validate=validate.Range(min=0, max=253402300799))
    to_date = Float(required=True, validate=validate.Range(min=0, max=253402300799))
    interval = Int(required=True, validate=validate.Range(min=1))
    queue_ids = StrList()
    refresh = Bool(load_default=False)


@endpoint("queues.get_queue_metrics", QueueMetricsRequest)
def get_queue_metrics(call: Call) -> dict:
    data, company = call.data, call.identity.company
    requested = [q for q in data.get("queue_ids") or [] if q]
    queue_ids = [q["id"] for q in call.app.queues.get_all(
        company, {"id": requested, "only_fields": ["id"]} if requested else {"only_fields": ["id"]})]
    if not queue_ids:
        return {"queues": []}
    return {"queues": call.app.queue_metrics.get(company, queue_ids, bool(requested), data["from_date"],
                                                 data["to_date"], data["interval"], data["refresh"])}


class AddOrUpdateMetadataRequest(QueueRequest):
    metadata = fields.List(fields.Nested(MetadataItem), required=True, validate=validate.Length(min=1))
    replace_metadata = Bool(load_default=False)


@endpoint("queues.add_or_update_metadata", AddOrUpdateMetadataRequest, min_version="2.13")
def add_or_update_metadata(call: Call) -> dict:
    data = call.data
    return {"updated": call.app.queues.add_or_update_metadata(call.identity.company, data["queue"], data["metadata"],
                                                              data["replace_metadata"])}


class DeleteMetadataRequest(QueueRequest):
    # Keys name stored fields (metadata.<key>): an empty one is refused, as MetadataItem's.
    keys = fields.List(Str(validate=validate.Length(min=1)), required=True)


@endpoint("queues.delete_metadata", DeleteMetadataRequest, min_version="2.13")
def delete_metadata(call: Call) -> dict:
    return {"updated": call.app.queues.delete_metadata(call.identity.company, call.data["queue"], call.data["keys"])}
