"""Dynamic GPUs: queue specs and the pool the daemon allocates from (no GPU needed: the pool is the
``--gpus`` list)."""
from __future__ import annotations

import threading

import pytest

from trackside.agent.gpu_allocation import GpuAllocationError, GpuPool, QueueGpus, daemon_tag, parse_queue_specs, \
    task_worker_id, visible_devices_env
from trackside.agent.task_workers import TaskWorker, TaskWorkerReports, gpu_share, service_worker_id


def test_the_documented_example_parses_in_priority_order():
    assert parse_queue_specs(["quad=4", "dual=2", "opportunistic=1-4"], 8) == [
        QueueGpus("quad", 4, 4), QueueGpus("dual", 2, 2), QueueGpus("opportunistic", 1, 4)]
    assert parse_queue_specs(["a=b=2"], 2) == [QueueGpus("a=b", 2, 2)]        # the last '=' splits
    assert parse_queue_specs(["wide=1-16"], 4) == [QueueGpus("wide", 1, 4)]   # a max above the pool: all of it


@pytest.mark.parametrize("tokens,gpus,complaint", [
    (["quad"], 8, "<name>=<GPUs>"),
    (["half=0.5"], 8, "fractions are not supported"),
    (["none=0"], 8, "at least one GPU"),
    (["odd=4-2"], 8, "above the maximum"),
    (["quad=4"], 2, "needs 4 GPUs but --gpus gives this agent 2"),
    ([], 8, "needs --queue"),
])
def test_bad_queue_specs_are_refused_naming_the_queue(tokens, gpus, complaint):
    with pytest.raises(GpuAllocationError, match=complaint):
        parse_queue_specs(tokens, gpus)


def test_fixed_counts_take_exactly_that_many_and_give_them_back():
    pool = GpuPool(["0", "1", "2", "3"])
    first = pool.allocate(2, 2)
    second = pool.allocate(2, 2)
    assert first == ("0", "1") and second == ("2", "3") and pool.free == []
    assert pool.allocate(1, 1) is None and not pool.fits(1)
    pool.release(first)
    assert pool.free == ["0", "1"] and pool.fits(2) and not pool.fits(3)
    pool.release(first)                       # twice is harmless
    pool.release(("7",))                      # not ours: ignored
    assert pool.free == ["0", "1"]


def test_min_max_takes_what_is_free_up_to_the_max():
    pool = GpuPool([str(i) for i in range(8)])
    quad = pool.allocate(4, 4)
    assert pool.allocate(1, 4) == ("4", "5", "6", "7")       # four free: takes the max
    pool.release(quad)
    pool.allocate(3, 3)
    assert pool.allocate(1, 4) == ("3",)                      # one free: takes one
    assert pool.allocate(1, 4) is None                        # none free: waits


def test_released_gpus_keep_the_pool_order():
    pool = GpuPool(["0", "1", "2", "3"])
    a, b = pool.allocate(2, 2), pool.allocate(2, 2)
    pool.release(b)
    pool.release(a)
    assert pool.free == ["0", "1", "2", "3"]


def test_concurrent_allocations_never_share_a_gpu():
    pool = GpuPool([str(i) for i in range(8)])
    taken: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def worker():
        for _ in range(200):
            gpus = pool.allocate(1, 2)
            if gpus:
                with lock:
                    held = {g for t in taken for g in t}
                    assert not held & set(gpus)
                    taken.append(gpus)
                with lock:
                    taken.remove(gpus)
                pool.release(gpus)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool.free == [str(i) for i in range(8)]


def test_an_empty_pool_is_refused_and_the_env_names_the_devices():
    with pytest.raises(GpuAllocationError, match="--gpus"):
        GpuPool([])
    assert visible_devices_env(("2", "3")) == {"CUDA_VISIBLE_DEVICES": "2,3", "NVIDIA_VISIBLE_DEVICES": "2,3"}


# -- what the daemon claims from, and the workers its tasks report as -------------------------------------
def _daemon(pool: GpuPool, needs: dict[str, QueueGpus]):
    """A Daemon wired as ``--dynamic-gpus`` wires it (no server: only its claim filter is used)."""
    pytest.importorskip("pyhocon")  # not on a bare GPU machine running this file with --noconftest
    pytest.importorskip("redis")
    from trackside.agent.daemon.children import ChildSpec
    from trackside.agent.daemon.queues import Queue
    from trackside.agent.daemon.service import Daemon, DaemonSettings

    queues = [Queue(queue_id, queue_id) for queue_id in needs]
    settings = DaemonSettings("box:dgpu0,1,2,3:0a1b2c3d", queues, None, gpu_pool=pool, queue_gpus=needs)
    return Daemon(lambda *_: {}, settings, ChildSpec("w", None, {}), lambda daemon: None)


