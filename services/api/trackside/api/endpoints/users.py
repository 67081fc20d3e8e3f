"""users.*: the caller and user-name listings."""
from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import RequestSchema, StrList


@endpoint("users.get_current_user", RequestSchema)
def get_current_user(call: Call) -> dict:
    return {
        "user": call.app.users.current(call.identity),
        "getting_started": {},
        "settings": {"max_download_items": 1000},
    }


class GetAllUsersRequest(RequestSchema):
    id = StrList()


@endpoint("users.get_all", GetAllUsersRequest)
def get_all(call: Call) -> dict:
    return {"users": call.app.users.names(call.identity.company, call.data.get("id"))}
