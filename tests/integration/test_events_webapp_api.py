"""The web app's events endpoints on both events backends (MongoDB and Elasticsearch on osmem-server):
``events.scalar_metrics_iter_downsampled`` (M4 on the server, zoom, compare), ``events.get_task_log_lines``
(the console by position) and ``events.search_task_log`` (search over the whole log)."""
from __future__ import annotations

import math

import pytest

from support.client import ApiClient
from support.event_reports import T0, add_batch, scalar
from support.names import unique
from support.objects import create_project

SPIKE_AT, DIP_AT = 3_001, 7_777
N = 10_000  # iterations of the long series


def _task(client: ApiClient, project: str, name: str) -> str:
    return client.ok("tasks.create", name=name, type="training", project=project)["id"]


def _value(i: int) -> float:
    if i == SPIKE_AT:
        return 1000.0
    if i == DIP_AT:
        return -1000.0
    return math.sin(i / 100)


@pytest.fixture(scope="module", params=["mongo", "elastic"])
def backend_api(request) -> ApiClient:
    """A logged-in client of an API process per events backend (module-scoped ``events_api``)."""
    server = request.getfixturevalue("api_server" if request.param == "mongo" else "api_server_elastic")
    client = ApiClient(server.url, server.key, server.secret).login()
    client.backend = request.param
    return client


@pytest.fixture(scope="module")
def charts(backend_api: ApiClient):
    client = backend_api
    project = create_project(client, unique("downsampled"))
    task, other = _task(client, project, "long"), _task(client, project, "short")
    for start in range(0, N, 2000):
        add_batch(client, [scalar(task, "loss", "train", i, _value(i)) for i in range(start, start + 2000)]
                  + [scalar(task, "loss", "val", i, float(i)) for i in range(start, start + 2000, 100)])
    add_batch(client, [scalar(other, "loss", "train", i, 10.0 + i) for i in range(5)]
              + [scalar(task, "acc", "top1", i, 0.5, x_axis_label="epochs") for i in range(3)]
              + [scalar(task, "Summary", "score", -2**31, 0.9)])
    return client, task, other


def test_full_view_keeps_spikes_and_respects_points(charts):
    client, task, _ = charts
    data = client.ok("events.scalar_metrics_iter_downsampled", task=task, points=400)
    metrics = data["metrics"]
    assert set(metrics) == {"loss", "acc"}  # single values are not charts
    train = metrics["loss"]["train"]
    assert train["name"] == "train" and train["total"] == N and train["exact"] is False
    # about 100 buckets: a smooth stretch keeps 2 points (its first is its min), a turn up to 4
    assert len(train["x"]) == len(train["y"]) <= 400 and len(train["x"]) > 150
    assert train["x"] == sorted(train["x"]) and train["x"][0] == 0 and train["x"][-1] == N - 1
    shown = dict(zip(train["x"], train["y"]))
    assert shown[SPIKE_AT] == 1000.0 and shown[DIP_AT] == -1000.0
    assert all(y == _value(x) for x, y in shown.items())  # real points
    val = metrics["loss"]["val"]
    assert val["exact"] is True and val["total"] == 100 and val["x"] == list(range(0, N, 100))
    assert metrics["acc"]["top1"] == {"name": "top1", "x": [0, 1, 2], "y": [0.5] * 3, "total": 3, "exact": True,
                                      "x_axis_label": "epochs"}


def test_zoom_gives_full_resolution(charts):
    client, task, _ = charts
    data = client.ok("events.scalar_metrics_iter_downsampled", task=task, x_min=2_990, x_max=3_490,
                     metrics=[{"metric": "loss", "variants": ["train"]}])
    assert list(data["metrics"]) == ["loss"] and list(data["metrics"]["loss"]) == ["train"]
    train = data["metrics"]["loss"]["train"]
    assert train["exact"] is True and train["total"] == 501
    assert train["x"] == list(range(2_990, 3_491)) and train["y"] == [_value(i) for i in range(2_990, 3_491)]


def test_zoom_on_a_wide_range_is_m4_of_the_range(charts):
    client, task, _ = charts
    train = client.ok("events.scalar_metrics_iter_downsampled", task=task, x_min=1_003, x_max=8_999.5, points=100,
                      metrics=[{"metric": "loss", "variants": ["train"]}])["metrics"]["loss"]["train"]
    assert train["total"] == 7_997 and not train["exact"]
    assert len(train["x"]) <= 100 and train["x"][0] == 1_003 and train["x"][-1] == 8_999
    shown = dict(zip(train["x"], train["y"]))
    assert shown[SPIKE_AT] == 1000.0 and shown[DIP_AT] == -1000.0
    outside = client.ok("events.scalar_metrics_iter_downsampled", task=task, x_min=N + 5, x_max=N + 50)
    assert outside == {"metrics": {}}


