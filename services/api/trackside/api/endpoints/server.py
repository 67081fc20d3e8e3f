"""server.*: what this server is."""
from trackside.api import SERVER_VERSION
from trackside.api.context import Call
from trackside.api.registry import endpoint, format_version
from trackside.api.schema import RequestSchema


@endpoint("server.info", RequestSchema)
def info(call: Call) -> dict:
    return {
        "version": SERVER_VERSION,
        "build": "trackside",
        "commit": "",
        "api_version": format_version(call.app.max_version),
        "uid": call.app.company_id,
    }
