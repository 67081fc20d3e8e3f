"""Reading events back through the API, on both events backends (MongoDB and Elasticsearch on osmem-server):
scalar charts, single values, raw events with scroll ids, the console log and its download.

One task with every kind of event is reported once per backend (support/event_reports.py); the tests only read.
"""
from __future__ import annotations

import json
import time

import pytest

from support.client import ApiClient
from support.event_reports import LOG_LINES, SHARED_STAMP, SINGLE, T0, Reported, log_stamp, report


@pytest.fixture(scope="module", params=["mongo", "elastic"])
def rep(request) -> Reported:
    server = request.getfixturevalue("api_server" if request.param == "mongo" else "api_server_elastic")
    return report(ApiClient(server.url, server.key, server.secret).login(), request.param)


# -- scalar charts ---------------------------------------------------------------------------------------------
def test_histogram_returns_every_point_of_small_series(rep):
    charts = rep.client.ok("events.scalar_metrics_iter_histogram", task=rep.task, key="iter")
    assert set(charts) == {"loss", "acc"}  # single values (Summary) are not charts
    train = charts["loss"]["train"]
    assert train["name"] == "train"
    assert train["x"] == list(range(100)) and train["y"] == [float(i) for i in range(100)]
    assert charts["loss"]["val"]["x"] == list(range(0, 100, 10))
    assert charts["acc"]["top1"]["x_axis_label"] == "epochs"


def test_histogram_downsamples_by_averaging(rep):
    charts = rep.client.ok("events.scalar_metrics_iter_histogram", task=rep.task, samples=10)
    train = charts["loss"]["train"]
    assert train["x"] == list(range(0, 100, 10))
    assert train["y"] == [sum(range(s, s + 10)) / 10 for s in range(0, 100, 10)]
    assert charts["loss"]["val"]["x"] == list(range(0, 100, 10))  # 10 points fit as they are
    odd = rep.client.ok("events.scalar_metrics_iter_histogram", task=rep.task, samples=7)["loss"]["train"]
    assert len(odd["x"]) <= 7 and odd["x"][0] == 0
    assert sum(odd["y"][:-1]) / len(odd["y"][:-1]) < odd["y"][-1]


def test_histogram_by_time(rep):
    by_ms = rep.client.ok("events.scalar_metrics_iter_histogram", task=rep.task, key="timestamp",
                          metrics=[{"metric": "loss", "variants": ["val"]}])
    assert list(by_ms) == ["loss"] and list(by_ms["loss"]) == ["val"]
    assert by_ms["loss"]["val"]["x"] == [T0 + i * 1000 for i in range(0, 100, 10)]
    iso = rep.client.ok("events.scalar_metrics_iter_histogram", task=rep.task, key="iso_time",
                        metrics=[{"metric": "acc"}])
    first = iso["acc"]["top1"]["x"][0]
    assert first.endswith("Z") and first[:4].isdigit() and len(iso["acc"]["top1"]["x"]) == 10


def test_histogram_of_model_events(rep):
    charts = rep.client.ok("events.scalar_metrics_iter_histogram", task=rep.model, model_events=True)
    assert charts == {"mloss": {"m": {"name": "m", "x": [0, 1, 2], "y": [0.0, 1.0, 2.0]}}}


def test_histogram_of_a_task_without_scalars(rep):
    empty = rep.client.ok("tasks.create", name="empty", type="training", project=rep.project)["id"]
    assert rep.client.ok("events.scalar_metrics_iter_histogram", task=empty) == {}


def test_multi_task_histogram(rep):
    compared = rep.client.ok("events.multi_task_scalar_metrics_iter_histogram", tasks=[rep.task, rep.other],
                             samples=5, metrics=[{"metric": "loss", "variants": ["train"]}])["metrics"]
    train = compared["loss"]["train"]
    assert set(train) == {rep.task, rep.other}
    assert train[rep.other] == {"name": rep.names[rep.other], "x": [0, 1, 2, 3, 4],
                                "y": [10.0, 11.0, 12.0, 13.0, 14.0]}
    assert train[rep.task]["name"] == rep.names[rep.task] and len(train[rep.task]["x"]) == 5
    as_text = rep.client.ok("events.multi_task_scalar_metrics_iter_histogram", tasks=f"{rep.task},{rep.other}")
    assert set(as_text["metrics"]["loss"]["train"]) == {rep.task, rep.other}


def test_single_value_metrics(rep):
    tasks = rep.client.ok("events.get_task_single_value_metrics", tasks=[rep.task, rep.other])["tasks"]
    by_task = {t["task"]: t for t in tasks}
    assert by_task[rep.task]["task_name"] == rep.names[rep.task]
    assert [(v["metric"], v["variant"], v["value"]) for v in by_task[rep.task]["values"]] == [
        ("Summary", "runtime", 12.5), ("Summary", "score", 0.9)]
    assert all(v["timestamp"] == T0 for v in by_task[rep.task]["values"])
    assert [v["value"] for v in by_task[rep.other]["values"]] == [0.7]


def test_latest_scalar_values(rep):
    latest = rep.client.ok("events.get_task_latest_scalar_values", task=rep.task)
    assert latest["name"] == rep.names[rep.task] and latest["status"] == "created"
    assert latest["last_iter"] == 99
    loss = next(m for m in latest["metrics"] if m["name"] == "loss")
    assert {v["name"]: v["last_value"] for v in loss["variants"]} == {"train": 99.0, "val": 45.0}
    assert abs(latest["last_timestamp"] / 1000 - time.time()) < 3600  # when the last events were written


