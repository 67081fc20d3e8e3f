"""events.* as the reference server answers them, on both events backends (``events_api``): raw scalars
(scalar_metrics_iter_raw), clearing a task's log (clear_task_log), the old request forms of get_task_log (1.5,
1.7) and debug_images (2.1), and the last_metrics summary (mean, x axis label)."""
from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.client import ApiClient
from support.event_reports import T0, add_batch, image, scalar
from support.names import unique
from support.objects import create_project, get_task
from support.sdk_api import call, run_calls


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def task(events_api) -> str:
    project = create_project(events_api, unique("events-parity"))
    return events_api.ok("tasks.create", name=unique("t"), type="training", project=project)["id"]


def logs(task: str, stamps, metric: str | None = None) -> list[dict]:
    return [{"type": "log", "task": task, "msg": f"at {s}", "level": "info", "timestamp": s,
             **({"metric": metric} if metric else {})} for s in stamps]


# -- scalar_metrics_iter_raw -------------------------------------------------------------------------------------
def test_raw_scalars_page_by_iteration_to_the_last_page(events_api, task):
    # Variants a and b at iterations 0..9; b has a second event at iteration 5 (another metric id: variant c).
    add_batch(events_api, [scalar(task, "loss", v, i, i * (1 if v == "a" else 10)) for v in "ab" for i in range(10)]
              + [scalar(task, "loss", "c", 5, 0.5), scalar(task, "acc", "a", 1, 1.0)])
    metric = {"metric": "loss"}
    first = events_api.ok("events.scalar_metrics_iter_raw", task=task, metric=metric, batch_size=4, count_total=True)
    assert first["total"] == 21 and first["returned"] == 4
    assert first["variants"] == {"a": {"y": [0.0, 1.0], "iter": [0, 1]}, "b": {"y": [0.0, 10.0], "iter": [0, 1]}}
    seen, scroll = 4, first["scroll_id"]
    pages = []
    while True:
        page = events_api.ok("events.scalar_metrics_iter_raw", task=task, metric=metric, scroll_id=scroll)
        assert page["total"] == 21  # counted once, carried by the scroll
        if not page["returned"]:
            assert page["variants"] == {}
            break
        pages.append(page)
        seen += page["returned"]
        scroll = page["scroll_id"]
    assert seen == 21 and len(pages) == 4  # iterations 2-3, 4-5 (5 events: the batch keeps iteration 5 whole)...
    assert pages[1]["returned"] == 5 and pages[1]["variants"]["c"] == {"y": [0.5], "iter": [5]}
    # the same scroll id again still answers the end
    assert events_api.ok("events.scalar_metrics_iter_raw", task=task, metric=metric, scroll_id=scroll)["returned"] == 0


def test_raw_scalars_by_timestamp_of_chosen_variants(events_api, task):
    add_batch(events_api, [scalar(task, "loss", v, i, float(i)) for v in "ab" for i in range(3)])
    reply = events_api.ok("events.scalar_metrics_iter_raw", task=task, key="timestamp",
                          metric={"metric": "loss", "variants": ["b"]})
    assert reply["total"] is None  # count_total defaults to false
    assert reply["variants"] == {"b": {"y": [0.0, 1.0, 2.0], "timestamp": [T0, T0 + 1000, T0 + 2000]}}


