"""workers.*: registration, status reports, listing, statistics series and runtime properties, against the
real API (worker records in Valkey, statistics in the Mongo-wire server)."""
from __future__ import annotations

import itertools
import time

import pytest

from support.names import unique
from support.objects import create_project, create_queue, get_task

ENDPOINTS = (
    "workers.register", "workers.unregister", "workers.status_report", "workers.get_all", "workers.get_count",
    "workers.get_stats", "workers.get_activity_report", "workers.get_metric_keys",
    "workers.set_runtime_properties", "workers.get_runtime_properties",
)
MIN_INTERVAL = 40  # services.workers.min_chart_interval_sec
# Each statistics test reports into its own hour of the recent past: get_activity_report counts every worker.
_hours_back = itertools.count(2)


def now_ms() -> int:
    return int(time.time() * 1000)


def workers_by_id(api, **query) -> dict:
    return {w["id"]: w for w in api.ok("workers.get_all", **query)["workers"]}


def running_task(api, name: str = "run") -> str:
    task_id = api.ok("tasks.create", name=unique(name), type="training",
                     project=create_project(api, unique("workers")))["id"]
    api.ok("tasks.started", task=task_id)
    return task_id


# -- register / unregister / get_all -----------------------------------------------------------------------
def test_register_lists_the_worker_with_its_queues(api):
    queue_name = unique("wq")
    queue = create_queue(api, queue_name, display_name="Workers Q")
    queued = api.ok("tasks.create", name=unique("next"), type="training")["id"]
    api.ok("tasks.enqueue", task=queued, queue=queue)
    worker = unique("vm")
    assert api.ok("workers.register", worker=worker, queues=[queue], tags=["t1"], system_tags=["s1"]) == {}

    found = workers_by_id(api)[worker]
    assert found["queues"] == [{"id": queue, "name": queue_name, "display_name": "Workers Q", "num_tasks": 1,
                                "next_task": {"id": queued, "name": get_task(api, queued)["name"]}}]
    assert found["tags"] == ["t1"] and found["system_tags"] == ["s1"]
    assert found["user"]["id"] and found["user"]["name"] == "Test User" and found["company"]["id"]
    assert found["ip"] == "127.0.0.1"
    assert found["register_time"] and found["last_activity_time"] and found["last_report_time"] is None
    assert found["task"] is None and found["queue"] is None and found["register_timeout"] == 60
    assert api.ok("workers.get_count", worker_pattern=worker) == {"count": 1}

    assert api.ok("workers.unregister", worker=worker) == {}
    assert worker not in workers_by_id(api)
    # Unknown workers unregister quietly (the agent unregisters twice on exit).
    assert api.ok("workers.unregister", worker=worker) == {}


def test_a_report_crossing_the_unregister_does_not_bring_the_worker_back(api):
    """An agent's monitor thread can post a last status report just after its main thread unregistered
    (seen with clearml-agent under load): the worker stays gone until it registers again."""
    queue = create_queue(api, unique("gone-q"))
    worker = unique("vm")
    api.ok("workers.register", worker=worker, queues=[queue])
    api.ok("workers.unregister", worker=worker)
    assert api.ok("workers.status_report", worker=worker, timestamp=now_ms(), queues=[queue]) == {}
    assert worker not in workers_by_id(api)
    api.ok("workers.register", worker=worker, queues=[queue])   # an agent starting again under that id
    api.ok("workers.status_report", worker=worker, timestamp=now_ms(), queues=[queue])
    assert worker in workers_by_id(api)


def test_register_refuses_unknown_queues_and_bad_timeouts_without_registering(api):
    worker = unique("vm")
    reply = api.error("workers.register", (400, 701), worker=worker, queues=["f" * 32])
    assert "f" * 32 in reply.meta["result_msg"]
    api.error("workers.register", (400, 1002), worker=worker, timeout=0)
    api.error("workers.register", (400, 1002), worker=worker, timeout=-5)
    assert worker not in workers_by_id(api)