def test_scalar_metric_data_latest_first(rep):
    page = rep.client.ok("events.get_scalar_metric_data", task=rep.task, metric="acc")
    assert page["total"] == 10 and page["returned"] == 10
    assert [e["iter"] for e in page["events"]] == list(range(9, -1, -1))
    event = page["events"][0]
    assert event["type"] == "training_stats_scalar" and event["value"] == 0.59 and event["task"] == rep.task
    assert "company" not in event and event["@timestamp"].endswith("Z")


# -- raw events ------------------------------------------------------------------------------------------------
def test_task_events_scroll_through_everything(rep):
    seen, scroll_id, total = [], None, None
    while True:
        page = rep.client.ok("events.get_task_events", task=rep.task, event_type="training_stats_scalar",
                             batch_size=33, scroll_id=scroll_id)
        total = page["total"]
        seen += page["events"]
        scroll_id = page["scroll_id"]
        if page["returned"] < 33:
            break
    assert total == len(seen) == 100 + 10 + 10 + 2
    iterations = [e["iter"] for e in seen]
    assert iterations == sorted(iterations) and iterations[:2] == [SINGLE, SINGLE]
    done = rep.client.ok("events.get_task_events", task=rep.task, scroll_id=scroll_id, batch_size=33)
    assert done["events"] == [] and done["total"] == total


def test_task_events_descending_with_metrics(rep):
    page = rep.client.ok("events.get_task_events", task=rep.task, order="desc", batch_size=3,
                         metrics=[{"metric": "loss", "variants": ["val"]}])
    assert [e["iter"] for e in page["events"]] == [90, 80, 70] and page["total"] == 10
    more = rep.client.ok("events.get_task_events", task=rep.task, order="desc", batch_size=3,
                         metrics=[{"metric": "loss", "variants": ["val"]}], scroll_id=page["scroll_id"])
    assert [e["iter"] for e in more["events"]] == [60, 50, 40]


def test_task_events_of_every_type_and_of_a_model(rep):
    everything = rep.client.ok("events.get_task_events", task=rep.task, batch_size=1000)
    types = {e["type"] for e in everything["events"]}
    assert types == {"training_stats_scalar", "plot", "training_debug_image", "training_stats_vector", "log"}
    vector = next(e for e in everything["events"] if e["type"] == "training_stats_vector" and e["iter"] == 1)
    assert vector["value"] == [1.0, 2.0, 3.0]
    model = rep.client.ok("events.get_task_events", task=rep.model, model_events=True)
    assert [e["iter"] for e in model["events"]] == [0, 1, 2] and all(e["model_event"] for e in model["events"])


# -- console log -----------------------------------------------------------------------------------------------
def lines(page: dict) -> list[str]:
    return [e["msg"] for e in page["events"]]


def test_log_latest_lines_first(rep):
    page = rep.client.ok("events.get_task_log", task=rep.task, batch_size=5)
    assert lines(page) == [f"line {n}" for n in range(29, 24, -1)]
    assert page["total"] == LOG_LINES and page["returned"] == 5
    # the SDK's get_reported_console_output: the last lines, oldest first
    sdk = rep.client.ok("events.get_task_log", task=rep.task, batch_size=3, order="asc", navigate_earlier=True)
    assert lines(sdk) == ["line 27", "line 28", "line 29"]


def test_log_pages_backward_and_forward_lose_nothing(rep):
    collected, from_timestamp = [], None
    while True:
        page = rep.client.ok("events.get_task_log", task=rep.task, batch_size=4, from_timestamp=from_timestamp)
        if not page["events"]:
            break
        collected += lines(page)
        from_timestamp = page["events"][-1]["timestamp"]
    assert sorted(collected, key=lambda m: int(m.split()[1])) == [f"line {n}" for n in range(LOG_LINES)]
    assert len(collected) == LOG_LINES
    forward, from_timestamp = [], None
    while True:
        page = rep.client.ok("events.get_task_log", task=rep.task, batch_size=7, navigate_earlier=False,
                             from_timestamp=from_timestamp)
        if not page["events"]:
            break
        forward += lines(page)
        from_timestamp = page["events"][-1]["timestamp"]
    assert sorted(forward) == sorted(collected) and len(forward) == LOG_LINES


def test_log_page_ending_on_a_shared_timestamp_includes_all_its_lines(rep):
    # Forward from just before line 10: a page of 1 ends on the timestamp lines 10 and 11 share.
    page = rep.client.ok("events.get_task_log", task=rep.task, batch_size=1, navigate_earlier=False,
                         from_timestamp=log_stamp(9))
    assert sorted(lines(page)) == [f"line {n}" for n in SHARED_STAMP]
    descending = rep.client.ok("events.get_task_log", task=rep.task, batch_size=4, navigate_earlier=False,
                               order="desc")
    assert lines(descending) == ["line 3", "line 2", "line 1", "line 0"]


def test_download_task_log(rep):
    url = f"{rep.client.base_url}/events.download_task_log"
    headers = {"Authorization": f"Bearer {rep.client.token}"}
    as_json = rep.client.session.get(url, json={"task": rep.task}, headers=headers, timeout=30)
    assert as_json.status_code == 200 and as_json.headers["Content-Type"].startswith("text/plain")
    assert f"task_{rep.task}.log" in as_json.headers["Content-Disposition"]
    records = [json.loads(line) for line in as_json.text.splitlines()]
    assert len(records) == LOG_LINES and records[0]["msg"] == "line 0" and records[0]["asctime"] == T0
    assert "task" not in records[0] and "type" not in records[0]
    as_text = rep.client.session.get(url, json={"task": rep.task, "line_type": "text",
                                                "line_format": "{level}|{msg}"}, headers=headers, timeout=30)
    assert as_text.text.splitlines()[:2] == ["info|line 0", "info|line 1"]