def test_raw_scalars_refuse_bad_requests(events_api, task):
    metric = {"metric": "loss"}
    events_api.error("events.scalar_metrics_iter_raw", (400, 11), task=task)
    events_api.error("events.scalar_metrics_iter_raw", (400, 11), metric=metric)
    events_api.error("events.scalar_metrics_iter_raw", (400, 12), task=task, metric=metric, batch_size=-1)
    events_api.error("events.scalar_metrics_iter_raw", (400, 12), task=task, metric=metric, batch_size="many")
    events_api.error("events.scalar_metrics_iter_raw", (400, 12), task=task, metric=metric, key="epoch")
    events_api.error("events.scalar_metrics_iter_raw", (400, 12), task=task, metric="loss")
    events_api.error("events.scalar_metrics_iter_raw", (400, 1104), task=task, metric=metric, scroll_id="nope")
    events_api.error("events.scalar_metrics_iter_raw", (400, 101), task=unique("missing"), metric=metric)
    # New in 2.16.
    assert events_api.send("events.scalar_metrics_iter_raw", {"task": task, "metric": metric},
                           version="2.15").code[0] == 404
    assert events_api.send("events.scalar_metrics_iter_raw", {"task": task, "metric": metric, "extra": 1},
                           version="2.16").code == (200, 0)


# -- clear_task_log ----------------------------------------------------------------------------------------------
def test_clear_task_log_keeps_recent_lines_and_chosen_metrics(events_api, task):
    now = int(time.time() * 1000)
    old = [now - 3_600_000 + i for i in range(4)]
    add_batch(events_api, logs(task, old[:2]) + logs(task, old[2:], metric="keep") + logs(task, [now]))
    add_batch(events_api, [scalar(task, "loss", "a", 0, 1.0)])
    count = lambda: events_api.ok("events.get_task_log", task=task)["total"]  # noqa: E731
    assert events_api.ok("events.clear_task_log", task=task, threshold_sec=600, exclude_metrics=["keep"]) \
        == {"deleted": 2}
    assert count() == 3
    assert events_api.ok("events.clear_task_log", task=task, threshold_sec=600, include_metrics=["other"]) \
        == {"deleted": 0}
    assert events_api.ok("events.clear_task_log", task=task, threshold_sec=600) == {"deleted": 2}
    assert count() == 1
    assert events_api.ok("events.clear_task_log", task=task) == {"deleted": 1}
    assert count() == 0
    # Only the log goes.
    assert events_api.ok("events.get_task_events", task=task)["total"] == 1


def test_clear_task_log_of_a_published_task_needs_allow_locked(events_api, task):
    add_batch(events_api, logs(task, [T0, T0 + 1]))
    events_api.ok("tasks.publish", task=task, force=True)
    reply = events_api.error("events.clear_task_log", (400, 101), task=task)
    assert "published" in reply.meta["result_msg"]
    assert events_api.ok("events.clear_task_log", task=task, allow_locked=True) == {"deleted": 2}


def test_clear_task_log_refuses_bad_requests(events_api, task):
    events_api.error("events.clear_task_log", (400, 11))
    events_api.error("events.clear_task_log", (400, 12), task=task, threshold_sec="old")
    events_api.error("events.clear_task_log", (400, 12), task=task, include_metrics="x")
    events_api.error("events.clear_task_log", (400, 101), task=unique("missing"))
    assert events_api.send("events.clear_task_log", {"task": task}, version="2.18").code[0] == 404
    assert events_api.send("events.clear_task_log", {"task": task}, version="2.19").code == (200, 0)


# -- get_task_log before 2.9 -------------------------------------------------------------------------------------
def _scroll(client: ApiClient, version: str, **request) -> list[list[str]]:
    """Every batch of a legacy log scroll, as message lists, up to the empty one."""
    batches, scroll_id = [], None
    for _ in range(20):
        reply = client.send("events.get_task_log", {**request, **({"scroll_id": scroll_id} if scroll_id else {})},
                            version=version)
        assert reply.code == (200, 0), reply.meta
        data = reply.data
        assert data["total"] == 5 and data["returned"] == len(data["events"])
        if not data["events"]:
            return batches
        batches.append([e["msg"] for e in data["events"]])
        scroll_id = data["scroll_id"]
    raise AssertionError("the scroll never ended")


