"""queues.*: queue documents. Dispatch (get_next_task, workers, streams) comes with the dispatch stage."""
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import GetAllRequest, RequestSchema, Str, StrList


class QueueRequest(RequestSchema):
    queue = Str(required=True)


@endpoint("queues.get_by_id", QueueRequest)
def get_by_id(call: Call) -> dict:
    return {"queue": call.app.queues.get(call.identity.company, call.data["queue"])}


class GetAllQueuesRequest(GetAllRequest):
    display_name = Str()
    user = StrList()


@endpoint("queues.get_all", GetAllQueuesRequest)
def get_all(call: Call) -> dict:
    return {"queues": call.app.queues.get_all(call.identity.company, call.data)}


@endpoint("queues.get_all_ex", GetAllQueuesRequest)
def get_all_ex(call: Call) -> dict:
    return {"queues": call.app.queues.get_all(call.identity.company, call.data)}


@endpoint("queues.get_default", RequestSchema)
def get_default(call: Call) -> dict:
    return call.app.queues.get_default(call.identity.company)


class CreateQueueRequest(RequestSchema):
    name = Str(required=True)
    display_name = Str()
    tags = StrList()
    system_tags = StrList()


@endpoint("queues.create", CreateQueueRequest)
def create(call: Call) -> dict:
    data = call.data
    queue_id = call.app.queues.create(
        call.identity, data["name"], data.get("display_name"), data.get("tags") or [], data.get("system_tags") or []
    )
    return {"id": queue_id}
