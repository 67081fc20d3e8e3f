"""The get_all / get_all_ex query layer as the reference answers it, through raw HTTP and the real SDK:
request coercions, scroll and page paging to the last page with ties on the sort key, free-text search,
sub-projects, hidden and system-tag rules, multi-field ordering with empty values last, date, range and
``filters`` conditions; tasks.validate and tasks.update_batch."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project, create_queue
from support.sdk_api import call, run_calls

LISTS = {"tasks": "tasks", "models": "models", "projects": "projects", "queues": "queues"}


@pytest.fixture(scope="module")
def client(api_server) -> ApiClient:
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


@pytest.fixture(scope="module")
def tree(client):
    """A project with a child project; 7 tasks and 7 models in the parent, all named alike (ties), plus one
    task and one model in the child."""
    parent_name = unique("parity")
    parent = create_project(client, parent_name)
    child = create_project(client, f"{parent_name}/child")
    tasks = [client.ok("tasks.create", name="same", type="training", project=parent,
                       comment=(f"c{i % 3}" if i % 2 else None))["id"] for i in range(7)]
    models = [client.ok("models.create", name="same", uri=f"file:///m{i}", project=parent)["id"] for i in range(7)]
    child_task = client.ok("tasks.create", name="kid", type="testing", project=child)["id"]
    child_model = client.ok("models.create", name="kid", uri="file:///kid", project=child)["id"]
    return {"parent": parent, "parent_name": parent_name, "child": child, "tasks": tasks, "models": models,
            "child_task": child_task, "child_model": child_model}


def ids(items) -> list[str]:
    return [item["id"] for item in items]


# -- coercion -----------------------------------------------------------------------------------------------
def test_single_strings_are_one_item_lists(client, tree):
    task = tree["tasks"][0]
    assert ids(client.ok("tasks.get_all", id=task)["tasks"]) == [task]
    found = client.ok("tasks.get_all", project=tree["child"], status="created", type="testing")["tasks"]
    assert ids(found) == [tree["child_task"]]
    assert ids(client.ok("models.get_all", project=tree["child"])["models"]) == [tree["child_model"]]
    assert client.ok("users.get_all", id="not-a-list")["users"] == []


def test_numbers_as_strings_where_the_reference_parses_them(client, tree):
    found = client.ok("tasks.get_all", project=[tree["parent"]], page="1", page_size="3", order_by=["id"])["tasks"]
    assert ids(found) == sorted(tree["tasks"])[3:6]


@pytest.mark.parametrize("data, field", [
    ({"id": {"a": 1}}, "id"),
    ({"project": [1]}, "project"),
    ({"page_size": [1]}, "page_size"),
    ({"page_size": "2.5"}, "page_size"),
    ({"page": True}, "page"),
    ({"only_fields": 5}, "only_fields"),
])
def test_wrong_types_still_refused(client, data, field):
    reply = client.error("tasks.get_all_ex", (400, 12), **data)
    assert field in reply.meta["result_msg"]


def test_lists_of_edits_stay_strict(client):
    reply = client.error("tasks.create", (400, 12), name="x", type="training", tags="not-a-list")
    assert "tags" in reply.meta["result_msg"]


# -- paging -------------------------------------------------------------------------------------------------
def _scroll_all(client, name, key, query, size):
    """Every page of a scroll read, and the scroll id after the last (empty) page."""
    pages, scroll_id = [], None
    for _ in range(20):
        data = client.ok(name, **query, scroll_id=scroll_id, size=size)
        scroll_id = data["scroll_id"]
        pages.append(ids(data[key]))
        if not data[key]:
            return pages, scroll_id
    raise AssertionError("scroll never ended")


@pytest.mark.parametrize("name, key, query_of", [
    ("tasks.get_all_ex", "tasks", lambda t: {"project": [t["parent"]], "order_by": ["name"]}),
    ("tasks.get_all", "tasks", lambda t: {"project": [t["parent"]], "order_by": ["-name", "-created"]}),
    ("models.get_all_ex", "models", lambda t: {"project": [t["parent"]], "order_by": ["name"]}),
    ("models.get_all", "models", lambda t: {"project": [t["parent"]], "order_by": ["-framework"]}),
])
def test_scroll_to_the_last_page_with_ties(client, tree, name, key, query_of):
    query = query_of(tree)
    everything = ids(client.ok(name, **query)[key])
    assert sorted(everything) == sorted(tree[key])
    pages, _ = _scroll_all(client, name, key, query, size=3)
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert sum(pages, []) == everything


def test_refresh_scroll_reads_everything_so_far_again(client, tree):
    query = {"project": [tree["parent"]], "order_by": ["id"]}
    first = client.ok("tasks.get_all_ex", **query, scroll_id=None, size=2)
    second = client.ok("tasks.get_all_ex", **query, scroll_id=first["scroll_id"], size=2)
    again = client.ok("tasks.get_all_ex", **query, scroll_id=second["scroll_id"], size=2, refresh_scroll=True)
    assert ids(again["tasks"]) == sorted(tree["tasks"])[:4]
    after = client.ok("tasks.get_all_ex", **query, scroll_id=again["scroll_id"], size=2)
    assert ids(after["tasks"]) == sorted(tree["tasks"])[4:6]


def test_scroll_needs_a_size_and_restarts_on_an_unknown_id(client, tree):
    reply = client.error("tasks.get_all_ex", (400, 12), project=[tree["parent"]], scroll_id=None)
    assert "size" in reply.meta["result_msg"]
    client.error("tasks.get_all_ex", (400, 12), project=[tree["parent"]], scroll_id=None, size=0)
    restarted = client.ok("tasks.get_all_ex", project=[tree["parent"]], order_by=["id"], scroll_id="nonsense",
                          size=2)
    assert ids(restarted["tasks"]) == sorted(tree["tasks"])[:2]
    assert "scroll_id" not in client.ok("tasks.get_all_ex", project=[tree["parent"]], size=2)


def test_scroll_on_projects_and_queues(client, tree):
    names = [unique("q-scroll") for _ in range(3)]
    for name in names:
        create_queue(client, name)
    pattern = "|".join(names)
    pages, _ = _scroll_all(client, "queues.get_all_ex", "queues", {"name": pattern, "order_by": ["name"]}, 2)
    assert [len(p) for p in pages] == [2, 1, 0]
    pages, _ = _scroll_all(client, "projects.get_all_ex", "projects",
                           {"name": f"^{tree['parent_name']}", "order_by": ["name"]}, 1)
    assert sum(pages, []) == [tree["parent"], tree["child"]]
    pages, _ = _scroll_all(client, "projects.get_all", "projects", {"id": [tree["parent"], tree["child"]]}, 1)
    assert sorted(sum(pages, [])) == sorted([tree["parent"], tree["child"]])


def test_pages_to_the_last_page_with_ties(client, tree):
    query = {"project": [tree["parent"]], "order_by": ["name", "-type"]}
    pages = [ids(client.ok("tasks.get_all", **query, page=p, page_size=2)["tasks"]) for p in range(5)]
    assert [len(p) for p in pages] == [2, 2, 2, 1, 0]
    assert sum(pages, []) == ids(client.ok("tasks.get_all", **query)["tasks"])


def test_page_size_is_capped_as_the_reference_caps_it(client):
    assert len(client.ok("tasks.get_all", page_size=100000, only_fields=["id"])["tasks"]) <= 500


# -- ordering -----------------------------------------------------------------------------------------------
def test_empty_values_sort_last_in_both_directions(client, tree):
    query = {"project": [tree["parent"]], "only_fields": ["comment"]}
    up = [t.get("comment") or None for t in client.ok("tasks.get_all", **query, order_by=["comment", "-id"])["tasks"]]
    down = [t.get("comment") or None for t in client.ok("tasks.get_all", **query, order_by=["-comment", "id"])["tasks"]]
    assert up == ["c0", "c1", "c2"] + [None] * 4
    assert down == ["c2", "c1", "c0"] + [None] * 4
    paged = [t.get("comment") or None for p in range(4) for t in client.ok(
        "tasks.get_all", **query, order_by=["comment"], page=p, page_size=2)["tasks"]]
    assert paged == up


# -- filters ------------------------------------------------------------------------------------------------
def test_any_and_all_search_over_given_fields(client, tree):
    found = client.ok("tasks.get_all", project=[tree["parent"]], _any_={"pattern": "^C1$", "fields": ["comment", "name"]})
    assert ids(found["tasks"]) == [tree["tasks"][1]]
    none = client.ok("tasks.get_all", project=[tree["parent"]], _all_={"pattern": "c1", "fields": ["comment", "name"]})
    assert none["tasks"] == []
    client.error("tasks.get_all", (400, 12), _any_={"fields": ["name"]})
    client.error("tasks.get_all", (400, 21), _any_={"pattern": "(", "fields": ["name"]})


def test_include_subprojects(client, tree):
    plain = ids(client.ok("tasks.get_all_ex", project=[tree["parent"]])["tasks"])
    deep = ids(client.ok("tasks.get_all_ex", project=[tree["parent"]], include_subprojects=True)["tasks"])
    assert tree["child_task"] not in plain and tree["child_task"] in deep
    models = ids(client.ok("models.get_all", project=tree["parent"], include_subprojects=True)["models"])
    assert tree["child_model"] in models


def test_hidden_and_system_tag_rules(client, tree):
    project = create_project(client, unique("tags"))
    hidden = client.ok("tasks.create", name="h", type="training", project=project, system_tags=["hidden"])["id"]
    archived = client.ok("tasks.create", name="a", type="training", project=project, system_tags=["archived"])["id"]
    both = client.ok("tasks.create", name="b", type="training", project=project, system_tags=["archived", "x"])["id"]
    plain = client.ok("tasks.create", name="p", type="training", project=project)["id"]

    def found(**query):
        return sorted(ids(client.ok("tasks.get_all", project=[project], **query)["tasks"]))

    assert found() == sorted([archived, both, plain])
    assert hidden in found(search_hidden=True)
    assert found(id=[hidden]) == [hidden]
    assert found(system_tags=["-archived"]) == [plain]
    assert found(system_tags=["__$not", "archived"]) == [plain]
    assert found(system_tags=["__$all", "archived", "x"]) == [both]
    assert found(system_tags=["archived", None]) == sorted([archived, both, plain])
    assert found(filters={"system_tags": {"all": {"exclude": ["archived"]}}}) == [plain]
    assert found(filters={"system_tags": {"any": {"include": ["x", None]}}}) == sorted([both, plain])


def test_date_and_range_filters(client, tree):
    before = (datetime.now(timezone.utc) - timedelta(seconds=2)).isoformat()
    project = create_project(client, unique("dates"))
    task = client.ok("tasks.create", name="d", type="training", project=project)["id"]
    client.ok("tasks.started", task=task, force=True)
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()

    def found(**query):
        return ids(client.ok("tasks.get_all", project=[project], **query)["tasks"])

    assert found(last_update=[f">={before}"]) == [task]
    assert found(last_update=[f">{later}"]) == []
    assert found(status_changed=[f">={before}", f"<{later}"]) == [task]
    assert found(status_changed=[before, later]) == [task]
    assert found(last_change=["not a date"]) == [task]  # a date that does not parse is skipped, as the reference
    assert found(created=[before, None]) == [task]
    assert found(created=[None, before]) == []
    assert found(last_iteration=[None, "5"]) == [task]
    assert found(_any_={"datetime": f">{later}", "fields": ["last_update", "status_changed"]}) == []
    client.error("tasks.get_all", (400, 12), created=["2024-01-01"])
    client.error("tasks.get_all", (400, 12), created=[None, None])


# -- tasks.validate, tasks.update_batch ---------------------------------------------------------------------
def test_validate_checks_without_writing(client, tree):
    before = len(client.ok("tasks.get_all", project=[tree["parent"]])["tasks"])
    assert client.ok("tasks.validate", name="v", type="training", project=tree["parent"]) == {}
    assert len(client.ok("tasks.get_all", project=[tree["parent"]])["tasks"]) == before
    client.error("tasks.validate", (400, 11), type="training")
    client.error("tasks.validate", (400, 12), name="v", type="no-such-type")
    client.error("tasks.validate", (400, 401), name="v", type="training", project="f" * 32)
    client.ok("tasks.validate", name="v", type="training", parent="__DELETED__abc")


def _batch(client, lines, version=None):
    body = "\n".join(json.dumps(line) if not isinstance(line, str) else line for line in lines)
    return client.send("tasks.update_batch", body=body, method="POST", version=version or "default",
                       headers={"Content-Type": "application/json-lines"})


def test_update_batch(client, tree):
    first, second = (client.ok("tasks.create", name="b", type="training", project=tree["child"])["id"]
                     for _ in range(2))
    reply = _batch(client, [{"task": first, "comment": "batched"}, {"task": second, "name": "renamed"}])
    assert reply.code == (200, 0) and reply.data == {"updated": 2}
    comments = {t["id"]: t for t in client.ok("tasks.get_all", id=[first, second])["tasks"]}
    assert comments[first]["comment"] == "batched" and comments[second]["name"] == "renamed"
    assert _batch(client, [{"task": first, "comment": "x"}, {"task": "f" * 32}]).code == (400, 101)
    assert client.ok("tasks.get_by_id", task=first)["task"]["comment"] == "batched"
    assert _batch(client, [{"comment": "no task"}]).code == (400, 11)
    assert _batch(client, [{"task": first, "tags": "x"}]).code == (400, 12)
    assert _batch(client, ["not json"]).code == (400, 12)
    assert _batch(client, []).code == (400, 17)


@pytest.mark.parametrize("name", ["tasks.validate", "tasks.update_batch", "tasks.get_all_ex", "models.get_all_ex",
                                  "tasks.make_public", "models.make_private", "projects.make_public"])
def test_unauthenticated(anon, name):
    assert anon.send(name, {}).code[0] == 401


def test_at_an_old_and_a_new_version(client, tree):
    old = client.send("tasks.get_all", {"id": tree["tasks"][0]}, version="2.1")
    assert old.code == (200, 0) and ids(old.data["tasks"]) == [tree["tasks"][0]]
    assert client.send("tasks.make_public", {"ids": ["x"]}, version="2.8").code[0] in (400, 404)
    assert client.send("tasks.make_public", {"ids": ["f" * 32]}, version="2.9").code == (400, 101)


# -- the real SDK -------------------------------------------------------------------------------------------
def test_through_the_sdk(api_server, client, tree, tmp_path):
    query = {"project": [tree["parent"]], "order_by": ["name"], "size": 4}
    typed, ex, single, public = run_calls(api_server, [
        call("tasks.get_all", **query, scroll_id=""),
        call("tasks.get_all_ex", **query, scroll_id=None, raw=True),
        call("models.get_all", id=tree["models"][0], raw=True),
        call("projects.get_all_ex", id=[tree["parent"]], allow_public=False, raw=True),
    ], tmp_path / "home")
    assert typed["ok"] and len(typed["data"]) == 4, typed
    assert ex["ok"] and len(ex["data"]["tasks"]) == 4 and ex["data"]["scroll_id"]
    assert single["ok"] and ids(single["data"]["models"]) == [tree["models"][0]]
    assert public["ok"] and ids(public["data"]["projects"]) == [tree["parent"]]


def test_hyperparameter_values_order_and_filter_as_numbers(client):
    project = create_project(client, unique("hp-order"))
    made = {}
    for value in ("10", "9", "100", "abc"):
        hyperparams = {"Args": {"lr": {"section": "Args", "name": "lr", "value": value, "type": "str"}}}
        made[value] = client.ok("tasks.create", name=f"hp{value}", type="training", project=project,
                                hyperparams=hyperparams)["id"]
    none = client.ok("tasks.create", name="hp-none", type="training", project=project)["id"]
    ordered = ids(client.ok("tasks.get_all", project=[project], order_by=["hyperparams.Args.lr.value"])["tasks"])
    assert ordered == [made["9"], made["10"], made["100"], made["abc"], none]
    found = client.ok("tasks.get_all", project=[project], **{"hyperparams.Args.lr.value": "10"})["tasks"]
    assert ids(found) == [made["10"]]


def test_query_string_lists(client, tree):
    first, second = tree["tasks"][:2]
    reply = client.send(f"tasks.get_all?id={first}&id={second}&page_size=5", None)
    assert reply.code == (200, 0) and sorted(ids(reply.data["tasks"])) == sorted([first, second])
    reply = client.send(f"tasks.get_all?id[]={first}", None)
    assert reply.code == (200, 0) and ids(reply.data["tasks"]) == [first]


def test_json_schema_checked_integers_stay_strict(client):
    reply = client.error("workers.get_stats", (400, 12), items=[{"key": "cpu_usage"}], from_date=1, to_date=2,
                         interval="5")
    assert "interval" in reply.meta["result_msg"]


def test_only_fields_can_exclude(client, tree):
    task = tree["tasks"][0]
    full = client.ok("tasks.get_all", id=[task])["tasks"][0]
    without = client.ok("tasks.get_all", id=[task], only_fields=["-script", "-execution"])["tasks"][0]
    assert "script" not in without and "execution" not in without
    assert {k: v for k, v in full.items() if k not in ("script", "execution")} == without


def test_search_text(client):
    project = create_project(client, unique("text"))
    running = client.ok("tasks.create", name="Running fast", type="training", project=project)["id"]
    big = client.ok("tasks.create", name="other", type="training", project=project, comment="a big model")["id"]
    client.ok("tasks.create", name="unrelated", type="training", project=project)

    def found(text):
        return sorted(ids(client.ok("tasks.get_all", project=[project], search_text=text)["tasks"]))

    assert found("run") == [running]
    assert found("run big") == sorted([running, big])
    assert found('run "big model"') == [big]
    assert found("run big -fast") == [big]
    assert found(running) == [running]
    client.error("tasks.get_all", (400, 12), search_text=["run"])


@pytest.mark.parametrize("data", [{"page": -1}, {"page_size": 0}, {"page": 0, "page_size": -5}])
def test_bad_paging_is_a_validation_error(client, data):
    client.error("models.get_all", (400, 12), **data)