def test_register_validation(api):
    assert "worker" in api.error("workers.register", (400, 11)).meta["result_msg"]
    api.error("workers.register", (400, 12), worker=5)
    api.error("workers.register", (400, 12), worker="")
    api.error("workers.register", (400, 12), worker="w", queues="q")
    api.error("workers.register", (400, 12), worker="w", timeout="ten")
    api.error("workers.register", (400, 12), worker="w", timeout=10**12)
    api.error("workers.register", (400, 12), worker="w", tags=[1])
    api.error("workers.unregister", (400, 11))
    api.error("workers.unregister", (400, 12), worker=["w"])


def test_get_all_filters(api):
    tag = unique("tag")
    first, second = unique("flt-a"), unique("flt-b")
    api.ok("workers.register", worker=first, tags=[tag, "gpu"], system_tags=["sys"])
    api.ok("workers.register", worker=second, tags=[tag])
    assert set(workers_by_id(api, tags=[tag])) == {first, second}
    assert set(workers_by_id(api, tags=[tag, "nonexistent"])) == {first, second}  # any of the plain tags
    assert set(workers_by_id(api, tags=[tag, "-gpu"])) == {second}
    assert set(workers_by_id(api, tags=[tag], system_tags=["-sys"])) == {second}
    assert set(workers_by_id(api, tags=[tag], system_tags=["sys"])) == {first}
    assert set(workers_by_id(api, worker_pattern=first)) == {first}
    assert set(workers_by_id(api, worker_pattern=f"{first[:-3]}*")) == {first}
    assert set(workers_by_id(api, worker_pattern=f"{first[:-1]}?")) == {first}
    assert api.ok("workers.get_count", tags=[tag]) == {"count": 2}
    assert set(workers_by_id(api, tags=[tag], last_seen=0)) == {first, second}  # 0: no filter


def test_get_all_validation(api):
    api.error("workers.get_all", (400, 12), last_seen="x")
    api.error("workers.get_all", (400, 12), last_seen=-1)
    api.error("workers.get_all", (400, 12), last_seen=10**20)
    api.error("workers.get_all", (400, 12), tags="t")
    api.error("workers.get_all", (400, 12), worker_pattern=3)
    api.error("workers.get_count", (400, 12), last_seen=[1])


# -- status_report -----------------------------------------------------------------------------------------
def test_status_report_registers_an_unknown_worker_and_records_its_task(api):
    queue = create_queue(api, unique("rq"))
    task_id = running_task(api)
    task = get_task(api, task_id)
    worker = unique("vm")
    assert api.ok("workers.status_report", worker=worker, timestamp=now_ms(), task=task_id, queue=queue,
                  queues=[queue], machine_stats={"cpu_usage": [1.5], "memory_used": 100}) == {}

    found = workers_by_id(api)[worker]
    assert found["task"]["id"] == task_id and found["task"]["name"] == task["name"]
    assert found["task"]["running_time"] >= 0 and "last_iteration" in found["task"]
    project_name = api.ok("projects.get_by_id", project=task["project"])["project"]["name"]
    assert found["project"] == {"id": task["project"], "name": project_name}
    assert found["queue"]["id"] == queue and [q["id"] for q in found["queues"]] == [queue]
    assert found["last_report_time"]
    stamped = get_task(api, task_id)
    assert stamped["last_worker"] == worker and stamped["last_worker_report"]

    # A report without a task clears it; an empty queue list keeps the queues; tags are replaced.
    api.ok("workers.status_report", worker=worker, timestamp=now_ms(), queues=[], tags=["after"])
    found = workers_by_id(api)[worker]
    assert found["task"] is None and found["project"] is None and found["queue"] is None
    assert [q["id"] for q in found["queues"]] == [queue] and found["tags"] == ["after"]


def test_status_report_for_an_unknown_task_writes_nothing(api):
    worker = unique("vm")
    api.error("workers.status_report", (400, 101), worker=worker, timestamp=now_ms(), task="f" * 32)
    assert worker not in workers_by_id(api)


