"""Dynamic GPUs: queue specs and the pool the daemon allocates from (no GPU needed: the pool is the
``--gpus`` list)."""
from __future__ import annotations

import threading

import pytest

from trackside.agent.gpu_allocation import GpuAllocationError, GpuPool, QueueGpus, parse_queue_specs, \
    visible_devices_env


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
