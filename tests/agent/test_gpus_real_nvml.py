"""GPU discovery, statistics and dynamic allocation against a real driver (NVML, and CUDA through PyTorch
where installed). Skipped on machines without an NVIDIA driver, which is every CI machine; run by hand on
a GPU machine: ``pytest --noconftest tests/agent/test_gpus_real_nvml.py`` needs only psutil, nvidia-ml-py
and the agent package."""
from __future__ import annotations

import subprocess
import sys

import pytest

from trackside.agent.gpu_allocation import GpuPool, visible_devices_env
from trackside.agent.gpus import detect_gpu_count, select_gpus
from trackside.agent.machine_stats import MachineStats
from trackside.agent.task_workers import gpu_share

GPU_COUNT = detect_gpu_count()
pytestmark = pytest.mark.skipif(GPU_COUNT == 0, reason="no NVIDIA driver (NVML) on this machine")


def test_every_gpu_is_found_and_named_in_the_worker_tag():
    assert select_gpus("all").tag == "gpu" + ",".join(str(i) for i in range(GPU_COUNT))
    assert select_gpus(None).tag.startswith("gpu0")


def test_statistics_report_usage_memory_and_temperature_for_each_selected_gpu():
    stats = MachineStats([0])
    try:
        sample = stats.sample()
    finally:
        stats.close()
    assert len(sample["gpu_usage"]) == len(sample["gpu_memory_used"]) == len(sample["gpu_temperature"]) == 1
    assert 0 <= sample["gpu_usage"][0] <= 100
    assert sample["gpu_memory_used"][0] + sample["gpu_memory_free"][0] > 1000  # MB: a real card's memory
    assert 10 < sample["gpu_temperature"][0] < 110
    everything = MachineStats(None)
    try:
        assert len(everything.sample()["gpu_usage"]) == GPU_COUNT
    finally:
        everything.close()


def test_a_task_worker_reports_the_figures_of_its_own_gpu():
    """What a dynamic-GPU task's worker sends: the daemon's sample cut down to the task's GPUs."""
    pool = GpuPool([str(i) for i in range(GPU_COUNT)])
    stats = MachineStats([int(d) for d in pool.devices])
    try:
        sample = stats.sample()
    finally:
        stats.close()
    last = str(GPU_COUNT - 1)
    share = gpu_share(sample, pool.stats_slots((last,)))
    assert share["gpu_usage"] == [sample["gpu_usage"][-1]] and share["gpu_memory_used"] == [sample["gpu_memory_used"][-1]]
    assert share["cpu_usage"] == sample["cpu_usage"]


def test_a_task_sees_exactly_the_gpus_it_was_allocated():
    torch = pytest.importorskip("torch")
    del torch
    pool = GpuPool([str(i) for i in range(GPU_COUNT)])
    gpus = pool.allocate(1, 1)
    probe = "import torch; print(torch.cuda.device_count())"
    seen = subprocess.run([sys.executable, "-c", probe], env={**_env(), **visible_devices_env(gpus)},
                          capture_output=True, text=True, check=True).stdout.strip()
    assert seen == "1"
    hidden = subprocess.run([sys.executable, "-c", probe], env={**_env(), "CUDA_VISIBLE_DEVICES": ""},
                            capture_output=True, text=True, check=True).stdout.strip()
    assert hidden == "0"
    pool.release(gpus)
    assert pool.free == [str(i) for i in range(GPU_COUNT)]


def _env() -> dict:
    import os
    return {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")}