def test_status_report_validation(api):
    worker = unique("vm")
    assert "timestamp" in api.error("workers.status_report", (400, 11), worker=worker).meta["result_msg"]
    api.error("workers.status_report", (400, 11), timestamp=now_ms())
    api.error("workers.status_report", (400, 12), worker=worker, timestamp="now")
    api.error("workers.status_report", (400, 12), worker=worker, timestamp=-1)
    api.error("workers.status_report", (400, 12), worker=worker, timestamp=now_ms(), queues="q")
    api.error("workers.status_report", (400, 12), worker=worker, timestamp=now_ms(), machine_stats=[1])
    api.error("workers.status_report", (400, 12), worker=worker, timestamp=now_ms(),
              machine_stats={"cpu_usage": "high"})
    api.error("workers.status_report", (400, 12), worker=worker, timestamp=now_ms(),
              machine_stats={"memory_used": [1]})
    assert worker not in workers_by_id(api)
    # What the agent adds (is_daemon, null machine_stats and tags on the first report) is accepted.
    api.ok("workers.status_report", worker=worker, timestamp=now_ms(), is_daemon=True, machine_stats=None,
           tags=None)
    assert worker in workers_by_id(api)


def test_the_agent_calls_workers_unversioned(api):
    worker = unique("vm")
    for name, body in (("workers.register", {"worker": worker, "queues": []}),
                       ("workers.status_report", {"worker": worker, "timestamp": now_ms()}),
                       ("workers.get_runtime_properties", {"worker": worker}),
                       ("workers.unregister", {"worker": worker})):
        reply = api.send(name, body, version=None)
        assert reply.code == (200, 0), reply.meta
    assert api.send("workers.get_runtime_properties", {"worker": worker},
                    version=None).data == {"runtime_properties": []}


# -- statistics --------------------------------------------------------------------------------------------
def simulate(api, with_gpu: bool = False) -> tuple[int, dict]:
    """Two workers (as the reference's test): the first runs a task and reports 4 times a minute apart, the
    second reports the first 2 times. Returns the start (seconds, on a bucket boundary) and their stats."""
    start = (int(time.time()) - 3600 * next(_hours_back)) // MIN_INTERVAL * MIN_INTERVAL
    task_id = running_task(api)
    first, second = unique("stats-a"), unique("stats-b")
    stats = {
        first: {"cpu_usage": [10, 20], "memory_used": 50, **({"gpu_usage": [60, 70]} if with_gpu else {})},
        second: {"cpu_usage": [5], "memory_used": 30, **({"gpu_usage": [40]} if with_gpu else {})},
    }
    for step in range(4):
        for worker in (first, second) if step < 2 else (first,):
            report = {"worker": worker, "timestamp": (start + 60 * step) * 1000, "machine_stats": stats[worker]}
            if worker == first:
                report["task"] = task_id
            api.ok("workers.status_report", **report)
    return start, stats


def by_worker(reply: dict) -> dict:
    return {w["worker"]: {m["metric"]: {s["aggregation"]: s for s in m["stats"]} for m in w["metrics"]}
            for w in reply["workers"]}


