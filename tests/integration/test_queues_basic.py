"""queues.*: queue documents, the default queue, and the name look-up the SDK and agent rely on."""
from __future__ import annotations

import re
import uuid

import pytest

QUEUE_FIELDS = {"id", "name", "display_name", "user", "company", "created", "tags", "system_tags", "entries",
                "metadata"}


def unique(prefix: str = "queue") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# api.ok/api.error take the endpoint as their parameter "name", so a body field "name" cannot be passed as a
# keyword; these take the body as a dict.
def ok(api, endpoint: str, data: dict):
    reply = api.send(endpoint, data)
    assert reply.status == 200 and reply.code == (200, 0), f"{endpoint}: {reply.meta}"
    return reply.data


def error(api, endpoint: str, code: tuple[int, int], data: dict):
    reply = api.send(endpoint, data)
    assert reply.code == code, f"{endpoint}: expected {code}, got {reply.code}: {reply.meta['result_msg']}"
    assert reply.status == code[0] and reply.data == {}
    return reply


def create(api, name: str, **fields) -> str:
    return ok(api, "queues.create", {"name": name, **fields})["id"]


def test_default_queue_exists(api):
    found = ok(api, "queues.get_all", {"name": "^default$"})["queues"]
    assert len(found) == 1
    assert found[0]["name"] == "default" and "default" in found[0]["system_tags"]


def test_get_default(api):
    default = api.ok("queues.get_default")
    found = ok(api, "queues.get_all", {"name": "^default$"})["queues"][0]
    assert default == {"id": found["id"], "name": "default"}


def test_sdk_resolves_a_queue_name(api):
    """Task.enqueue(queue_name=...): get_by_id with the name must fail, then get_all finds it by regex."""
    reply = api.error("queues.get_by_id", (400, 701), queue="default")
    assert "default" in reply.meta["result_msg"]
    found = ok(api, "queues.get_all", {"name": "^default$", "method": "get"})["queues"]
    assert [q["name"] for q in found] == ["default"]


def test_agent_queue_lookup_on_an_old_version(api):
    """The agent sends re.escape(name), unanchored, on /v2.5/, and keeps exact (case-insensitive) matches."""
    name = unique("agent")
    queue = create(api, name)
    create(api, f"{name}-more")
    reply = api.send("queues.get_all", {"name": re.escape(name)}, version="2.5")
    assert reply.code == (200, 0)
    matches = [q for q in reply.data["queues"] if q["name"].lower() == name.lower()]
    assert [q["id"] for q in matches] == [queue] and len(reply.data["queues"]) == 2


def test_create_and_get_by_id(api):
    name = unique()
    queue_id = create(api, name, display_name="Nice name", tags=["gpu"], system_tags=["s"])
    assert re.fullmatch(r"[0-9a-f]{32}", queue_id)
    queue = api.ok("queues.get_by_id", queue=queue_id)["queue"]
    assert QUEUE_FIELDS <= set(queue)
    assert (queue["name"], queue["display_name"], queue["tags"], queue["system_tags"]) == (
        name, "Nice name", ["gpu"], ["s"])
    assert queue["entries"] == [] and queue["metadata"] == {}
    assert api.ok("users.get_current_user")["user"]["id"] == queue["user"]


def test_duplicate_name(api):
    name = unique()
    create(api, name)
    error(api, "queues.create", (400, 801), {"name": name})


def test_get_by_id_unknown_id_names_it(api):
    missing = uuid.uuid4().hex
    reply = api.error("queues.get_by_id", (400, 701), queue=missing)
    assert missing in reply.meta["result_msg"]


def test_get_all_filters(api):
    prefix = unique("filtered")
    first = create(api, f"{prefix}-a", tags=["gpu"])
    second = create(api, f"{prefix}-b", tags=["cpu"])
    by_name = ok(api, "queues.get_all", {"name": f"^{re.escape(prefix)}-", "only_fields": ["name"],
                                         "order_by": ["-name"]})["queues"]
    assert by_name == [{"id": second, "name": f"{prefix}-b"}, {"id": first, "name": f"{prefix}-a"}]
    assert [q["id"] for q in api.ok("queues.get_all", id=[first], tags=["gpu"])["queues"]] == [first]
    assert api.ok("queues.get_all", id=[first], tags=["-gpu"])["queues"] == []
    assert [q["id"] for q in api.ok("queues.get_all_ex", id=[second])["queues"]] == [second]


def test_bad_input(api):
    assert "name" in api.error("queues.create", (400, 11)).meta["result_msg"]
    assert "name" in error(api, "queues.create", (400, 12), {"name": 5}).meta["result_msg"]
    assert "queue" in api.error("queues.get_by_id", (400, 11)).meta["result_msg"]
    assert "queue" in api.error("queues.get_by_id", (400, 12), queue=["a"]).meta["result_msg"]
    error(api, "queues.get_all", (400, 21), {"name": "("})


@pytest.mark.parametrize("endpoint", ["queues.get_all", "queues.get_default", "queues.create"])
def test_requires_a_token(anon, endpoint):
    reply = anon.send(endpoint, {"name": "x"})
    assert reply.code == (401, 20) and reply.data == {}
