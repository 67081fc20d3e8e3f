"""workers.* as the reference server answers them: get_stats entries per metric (and per variant), the date
buckets of get_stats and get_activity_report, get_all/get_count at each version their schema lists, and the
same calls through the real SDK's APIClient (whose response models read the reference's shapes)."""
from __future__ import annotations

import itertools
import time

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from support.sdk_api import call, run_calls

MIN_INTERVAL = 40  # services.workers.min_chart_interval_sec
# Each test reports into its own hour, far from test_workers.py's (get_activity_report counts every worker).
_hours_back = itertools.count(40)


def report_stats(api: ApiClient) -> tuple[int, str, str]:
    """A running worker reporting 3 times 40 s apart (two CPU cores, memory), an idle one reporting once.
    Returns the start (seconds, on a bucket boundary) and the two worker ids."""
    start = (int(time.time()) - 3600 * next(_hours_back)) // MIN_INTERVAL * MIN_INTERVAL
    task = api.ok("tasks.create", name=unique("run"), type="training",
                  project=create_project(api, unique("workers-parity")))["id"]
    api.ok("tasks.started", task=task)
    busy, idle = unique("busy"), unique("idle")
    for step in range(3):
        api.ok("workers.status_report", worker=busy, task=task, timestamp=(start + 40 * step) * 1000,
               machine_stats={"cpu_usage": [10 + step, 30 + step], "memory_used": 100 + step})
    api.ok("workers.status_report", worker=idle, timestamp=(start + 5) * 1000, machine_stats={"cpu_usage": [1]})
    return start, busy, idle


def test_get_stats_entries_carry_their_dates(api):
    start, busy, _ = report_stats(api)
    reply = api.ok("workers.get_stats", from_date=start, to_date=start + 160, interval=40, worker_ids=[busy],
                   items=[{"key": "cpu_usage", "aggregation": "max"}, {"key": "cpu_usage"},
                          {"key": "memory_used", "aggregation": "min"}, {"key": "gpu_usage"}])
    dates = [(start + 40 * i) * 1000 for i in range(4)]
    (worker,) = reply["workers"]
    assert worker["worker"] == busy
    assert [(m["metric"], m["dates"], [s["aggregation"] for s in m["stats"]]) for m in worker["metrics"]] == [
        ("cpu_usage", dates, ["max", "avg"]), ("memory_used", dates, ["min"])]  # gpu_usage: never reported
    cpu = {s["aggregation"]: s["values"] for s in worker["metrics"][0]["stats"]}
    assert cpu == {"max": [30.0, 31.0, 32.0, 0.0], "avg": [20.0, 21.0, 22.0, 0.0]}
    assert "variant" not in worker["metrics"][0]


def test_get_stats_split_by_variant(api):
    start, busy, _ = report_stats(api)
    reply = api.ok("workers.get_stats", from_date=start, to_date=start + 120, interval=40, worker_ids=[busy],
                   split_by_variant=True, items=[{"key": "cpu_usage"}, {"key": "memory_used"}])
    shown = {(m["metric"], m["variant"]): m["stats"][0]["values"] for m in reply["workers"][0]["metrics"]}
    assert shown == {("cpu_usage", "0"): [10.0, 11.0, 12.0], ("cpu_usage", "1"): [30.0, 31.0, 32.0],
                     ("memory_used", "total"): [100.0, 101.0, 102.0]}


def test_the_last_bucket_stays_when_90_percent_of_it_has_passed(api):
    start, busy, _ = report_stats(api)
    # to_date 36 s (90%) into the third bucket: it stays; 35 s: it goes.
    for to_date, count in ((start + 116, 3), (start + 115, 2)):
        stats = api.ok("workers.get_stats", from_date=start, to_date=to_date, interval=40, worker_ids=[busy],
                       items=[{"key": "cpu_usage"}])
        assert len(stats["workers"][0]["metrics"][0]["dates"]) == count
        activity = api.ok("workers.get_activity_report", from_date=start, to_date=to_date, interval=40)
        assert len(activity["total"]["dates"]) == count