def test_get_stats_aggregates_per_interval(api):
    start, stats = simulate(api)
    first, second = stats
    reply = api.ok("workers.get_stats", from_date=start, to_date=start + 10 * MIN_INTERVAL, interval=1,
                   worker_ids=[first, second], items=[
                       {"key": "cpu_usage", "aggregation": "avg"}, {"key": "cpu_usage", "aggregation": "max"},
                       {"key": "cpu_usage", "aggregation": "min"}, {"key": "memory_used"},
                   ])
    series = by_worker(reply)
    assert set(series) == {first, second}
    dates = [(start + MIN_INTERVAL * i) * 1000 for i in range(10)]  # epoch ms; the unfinished last one dropped
    cpu = series[first]["cpu_usage"]
    assert cpu["avg"]["dates"] == dates
    # Reports at 0, 60, 120 and 180 s fall in the 40-second buckets 0, 1, 3 and 4.
    assert cpu["avg"]["values"] == [15.0, 15.0, 0.0, 15.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert cpu["max"]["values"][:5] == [20.0, 20.0, 0.0, 20.0, 20.0]
    assert cpu["min"]["values"][:5] == [10.0, 10.0, 0.0, 10.0, 10.0]
    assert series[first]["memory_used"]["avg"]["values"][:2] == [50.0, 50.0]
    assert series[second]["cpu_usage"]["avg"]["values"][:4] == [5.0, 5.0, 0.0, 0.0]
    assert all(s["resource_series"] == [] for m in series[first].values() for s in m.values())
    # Unknown workers have no series.
    assert api.ok("workers.get_stats", from_date=start, to_date=start + 400, interval=40, worker_ids=["nobody"],
                  items=[{"key": "cpu_usage"}]) == {"workers": []}


def test_get_stats_split_by_resource(api):
    start, stats = simulate(api, with_gpu=True)
    first, second = stats
    reply = api.ok("workers.get_stats", from_date=start, to_date=start + 400, interval=40, split_by_resource=True,
                   worker_ids=[first, second], items=[{"key": "gpu_usage", "aggregation": "avg"},
                                                      {"key": "cpu_usage", "aggregation": "avg"}])
    series = by_worker(reply)
    gpu = series[first]["gpu_usage"]["avg"]
    assert gpu["values"][:2] == [65.0, 65.0]
    assert [(r["name"], r["values"][:3]) for r in gpu["resource_series"]] == [("0", [60.0, 60.0, 0.0]),
                                                                              ("1", [70.0, 70.0, 0.0])]
    assert series[second]["gpu_usage"]["avg"]["resource_series"] == []  # a single GPU
    assert series[first]["cpu_usage"]["avg"]["resource_series"] == []  # only gpu_* keys split


def test_get_activity_report(api):
    start, _ = simulate(api)
    reply = api.ok("workers.get_activity_report", from_date=start, to_date=start + 10 * MIN_INTERVAL, interval=2)
    dates = [(start + MIN_INTERVAL * i) * 1000 for i in range(10)]
    assert reply["total"] == {"dates": dates, "counts": [2, 2, 0, 1, 1, 0, 0, 0, 0, 0]}
    assert reply["active"] == {"dates": dates, "counts": [1, 1, 0, 1, 1, 0, 0, 0, 0, 0]}


def test_get_metric_keys(api):
    _, stats = simulate(api, with_gpu=True)
    categories = api.ok("workers.get_metric_keys", worker_ids=list(stats))["categories"]
    assert sorted(categories, key=lambda c: c["name"]) == [
        {"name": "cpu", "metric_keys": ["cpu_usage"]},
        {"name": "gpu", "metric_keys": ["gpu_usage"]},
        {"name": "memory", "metric_keys": ["memory_used"]},
    ]
    api.error("workers.get_metric_keys", (400, 1005), worker_ids=["nobody"])
    api.error("workers.get_metric_keys", (400, 12), worker_ids="nobody")


def test_statistics_validation(api):
    ok_range = {"from_date": 1_000_000, "to_date": 1_000_400, "interval": 40}
    item = [{"key": "cpu_usage"}]
    api.error("workers.get_stats", (400, 11), **ok_range)
    api.error("workers.get_stats", (400, 11), items=item, to_date=1_000_400, interval=40)
    api.error("workers.get_stats", (400, 12), items=[], **ok_range)
    api.error("workers.get_stats", (400, 12), items=[{"key": "bogus"}], **ok_range)
    api.error("workers.get_stats", (400, 12), items=[{"key": "cpu_usage", "aggregation": "median"}], **ok_range)
    api.error("workers.get_stats", (400, 11), items=[{"aggregation": "avg"}], **ok_range)
    api.error("workers.get_stats", (400, 12), items=item, **{**ok_range, "interval": 0})
    api.error("workers.get_stats", (400, 12), items=item, **{**ok_range, "from_date": "yesterday"})
    api.error("workers.get_stats", (400, 12), items=item, **{**ok_range, "to_date": 10 ** 20})
    api.error("workers.get_stats", (400, 16), items=item, **{**ok_range, "to_date": 1_000_000})
    api.error("workers.get_stats", (400, 16), items=item, from_date=0, to_date=10 ** 9, interval=40)
    api.error("workers.get_activity_report", (400, 11), from_date=1_000_000, to_date=1_000_400)
    api.error("workers.get_activity_report", (400, 12), **{**ok_range, "interval": "one"})
    api.error("workers.get_activity_report", (400, 16), **{**ok_range, "from_date": 1_000_400})


# -- runtime properties ------------------------------------------------------------------------------------
def properties(api, worker: str) -> dict:
    return {p["key"]: p for p in api.ok("workers.get_runtime_properties", worker=worker)["runtime_properties"]}


def test_runtime_properties_set_read_and_delete(api):
    worker = unique("vm")
    assert api.ok("workers.get_runtime_properties", worker=worker) == {"runtime_properties": []}
    assert api.ok("workers.set_runtime_properties", worker=worker, runtime_properties=[
        {"key": "force", "value": "on", "expiry": 86400},
        {"key": "max_num_instances", "value": "2"},  # what the agent sends: no expiry
    ]) == {}
    found = properties(api, worker)
    assert found["force"]["value"] == "on" and 86390 < found["force"]["expiry"] <= 86400
    assert found["max_num_instances"] == {"key": "max_num_instances", "value": "2", "expiry": None}

    api.ok("workers.set_runtime_properties", worker=worker,
           runtime_properties=[{"key": "force", "value": "off", "expiry": 600}])
    assert properties(api, worker)["force"]["value"] == "off"
    # expiry 0 deletes (no value needed).
    api.ok("workers.set_runtime_properties", worker=worker, runtime_properties=[{"key": "force", "expiry": 0}])
    assert set(properties(api, worker)) == {"max_num_instances"}


def test_runtime_properties_expire(api):
    worker = unique("vm")
    api.ok("workers.set_runtime_properties", worker=worker,
           runtime_properties=[{"key": "force", "value": "off", "expiry": 1}])
    assert "force" in properties(api, worker)
    deadline = time.monotonic() + 5
    while "force" in properties(api, worker):
        assert time.monotonic() < deadline, "the property did not expire"
        time.sleep(0.2)


def test_runtime_properties_of_workers_named_with_colons_stay_apart(api):
    base = unique("vm")
    api.ok("workers.set_runtime_properties", worker=base, runtime_properties=[{"key": "0:force", "value": "a"}])
    api.ok("workers.set_runtime_properties", worker=f"{base}:0", runtime_properties=[{"key": "force", "value": "off"}])
    assert {k: p["value"] for k, p in properties(api, base).items()} == {"0:force": "a"}
    assert {k: p["value"] for k, p in properties(api, f"{base}:0").items()} == {"force": "off"}


def test_runtime_properties_validation(api):
    api.error("workers.set_runtime_properties", (400, 11), worker="w")
    api.error("workers.set_runtime_properties", (400, 11), runtime_properties=[])
    api.error("workers.set_runtime_properties", (400, 11), worker="w", runtime_properties=[{"key": "force"}])
    api.error("workers.set_runtime_properties", (400, 11), worker="w", runtime_properties=[{"value": "on"}])
    api.error("workers.set_runtime_properties", (400, 12), worker="w", runtime_properties={"key": "force"})
    api.error("workers.set_runtime_properties", (400, 12), worker="w",
              runtime_properties=[{"key": "force", "value": "on", "expiry": -1}])
    api.error("workers.set_runtime_properties", (400, 12), worker="w",
              runtime_properties=[{"key": "force", "value": "on", "expiry": "1h"}])
    api.error("workers.set_runtime_properties", (400, 12), worker="w",
              runtime_properties=[{"key": "force", "value": "on", "expiry": 10**12}])
    api.error("workers.set_runtime_properties", (400, 12), worker="w", runtime_properties=[{"key": 5, "value": "on"}])
    api.error("workers.set_runtime_properties", (400, 12), worker="w", runtime_properties=[{"key": "force", "value": 1}])
    api.error("workers.get_runtime_properties", (400, 11))
    api.error("workers.get_runtime_properties", (400, 12), worker=7)
    # A refused request writes nothing, even its valid properties.
    worker = unique("vm")
    api.error("workers.set_runtime_properties", (400, 11), worker=worker,
              runtime_properties=[{"key": "a", "value": "1"}, {"key": "b"}])
    assert properties(api, worker) == {}


# -- tasks.enqueue verify_watched_queue --------------------------------------------------------------------
def test_enqueue_reports_whether_a_live_worker_listens(api):
    queue = create_queue(api, unique("watched"))
    worker = unique("vm")

    def enqueue(**extra) -> dict:
        task_id = api.ok("tasks.create", name=unique("w"), type="training")["id"]
        return api.ok("tasks.enqueue", task=task_id, queue=queue, **extra)

    assert enqueue(verify_watched_queue=True)["queue_watched"] is False
    api.ok("workers.register", worker=worker, queues=[queue])
    assert enqueue(verify_watched_queue=True)["queue_watched"] is True
    assert "queue_watched" not in enqueue()
    many = api.ok("tasks.enqueue_many", ids=[api.ok("tasks.create", name=unique("w"), type="training")["id"]],
                  queue=queue, verify_watched_queue=True)
    assert many["queue_watched"] is True and len(many["succeeded"]) == 1
    api.ok("workers.unregister", worker=worker)
    assert enqueue(verify_watched_queue=True)["queue_watched"] is False


# -- authentication ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_requires_a_token(anon, endpoint):
    reply = anon.send(endpoint, {"worker": "w", "timestamp": 1})
    assert reply.code == (401, 20) and reply.data == {}


def test_an_unknown_force_value_is_refused_and_nothing_is_written(api):
    worker = unique("force-worker")
    reply = api.error("workers.set_runtime_properties", (400, 12), worker=worker, runtime_properties=[
        {"key": "note", "value": "kept?"}, {"key": "force", "value": "maybe"}])
    assert "'maybe'" in reply.meta["result_msg"]
    assert api.ok("workers.get_runtime_properties", worker=worker) == {"runtime_properties": []}
    api.ok("workers.set_runtime_properties", worker=worker, runtime_properties=[{"key": "force", "value": "ON"}])
    api.ok("workers.set_runtime_properties", worker=worker, runtime_properties=[{"key": "force", "value": "",
                                                                                  "expiry": 0}])  # a deletion
    assert api.ok("workers.get_runtime_properties", worker=worker) == {"runtime_properties": []}


def test_get_all_shows_the_schedule_state_the_claim_gate_gives(api):
    """``schedule_state``: the agent publishes ``schedule`` (active/idle by its working hours); the server
    combines it with the ``force`` property and the queues' ``force_workers`` tags, as claims are gated."""
    first, second = create_queue(api, unique("sq")), create_queue(api, unique("sq"))
    worker = unique("sched-worker")
    api.ok("workers.register", worker=worker, queues=[first, second])

    def state() -> str:
        return workers_by_id(api)[worker]["schedule_state"]

    def prop(key: str, value: str | None) -> None:
        entry = {"key": key, "value": value} if value is not None else {"key": key, "expiry": 0}
        api.ok("workers.set_runtime_properties", worker=worker, runtime_properties=[entry])

    assert state() == "active"                   # no working hours published: always on
    prop("schedule", "idle")
    assert state() == "idle_by_schedule"
    prop("force", "on")
    assert state() == "forced_on"
    prop("force", "off")
    assert state() == "forced_off"
    api.ok("queues.update", queue=first, tags=["force_workers:on"])
    assert state() == "forced_on"                # a queue tag wins over the property
    prop("force", None)
    prop("schedule", "active")
    assert state() == "active"
    api.ok("queues.update", queue=first, tags=["force_workers:off"])
    api.ok("queues.update", queue=second, tags=["force_workers:off"])
    assert state() == "forced_off"