def test_task_log_1_5_scrolls_in_order(events_api, task):
    add_batch(events_api, logs(task, [T0 + i for i in range(5)]))
    msgs = [f"at {T0 + i}" for i in range(5)]
    assert _scroll(events_api, "1.5", task=task, batch_size=2) == [msgs[4:2:-1], msgs[2:0:-1], msgs[:1]]  # desc
    assert _scroll(events_api, "2.8", task=task, batch_size=2, order="asc") == [msgs[:2], msgs[2:4], msgs[4:]]


def test_task_log_1_7_reads_from_head_or_tail(events_api, task):
    add_batch(events_api, logs(task, [T0 + i for i in range(5)]))
    msgs = [f"at {T0 + i}" for i in range(5)]
    # From the head (the default), each batch listed in the default descending order.
    assert _scroll(events_api, "1.7", task=task, batch_size=3) == [msgs[2::-1], msgs[4:2:-1]]
    assert _scroll(events_api, "2.1", task=task, batch_size=3, order="asc") == [msgs[:3], msgs[3:]]
    assert _scroll(events_api, "2.1", task=task, batch_size=3, order="desc", **{"from": "tail"}) \
        == [msgs[:1:-1], msgs[1::-1]]
    reply = events_api.send("events.get_task_log", {"task": task, "from": "middle"}, version="1.7")
    assert reply.code == (400, 12)
    assert events_api.send("events.get_task_log", {"task": task, "scroll_id": "bad"}, version="1.7").code \
        == (400, 1104)
    # 2.9 and later navigate by timestamp instead: no scroll id.
    assert "scroll_id" not in events_api.send("events.get_task_log", {"task": task}, version="2.9").data


# -- debug_images before 2.7 -------------------------------------------------------------------------------------
def test_debug_images_2_1_returns_the_latest_iterations_of_one_task(events_api, task):
    add_batch(events_api, [image(task, "img", v, i, f"{v}{i}.png") for v in ("a", "b") for i in range(4)])
    reply = events_api.send("events.debug_images", {"task": task, "iters": 2}, version="2.1")
    assert reply.code == (200, 0), reply.meta
    data = reply.data
    assert data["task"] == task and data["total"] == 4 and data["returned"] == 4
    assert [e["iter"] for e in data["images"]] == [3, 3, 2, 2]
    assert {e["url"].rsplit("/", 1)[1] for e in data["images"]} == {"a3.png", "b3.png", "a2.png", "b2.png"}
    more = events_api.send("events.debug_images", {"task": task, "scroll_id": data["scroll_id"]}, version="2.6").data
    assert more["returned"] == 0 and more["total"] == 4
    # 2.7 and later take the per-task metrics form.
    assert events_api.send("events.debug_images", {"task": task}, version="2.7").code == (400, 11)


# -- last_metrics ------------------------------------------------------------------------------------------------
def test_last_metrics_keep_mean_count_and_axis_label(events_api, task):
    add_batch(events_api, [scalar(task, "loss", "train", i, v, x_axis_label="epoch")
                           for i, v in ((0, 4.0), (1, 1.0), (2, 3.0))])
    add_batch(events_api, [scalar(task, "loss", "train", 3, 2.0), scalar(task, "loss", "train", 2, 3.0)])  # a resend
    entry = get_task(events_api, task)["last_metrics"][md5("loss")][md5("train")]
    assert entry["count"] == 4 and entry["mean_value"] == 2.5
    assert (entry["value"], entry["min_value"], entry["min_value_iteration"]) == (2.0, 1.0, 1)
    assert (entry["max_value"], entry["max_value_iteration"]) == (4.0, 0)
    assert (entry["first_value"], entry["first_value_iteration"]) == (4.0, 0)
    assert entry["x_axis_label"] == "epoch"


def test_the_machine_monitor_does_not_move_last_iteration(events_api, task):
    add_batch(events_api, [scalar(task, "loss", "a", 3, 1.0), scalar(task, ":monitor:machine", "cpu", 500, 9.0),
                           scalar(task, ":monitor:gpu", "gpu_0", 600, 9.0)])
    doc = get_task(events_api, task)
    assert doc["last_iteration"] == 3
    assert doc["last_metrics"][md5(":monitor:machine")][md5("cpu")]["value"] == 9.0  # still summarised