@pytest.mark.parametrize("taken,offered", [
    (0, ["quad", "dual", "opportunistic"]),   # priority order kept
    (1, ["dual", "opportunistic"]),
    (2, ["dual", "opportunistic"]),
    (3, ["opportunistic"]),
    (4, []),                                  # nothing fits: no claim at all
])
def test_the_subscriber_is_offered_only_the_queues_whose_minimum_is_free(taken, offered):
    pool = GpuPool(["0", "1", "2", "3"])
    needs = {"quad": QueueGpus("quad", 4, 4), "dual": QueueGpus("dual", 2, 2),
             "opportunistic": QueueGpus("opportunistic", 1, 4)}
    daemon = _daemon(pool, needs)
    if taken:
        pool.allocate(taken, taken)
    assert daemon.subscriber.queue_filter(["quad", "dual", "opportunistic"]) == offered


def test_tasks_report_as_workers_named_after_their_gpus():
    assert daemon_tag(["0", "1", "2", "3"]) == "dgpu0,1,2,3"
    assert task_worker_id("box:dgpu0,1,2,3:0a1b2c3d", ("2", "3")) == "box:gpu2,3:0a1b2c3d"
    assert task_worker_id("box:dgpu0,1", ("1",)) == "box:gpu1"           # clearml-agent's own form
    assert task_worker_id("my-worker", ("0",)) == "my-worker:gpu0"       # a configured id without a GPU part
    pool = GpuPool(["1", "3", "GPU-aa11", "5"])
    assert pool.stats_slots(("3", "5")) == (1, 2) and pool.stats_slots(("GPU-aa11",)) == ()


def test_a_task_worker_reports_its_own_gpus_and_is_unregistered_when_its_task_ends():
    calls: list[tuple[str, dict]] = []
    running = [TaskWorker("box:gpu0,1:x", "t1", "dual", (0, 1)), TaskWorker("box:gpu2,3:x", "t2", "dual", (2, 3))]
    reports = TaskWorkerReports(lambda: list(running))
    stats = {"cpu_usage": [5.0], "memory_used": 10.0, "gpu_usage": [10.0, 11.0, 12.0, 13.0],
             "gpu_temperature": [40.0, 41.0, 42.0, 43.0]}

    reports.send(lambda endpoint, data: calls.append((endpoint, data)), stats)
    assert [(e, d["worker"], d["task"], d["queue"]) for e, d in calls] == [
        ("workers.status_report", "box:gpu0,1:x", "t1", "dual"), ("workers.status_report", "box:gpu2,3:x", "t2", "dual")]
    assert calls[1][1]["machine_stats"] == {"cpu_usage": [5.0], "memory_used": 10.0, "gpu_usage": [12.0, 13.0],
                                            "gpu_temperature": [42.0, 43.0]}
    assert calls[1][1]["is_daemon"] is False

    calls.clear()
    running.pop(0)                                    # t1 ended
    reports.send(lambda endpoint, data: calls.append((endpoint, data)), None)
    assert [(e, d["worker"]) for e, d in calls] == [("workers.unregister", "box:gpu0,1:x"),
                                                    ("workers.status_report", "box:gpu2,3:x")]
    assert calls[1][1]["machine_stats"] is None       # no statistics this time: none sent

    calls.clear()
    reports.retire_all(lambda endpoint, data: calls.append((endpoint, data)))
    assert calls == [("workers.unregister", {"worker": "box:gpu2,3:x"})]


def test_a_service_reports_as_its_own_worker_with_the_child_tags_and_no_gpu_lists():
    calls: list[tuple[str, dict]] = []
    worker = service_worker_id("box:cpu:0a1b2c3d", "t9")
    assert worker == "box:cpu:0a1b2c3d:service:t9"
    reports = TaskWorkerReports(lambda: [TaskWorker(worker, "t9", "services", (), ("svc", "nightly"))])
    reports.send(lambda endpoint, data: calls.append((endpoint, data)), {"cpu_usage": [5.0], "gpu_usage": [1.0]})
    [(endpoint, report)] = calls
    assert (endpoint, report["worker"], report["task"], report["tags"]) == (
        "workers.status_report", worker, "t9", ["svc", "nightly"])
    assert report["machine_stats"] == {"cpu_usage": [5.0]}


def test_gpu_share_keeps_the_machine_figures_and_drops_gpu_lists_it_cannot_cut():
    stats = {"cpu_usage": [1.0], "gpu_usage": [1.0, 2.0]}
    assert gpu_share(stats, (1,)) == {"cpu_usage": [1.0], "gpu_usage": [2.0]}
    assert gpu_share(stats, (3,)) == {"cpu_usage": [1.0]}     # the sensors went (NVML lost)
    assert gpu_share(stats, ()) == {"cpu_usage": [1.0]}       # UUID-named GPUs: no per-task figures
    assert gpu_share(None, (0,)) is None
