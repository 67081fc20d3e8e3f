"""Machine statistics for status reports: the API's key names, rates since the last sample, GPUs via NVML
(faked here: this machine has no driver, which is itself the first case)."""
from __future__ import annotations

import logging
import sys
import types
from dataclasses import dataclass

import pytest

from trackside.agent.machine_stats import MachineStats

BASE_KEYS = {"cpu_usage", "memory_used", "memory_free", "disk_free_home", "disk_read", "disk_write",
             "network_rx", "network_tx"}


def test_a_sample_has_the_keys_the_api_stores_and_no_gpu_keys_without_nvml(caplog, tmp_path):
    caplog.set_level(logging.INFO)
    stats = MachineStats(None, home=tmp_path)
    (tmp_path / "written").write_bytes(b"x" * 1_000_000)
    first, second = stats.sample(), stats.sample()
    for sample in (first, second):
        assert set(sample) == BASE_KEYS
        assert isinstance(sample["cpu_usage"], list) and all(0 <= v <= 100 for v in sample["cpu_usage"])
        assert sample["memory_used"] > 0 and sample["memory_free"] > 0  # MB
        assert 0 <= sample["disk_free_home"] <= 100
        assert all(sample[k] >= 0 for k in ("disk_read", "disk_write", "network_rx", "network_tx"))
    assert not caplog.records  # no NVML is normal: one debug line at most
    stats.close()


@dataclass
class _Memory:
    used: int
    free: int


class FakeNvml(types.ModuleType):
    """Two GPUs; reading utilisation fails while ``broken``."""
    NVML_TEMPERATURE_GPU = 0

    def __init__(self):
        super().__init__("pynvml")
        self.broken, self.shut_down = False, False

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shut_down = True

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return index

    def nvmlDeviceGetUtilizationRates(self, handle):
        if self.broken:
            raise RuntimeError("GPU is lost")
        return types.SimpleNamespace(gpu=50 + handle)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return _Memory(used=(handle + 1) * 1024 * 1024 * 1024, free=2 * 1024 * 1024 * 1024)

    def nvmlDeviceGetTemperature(self, handle, _kind):
        return 60 + handle


@pytest.fixture
def nvml(monkeypatch) -> FakeNvml:
    fake = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return fake


def test_the_selected_gpus_are_reported_per_device(nvml):
    sample = MachineStats([1]).sample()
    assert sample["gpu_usage"] == [51.0] and sample["gpu_temperature"] == [61.0]
    assert sample["gpu_memory_used"] == [2048.0] and sample["gpu_memory_free"] == [2048.0]
    every = MachineStats(None).sample()
    assert every["gpu_usage"] == [50.0, 51.0]
    assert "gpu_usage" not in MachineStats([]).sample()  # --cpu-only


def test_a_failing_gpu_costs_three_samples_and_one_warning_then_only_the_gpu_keys_go(nvml, caplog):
    stats = MachineStats(None)
    nvml.broken = True
    caplog.set_level(logging.WARNING)
    samples = [stats.sample() for _ in range(5)]
    assert all(BASE_KEYS <= set(s) and "gpu_usage" not in s for s in samples)
    assert len(caplog.records) == 1 and "GPU statistics off" in caplog.records[0].getMessage()
    assert nvml.shut_down