def test_concurrent_batches_keep_the_mean_exact(events_api, task):
    def send(n):
        add_batch(events_api, [scalar(task, "loss", "m", n * 3 + k, float(n * 3 + k)) for k in range(3)])

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(send, range(12)))
    entry = get_task(events_api, task)["last_metrics"][md5("loss")][md5("m")]
    assert entry["count"] == 36 and entry["mean_value"] == pytest.approx(sum(range(36)) / 36)


def test_plots_carry_their_length_and_image_sources(events_api, task):
    plot = '{"layout": {"images": [{"source": "https://files.example/a.png"}]}, "data": []}'
    add_batch(events_api, [{"type": "plot", "task": task, "metric": "m", "variant": "v", "iter": 1, "plot_str": plot}])
    (shown,) = events_api.ok("events.get_task_plots", task=task)["plots"]
    assert shown["plot_str"] == plot and shown["plot_len"] == len(plot)
    assert shown["source_urls"] == ["https://files.example/a.png"]


# -- authentication ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["events.scalar_metrics_iter_raw", "events.clear_task_log"])
def test_new_endpoints_need_credentials(api_server, name):
    assert ApiClient(api_server.url).send(name, {"task": "x"}).code[0] == 401


# -- reads as the reference shapes them ---------------------------------------------------------------------------
def test_task_events_scroll_keeps_its_first_requests_type_and_metrics(events_api, task):
    add_batch(events_api, [scalar(task, "loss", "a", i, float(i)) for i in range(5)]
              + [scalar(task, "acc", "a", i, float(i)) for i in range(5)] + logs(task, [T0, T0 + 1]))
    first = events_api.ok("events.get_task_events", task=task, event_type="training_stats_scalar", batch_size=2,
                          metrics=[{"metric": "loss"}])
    assert first["total"] == 5 and [e["iter"] for e in first["events"]] == [0, 1]
    seen, scroll = list(first["events"]), first["scroll_id"]
    while True:
        page = events_api.ok("events.get_task_events", task=task, batch_size=2, scroll_id=scroll)  # no type given
        if not page["returned"]:
            break
        seen += page["events"]
        scroll = page["scroll_id"]
    assert [(e["metric"], e["iter"]) for e in seen] == [("loss", i) for i in range(5)]


def test_task_events_batches_end_with_their_whole_last_iteration(events_api, task):
    add_batch(events_api, [scalar(task, "loss", v, i, float(i)) for i in range(3) for v in "abc"])
    first = events_api.ok("events.get_task_events", task=task, batch_size=2, order="desc")
    assert sorted((e["iter"], e["variant"]) for e in first["events"]) == [(2, "a"), (2, "b"), (2, "c")]
    second = events_api.ok("events.get_task_events", task=task, batch_size=4, scroll_id=first["scroll_id"])
    assert [e["iter"] for e in second["events"]] == [1, 1, 1, 0, 0, 0]
    assert events_api.ok("events.get_task_events", task=task, scroll_id=second["scroll_id"])["returned"] == 0


def test_task_metrics_leave_single_values_out(events_api, task):
    add_batch(events_api, [scalar(task, "loss", "a", 1, 1.0), scalar(task, "Summary", "best", -2**31, 0.9)])
    reply = events_api.ok("events.get_task_metrics", tasks=[task], event_type="training_stats_scalar")
    assert reply == {"metrics": [{"task": task, "metrics": ["loss"]}]}
    multi = events_api.ok("events.get_multi_task_metrics", tasks=[task], event_type="training_stats_scalar")
    assert multi == {"metrics": [{"metric": "Summary", "variants": ["best"]}, {"metric": "loss", "variants": ["a"]}]}
    single = events_api.ok("events.get_task_single_value_metrics", tasks=[task])["tasks"]
    assert [(t["task"], [(v["metric"], v["variant"], v["value"]) for v in t["values"]]) for t in single] \
        == [(task, [("Summary", "best", 0.9)])]