def test_x_by_time(charts):
    client, task, _ = charts
    data = client.ok("events.scalar_metrics_iter_downsampled", task=task, key="timestamp", points=200,
                     metrics=[{"metric": "loss"}])["metrics"]["loss"]
    train = data["train"]
    assert train["x"][0] == T0 and train["x"][-1] == T0 + (N - 1) * 1000 and len(train["x"]) <= 200
    assert dict(zip(train["x"], train["y"]))[T0 + SPIKE_AT * 1000] == 1000.0
    zoom = client.ok("events.scalar_metrics_iter_downsampled", task=task, key="timestamp", x_min=T0 + 10_000,
                     x_max=T0 + 19_000, metrics=[{"metric": "loss", "variants": ["train"]}])["metrics"]["loss"]["train"]
    assert zoom["exact"] and zoom["x"] == [T0 + i * 1000 for i in range(10, 20)]
    iso = client.ok("events.scalar_metrics_iter_downsampled", task=task, key="iso_time",
                    metrics=[{"metric": "acc"}])["metrics"]["acc"]["top1"]
    assert len(iso["x"]) == 3 and all(x.endswith("Z") and x[:4].isdigit() for x in iso["x"])


def test_compare_tasks(charts):
    client, task, other = charts
    data = client.ok("events.scalar_metrics_iter_downsampled", tasks=[task, other], points=40,
                     metrics=[{"metric": "loss", "variants": ["train"]}])["metrics"]
    train = data["loss"]["train"]
    assert set(train) == {task, other}
    assert train[other] == {"name": "short", "task": other, "x": [0, 1, 2, 3, 4],
                            "y": [10.0, 11.0, 12.0, 13.0, 14.0], "total": 5, "exact": True}
    assert train[task]["name"] == "long" and len(train[task]["x"]) <= 40
    as_text = client.ok("events.scalar_metrics_iter_downsampled", tasks=f"{task},{other}")["metrics"]
    assert set(as_text["loss"]["train"]) == {task, other}


def test_downsampled_bad_input(charts):
    client, task, _ = charts
    name = "events.scalar_metrics_iter_downsampled"
    client.error(name, (400, 11))
    client.error(name, (400, 12), task=task, tasks=[task])
    client.error(name, (400, 12), task=task, points=3)
    client.error(name, (400, 12), task=task, points=10_001)
    client.error(name, (400, 12), task=task, points="many")
    client.error(name, (400, 12), task=task, key="epoch")
    client.error(name, (400, 12), task=task, x_min=10, x_max=5)
    client.error(name, (400, 12), tasks=[task] * 101)
    client.error(name, (400, 101), task="0" * 32)
    client.error(name, (400, 101), tasks=[task, "1" * 32])
    client.error(name, (400, 201), task=task, model_events=True)


def test_reset_drops_the_buckets(events_api):
    client = events_api
    project = create_project(client, unique("downsampled-reset"))
    task = _task(client, project, "reset me")
    add_batch(client, [scalar(task, "m", "v", i, float(i)) for i in range(3000)])
    assert client.ok("events.scalar_metrics_iter_downsampled", task=task, points=100)["metrics"]["m"]["v"]["total"] == 3000
    client.ok("tasks.reset", task=task, force=True)
    assert client.ok("events.scalar_metrics_iter_downsampled", task=task) == {"metrics": {}}
    add_batch(client, [scalar(task, "m", "v", i, 1.0) for i in range(10)])
    again = client.ok("events.scalar_metrics_iter_downsampled", task=task)["metrics"]["m"]["v"]
    assert again["total"] == 10 and again["y"] == [1.0] * 10


# -- the console ---------------------------------------------------------------------------------------------------
LINES = 12_345


