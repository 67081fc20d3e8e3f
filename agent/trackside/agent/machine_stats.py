"""One sample of the machine's load for ``workers.status_report``, under the key names the API stores.

    stats = MachineStats(gpu_indices=[0, 1])
    stats.sample()   # {"cpu_usage": [12.5, 3.0], "memory_used": 2048.0, ..., "gpu_usage": [97.0, 0.0]}

Rates (disk and network, MB/s) and CPU usage are averages since the previous sample, so sampling once per
report interval reports the whole interval rather than an instant. GPUs come from NVML (``nvidia-ml-py``);
without a driver there are simply no ``gpu_*`` keys (one debug line, no errors). A GPU that starts failing
is dropped after three failed readings, so a broken driver costs one warning, not one per report.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)
MB = 1024 * 1024
GPU_FAILURES_ALLOWED = 3


class MachineStats:
    def __init__(self, gpu_indices: list[int] | None = None, home: str | Path | None = None):
        """``gpu_indices``: the NVML indices to report (None: every GPU; empty: none)."""
        self.home = str(home or Path.home())
        self._counters = self._read_counters()
        psutil.cpu_percent(percpu=True)  # the first call only starts the measurement
        self._gpus = _NvmlGpus.open(gpu_indices) if gpu_indices != [] else None

    def sample(self) -> dict:
        stats: dict = {"cpu_usage": [float(v) for v in psutil.cpu_percent(percpu=True)]}
        memory = psutil.virtual_memory()
        stats["memory_used"] = memory.used / MB
        stats["memory_free"] = memory.available / MB
        try:
            stats["disk_free_home"] = 100.0 - psutil.disk_usage(self.home).percent
        except OSError:
            pass
        stats.update(self._rates())
        if self._gpus is not None:
            gpu_stats = self._gpus.sample()
            if gpu_stats is None:
                self._gpus = None
            else:
                stats.update(gpu_stats)
        return stats

    def close(self) -> None:
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None

    @staticmethod
    def _read_counters() -> tuple[float, dict]:
        counters = {}
        disk = psutil.disk_io_counters()
        if disk is not None:
            counters["disk_read"], counters["disk_write"] = disk.read_bytes, disk.write_bytes
        net = psutil.net_io_counters()
        if net is not None:
            counters["network_rx"], counters["network_tx"] = net.bytes_recv, net.bytes_sent
        return time.monotonic(), counters

    def _rates(self) -> dict:
        (before, old), (now, new) = self._counters, self._read_counters()
        self._counters = (now, new)
        elapsed = max(now - before, 1e-3)
        # A counter that went backwards (interface reset, counter wrap) reads as no traffic, not negative.
        return {key: max(0, new[key] - old[key]) / MB / elapsed for key in new if key in old}


class _NvmlGpus:
    """The selected GPUs through NVML; ``open`` returns None when there is no usable driver."""

    def __init__(self, pynvml, handles: list):
        self.nvml, self.handles, self.failures = pynvml, handles, 0

    @classmethod
    def open(cls, indices: list[int] | None) -> "_NvmlGpus | None":
        try:
            import pynvml
            pynvml.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - no driver, no library: a CPU machine
            log.debug("GPU statistics off: NVML unavailable (%s)", exc)
            return None
        try:
            count = pynvml.nvmlDeviceGetCount()
            wanted = range(count) if indices is None else [i for i in indices if 0 <= i < count]
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in wanted]
        except Exception as exc:  # noqa: BLE001
            log.warning("GPU statistics off: NVML could not list devices (%s)", exc)
            pynvml.nvmlShutdown()
            return None
        if not handles:
            pynvml.nvmlShutdown()
            return None
        return cls(pynvml, handles)

    def sample(self) -> dict | None:
        """The GPU keys; None once NVML has failed too often (the caller stops asking)."""
        nvml = self.nvml
        try:
            usage, used, free, temperature = [], [], [], []
            for handle in self.handles:
                usage.append(float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                used.append(memory.used / MB)
                free.append(memory.free / MB)
                temperature.append(float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)))
        except Exception as exc:  # noqa: BLE001
            self.failures += 1
            if self.failures >= GPU_FAILURES_ALLOWED:
                log.warning("GPU statistics off after %d failed readings: %s", self.failures, exc)
                self.close()
                return None
            return {}
        self.failures = 0
        return {"gpu_usage": usage, "gpu_memory_used": used, "gpu_memory_free": free, "gpu_temperature": temperature}

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
