"""queues.*: queue documents, the default queue, and the name look-up the SDK and agent rely on."""
from __future__ import annotations

import re
import uuid

import pytest

from support.names import unique
from support.objects import create_queue

QUEUE_FIELDS = {"id", "name", "display_name", "user", "company", "created", "tags", "system_tags", "entries",
                "metadata"}


def test_default_queue_exists(api):
    found = api.ok("queues.get_all", name="^default$")["queues"]
    assert len(found) == 1
    assert found[0]["name"] == "default" and "default" in found[0]["system_tags"]


def test_get_default(api):
    default = api.ok("queues.get_default")
    found = api.ok("queues.get_all", name="^default$")["queues"][0]
    assert default == {"id": found["id"], "name": "default"}


def test_sdk_resolves_a_queue_name(api):
    """Task.enqueue(queue_name=...): get_by_id with the name must fail, then get_all finds it by regex."""
    reply = api.error("queues.get_by_id", (400, 701), queue="default")
    assert "default" in reply.meta["result_msg"]
    found = api.ok("queues.get_all", name="^default$", method="get")["queues"]
    assert [q["name"] for q in found] == ["default"]


def test_agent_queue_lookup_on_an_old_version(api):
    """The agent sends re.escape(name), unanchored, on /v2.5/, and keeps exact (case-insensitive) matches."""
    name = unique("agent")
    queue = create_queue(api, name)
    create_queue(api, f"{name}-more")
    reply = api.send("queues.get_all", {"name": re.escape(name)}, version="2.5")
    assert reply.code == (200, 0)
    matches = [q for q in reply.data["queues"] if q["name"].lower() == name.lower()]
    assert [q["id"] for q in matches] == [queue] and len(reply.data["queues"]) == 2


def test_create_and_get_by_id(api):
    name = unique("queue")
    queue_id = create_queue(api, name, display_name="Nice name", tags=["gpu"], system_tags=["s"])
    assert re.fullmatch(r"[0-9a-f]{32}", queue_id)
    queue = api.ok("queues.get_by_id", queue=queue_id)["queue"]
    assert QUEUE_FIELDS <= set(queue)
    assert (queue["name"], queue["display_name"], queue["tags"], queue["system_tags"]) == (
        name, "Nice name", ["gpu"], ["s"])
    assert queue["entries"] == [] and queue["metadata"] == {}
    assert api.ok("users.get_current_user")["user"]["id"] == queue["user"]


def test_duplicate_name(api):
    name = unique("queue")
    create_queue(api, name)
    api.error("queues.create", (400, 801), name=name)


def test_get_by_id_unknown_id_names_it(api):
    missing = uuid.uuid4().hex
    reply = api.error("queues.get_by_id", (400, 701), queue=missing)
    assert missing in reply.meta["result_msg"]


def test_get_all_filters(api):
    prefix = unique("filtered")
    first = create_queue(api, f"{prefix}-a", tags=["gpu"])
    second = create_queue(api, f"{prefix}-b", tags=["cpu"])
    by_name = api.ok("queues.get_all", name=f"^{re.escape(prefix)}-", only_fields=["name"],
                     order_by=["-name"])["queues"]
    assert by_name == [{"id": second, "name": f"{prefix}-b"}, {"id": first, "name": f"{prefix}-a"}]
    assert [q["id"] for q in api.ok("queues.get_all", id=[first], tags=["gpu"])["queues"]] == [first]
    assert api.ok("queues.get_all", id=[first], tags=["-gpu"])["queues"] == []
    assert [q["id"] for q in api.ok("queues.get_all_ex", id=[second])["queues"]] == [second]


def test_bad_input(api):
    assert "name" in api.error("queues.create", (400, 11)).meta["result_msg"]
    assert "name" in api.error("queues.create", (400, 12), name=5).meta["result_msg"]
    assert "queue" in api.error("queues.get_by_id", (400, 11)).meta["result_msg"]
    assert "queue" in api.error("queues.get_by_id", (400, 12), queue=["a"]).meta["result_msg"]
    api.error("queues.get_all", (400, 21), name="(")


@pytest.mark.parametrize("endpoint", ["queues.get_all", "queues.get_default", "queues.create"])
def test_requires_a_token(anon, endpoint):
    reply = anon.send(endpoint, {"name": "x"})
    assert reply.code == (401, 20) and reply.data == {}