def _line(task: str, n: int) -> dict:
    # Several lines per millisecond, and not in time order: positions follow the order reported.
    return {"type": "log", "task": task, "msg": f"step {n} loss={n % 97}" + (" ERROR: nan" if n % 1000 == 999 else ""),
            "level": "error" if n % 1000 == 999 else "info", "worker": "vm", "timestamp": T0 + (LINES - n) // 3}


@pytest.fixture(scope="module")
def console(backend_api: ApiClient):
    client = backend_api
    project = create_project(client, unique("console"))
    task = _task(client, project, "chatty")
    for start in range(0, LINES, 2500):
        add_batch(client, [_line(task, n) for n in range(start, min(LINES, start + 2500))])
    return client, task


def test_log_lines_by_offset(console):
    client, task = console
    page = client.ok("events.get_task_log_lines", task=task, offset=5_000, limit=100)
    assert page["total"] == LINES and page["offset"] == 5_000
    assert [line["line"] for line in page["lines"]] == list(range(5_000, 5_100))
    assert [line["msg"] for line in page["lines"][:2]] == ["step 5000 loss=53", "step 5001 loss=54"]
    first = page["lines"][0]
    assert first["level"] == "info" and first["worker"] == "vm" and first["timestamp"] == T0 + (LINES - 5000) // 3
    assert first["@timestamp"].endswith("Z")
    default = client.ok("events.get_task_log_lines", task=task)
    assert default["offset"] == 0 and len(default["lines"]) == 200
    past = client.ok("events.get_task_log_lines", task=task, offset=LINES + 10)
    assert past == {"total": LINES, "offset": LINES + 10, "lines": []}


def test_log_lines_from_the_end(console):
    client, task = console
    page = client.ok("events.get_task_log_lines", task=task, from_end=True, limit=2000)
    assert page["offset"] == LINES - 2000 and len(page["lines"]) == 2000
    assert page["lines"][-1]["msg"].startswith(f"step {LINES - 1} ")


def test_log_lines_grow_while_the_task_reports(events_api):
    client = events_api
    task = _task(client, create_project(client, unique("console-live")), "live")
    assert client.ok("events.get_task_log_lines", task=task) == {"total": 0, "offset": 0, "lines": []}
    add_batch(client, [_line(task, n) for n in range(3)])
    add_batch(client, [_line(task, n) for n in range(3, 5)])
    tail = client.ok("events.get_task_log_lines", task=task, offset=3)
    assert tail["total"] == 5 and [line["line"] for line in tail["lines"]] == [3, 4]
    client.ok("tasks.reset", task=task, force=True)
    assert client.ok("events.get_task_log_lines", task=task)["total"] == 0


def _search(client: ApiClient, **request) -> dict:
    """Search as the web app does: a request that ran out of time says where it stopped; go on from there."""
    while True:
        answer = client.ok("events.search_task_log", **request)
        if answer["found"] or answer["done"]:
            return answer
        step = 1 if request.get("direction", "next") == "next" else -1
        request["from_offset"] = answer["searched_to"] + step


def test_search_next_and_prev(console):
    client, task = console
    hit = _search(client, task=task, text="error: NAN")
    assert hit["found"] and hit["offset"] == 999 and hit["line"]["line"] == 999 and hit["total"] == LINES
    after = _search(client, task=task, text="error: nan", from_offset=1000)
    assert after["offset"] == 1999
    back = _search(client, task=task, text="ERROR: nan", direction="prev",
                     from_offset=1998, case_sensitive=True)
    assert back["offset"] == 999
    last = _search(client, task=task, text="ERROR", direction="prev")
    assert last["offset"] == 11_999
    none = _search(client, task=task, text="ERROR", from_offset=12_000)
    assert none["found"] is False and none["offset"] is None and none["line"] is None and none["done"] is True
    assert _search(client, task=task, text="error: nan", case_sensitive=True)["found"] is False


def test_search_regex_and_count(console):
    client, task = console
    hit = _search(client, task=task, text=r"^step 12\d{3} loss=0$", regex=True)
    assert hit["offset"] == 12_028  # 12028 % 97 == 0
    literal = _search(client, task=task, text="loss=.", from_offset=0)
    assert literal["found"] is False  # a plain text search takes "." literally
    counted = _search(client, task=task, text="ERROR", count=True)
    assert counted["matches"] == 12 and counted["matches_capped"] is False
    capped = _search(client, task=task, text="step", count=True)
    assert capped["matches"] == 1000 and capped["matches_capped"] is True


def test_log_bad_input(console):
    client, task = console
    client.error("events.get_task_log_lines", (400, 11))
    client.error("events.get_task_log_lines", (400, 12), task=task, limit=2001)
    client.error("events.get_task_log_lines", (400, 12), task=task, offset=-1)
    client.error("events.get_task_log_lines", (400, 12), task=task, from_end="yes please")
    client.error("events.get_task_log_lines", (400, 101), task="0" * 32)
    client.error("events.search_task_log", (400, 11), task=task)
    client.error("events.search_task_log", (400, 12), task=task, text="")
    client.error("events.search_task_log", (400, 12), task=task, text="x", direction="sideways")
    client.error("events.search_task_log", (400, 21), task=task, text="(unclosed", regex=True)
    client.error("events.search_task_log", (400, 101), task="0" * 32, text="x")