def test_activity_report_counts_workers_per_bucket(api):
    start, _, _ = report_stats(api)
    # An interval below the minimum is raised to it (40 s).
    reply = api.ok("workers.get_activity_report", from_date=start, to_date=start + 160, interval=10)
    dates = [(start + 40 * i) * 1000 for i in range(4)]
    assert reply == {"total": {"dates": dates, "counts": [2, 1, 1, 0]},
                     "active": {"dates": dates, "counts": [1, 1, 1, 0]}}


def test_statistics_refuse_bad_ranges(api, anon):
    item = [{"key": "cpu_usage"}]
    api.error("workers.get_stats", (400, 16), from_date=1_000_400, to_date=1_000_000, interval=40, items=item)
    api.error("workers.get_activity_report", (400, 16), from_date=1_000_400, to_date=1_000_400, interval=40)
    api.error("workers.get_stats", (400, 12), from_date=1_000_000, to_date=1_000_400, interval=40, items=item,
              split_by_variant="yes please")
    for name in ("workers.get_stats", "workers.get_activity_report", "workers.get_all", "workers.get_count"):
        assert anon.send(name, {}).code == (401, 20)


# -- get_all / get_count at each version -------------------------------------------------------------------------
def test_get_all_and_get_count_at_each_version(api):
    tagged, plain = unique("tagged"), unique("plain")
    api.ok("workers.register", worker=tagged, tags=["gpu"], system_tags=["cloud"])
    api.ok("workers.register", worker=plain)
    try:
        def ids(version: str, **query) -> set[str]:
            reply = api.send("workers.get_all", query, version=version)
            assert reply.code == (200, 0), reply.meta
            return {w["id"] for w in reply.data["workers"]} & {tagged, plain}

        assert ids("2.4") == ids("2.4", last_seen=0) == {tagged, plain}
        assert ids("2.20", tags=["gpu"]) == {tagged}
        assert ids("2.20", tags=["-gpu"]) == {plain}
        assert ids("2.22", system_tags=["cloud"]) == {tagged}
        assert ids("2.30", worker_pattern=f"{tagged[:-2]}*") == {tagged}
        assert api.send("workers.get_all", {"last_seen": "recently"}, version="2.4").code == (400, 12)

        assert api.send("workers.get_count", {}, version="2.25").code[0] == 404
        count = api.send("workers.get_count", {"tags": ["gpu"], "system_tags": ["cloud"]}, version="2.26")
        assert count.code == (200, 0) and count.data["count"] >= 1
        assert api.send("workers.get_count", {"worker_pattern": plain}, version="2.30").data == {"count": 1}
    finally:
        for worker in (tagged, plain):
            api.ok("workers.unregister", worker=worker)


# -- the real SDK ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdk_answers(api_server, tmp_path_factory):
    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    start, busy, idle = report_stats(api)
    api.ok("workers.register", worker=busy)  # listed by get_all while the SDK runs
    answers = run_calls(api_server, [
        call("workers.get_stats", from_date=start, to_date=start + 120, interval=40, worker_ids=[busy],
             items=[{"key": "cpu_usage", "aggregation": "avg"}], split_by_variant=True),
        call("workers.get_activity_report", from_date=start, to_date=start + 120, interval=40),
        call("workers.get_all", last_seen=600),
        call("workers.get_count", raw=True, version="2.26"),
    ], tmp_path_factory.mktemp("sdk-workers"))
    api.ok("workers.unregister", worker=busy)
    return start, busy, answers


def test_through_the_sdk(sdk_answers):
    start, busy, (stats, activity, listed, count) = sdk_answers
    assert stats["ok"] and activity["ok"] and listed["ok"] and count["ok"], (stats, activity, listed, count)
    metrics = stats["data"]["workers"][0]["metrics"]
    assert [(m["metric"], m["variant"], m["dates"][0], m["stats"][0]["values"]) for m in metrics] == [
        ("cpu_usage", "0", start * 1000, [10.0, 11.0, 12.0]), ("cpu_usage", "1", start * 1000, [30.0, 31.0, 32.0])]
    assert activity["data"]["total"]["counts"] == [2, 1, 1]
    assert busy in {w["id"] for w in listed["data"]}
    assert count["data"]["count"] >= 1