def test_histogram_buckets_start_at_multiples_of_the_interval(events_api, task):
    add_batch(events_api, [scalar(task, "loss", "a", i, float(i)) for i in range(5, 105)])
    chart = events_api.ok("events.scalar_metrics_iter_histogram", task=task, samples=10)["loss"]["a"]
    assert chart["x"] == list(range(0, 101, 10))  # 11 buckets: the range 5..104 touches 0..100
    assert chart["y"][0] == sum(range(5, 10)) / 5 and chart["y"][-1] == sum(range(100, 105)) / 5
    # Fewer points than samples: all of them.
    assert len(events_api.ok("events.scalar_metrics_iter_histogram", task=task)["loss"]["a"]["x"]) == 100
    events_api.error("events.scalar_metrics_iter_histogram", (400, 12), task=task, samples=6001)


def test_a_batch_mixing_lock_or_model_settings_for_one_id_is_refused(events_api, task):
    line = scalar(task, "loss", "a", 0, 1.0)
    reply = events_api.send("events.add_batch", body="\n".join(json.dumps(e) for e in (
        line, {**line, "iter": 1, "allow_locked": True})), headers={"Content-Type": "application/json-lines"})
    assert reply.code == (400, 12) and "allow_locked" in reply.meta["result_msg"]
    reply = events_api.send("events.add_batch", body="\n".join(json.dumps(e) for e in (
        line, {**line, "model_event": True})), headers={"Content-Type": "application/json-lines"})
    assert reply.code == (400, 12) and "model_event" in reply.meta["result_msg"]
    assert events_api.ok("events.get_task_events", task=task)["total"] == 0  # nothing half-written


def test_an_empty_batch_is_refused(events_api):
    reply = events_api.send("events.add_batch", body="", headers={"Content-Type": "application/json-lines"})
    assert reply.code == (400, 17)


# -- the real SDK ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdk_answers(api_server, tmp_path_factory):
    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    project = create_project(api, unique("events-sdk"))
    task = api.ok("tasks.create", name=unique("t"), type="training", project=project)["id"]
    add_batch(api, [scalar(task, "loss", "a", i, float(i)) for i in range(3)] + logs(task, [T0 + i for i in range(3)])
              + [image(task, "img", "a", i, f"a{i}.png") for i in range(2)])
    answers = run_calls(api_server, [
        call("events.scalar_metrics_iter_raw", task=task, metric={"metric": "loss"}, count_total=True),
        call("events.get_task_latest_scalar_values", task=task),
        call("events.get_task_log", raw=True, version="1.7", task=task, batch_size=2, order="asc"),
        call("events.debug_images", raw=True, version="2.1", task=task, iters=1),
        call("events.clear_task_log", task=task),
    ], tmp_path_factory.mktemp("sdk-events"))
    return task, answers


def test_through_the_sdk(sdk_answers):
    task, (raw, latest, log, images, cleared) = sdk_answers
    assert all(a["ok"] for a in sdk_answers[1]), sdk_answers[1]
    assert raw["data"]["total"] == 3 and raw["data"]["variants"] == {"a": {"y": [0.0, 1.0, 2.0], "iter": [0, 1, 2]}}
    (loss,) = latest["data"]["metrics"]
    assert loss["variants"] == [{"name": "a", "last_value": 2.0, "last_10_value": 2.0}]
    assert [e["msg"] for e in log["data"]["events"]] == [f"at {T0}", f"at {T0 + 1}"] and log["data"]["total"] == 3
    assert images["data"]["task"] == task and [e["iter"] for e in images["data"]["images"]] == [1]
    assert cleared["data"] == {"deleted": 3}
