"""Dynamic GPUs: ``daemon --dynamic-gpus --gpus 0-7 --queue quad=4 dual=2 opportunistic=1-4``.

Each queue asks for a number of GPUs: ``quad=4`` takes exactly four, ``opportunistic=1-4`` takes every free
GPU up to four but needs at least one. The daemon claims from a queue only when its minimum is free, gives
the task exactly the GPUs it took (CUDA_VISIBLE_DEVICES) and returns them to the pool when the task ends.
Whole GPUs only: the reference's fractional GPUs need its commercial extension.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_SPEC = re.compile(r"^(?P<name>.+)=(?P<min>\d+)(?:-(?P<max>\d+))?$")


class GpuAllocationError(ValueError):
    """A ``--dynamic-gpus`` setting that cannot work; the message names the bad part."""


@dataclass(frozen=True)
class QueueGpus:
    """How many GPUs a task from this queue gets."""
    queue: str        # the name or id as given on the command line
    min: int
    max: int


def parse_queue_specs(tokens: list[str], gpu_count: int) -> list[QueueGpus]:
    """``name=N`` / ``name=MIN-MAX`` for every queue, in priority order."""
    if not tokens:
        raise GpuAllocationError("--dynamic-gpus needs --queue <name>=<number of GPUs> (e.g. dual=2 quad=4)")
    specs = []
    for token in tokens:
        match = _SPEC.match(token.strip())
        if not match:
            raise GpuAllocationError(f"--queue {token!r}: with --dynamic-gpus each queue is <name>=<GPUs> or "
                                     f"<name>=<min>-<max> (e.g. dual=2, opportunistic=1-4); fractions are not supported")
        low = int(match.group("min"))
        high = int(match.group("max")) if match.group("max") else low
        if low < 1:
            raise GpuAllocationError(f"--queue {token!r}: a task needs at least one GPU")
        if high < low:
            raise GpuAllocationError(f"--queue {token!r}: the minimum {low} is above the maximum {high}")
        if low > gpu_count:
            raise GpuAllocationError(f"--queue {token!r}: needs {low} GPUs but --gpus gives this agent {gpu_count}")
        specs.append(QueueGpus(match.group("name"), low, min(high, gpu_count)))
    return specs


class GpuPool:
    """The daemon's GPUs and which are taken; safe to use from the claimer and the child waiters."""

    def __init__(self, devices: list[str]):
        if not devices:
            raise GpuAllocationError("--dynamic-gpus needs the GPUs to share: --gpus 0-3 or --gpus 0,1,2,3")
        self.devices = list(devices)
        self._free = list(devices)
        self._lock = threading.Lock()

    @property
    def free(self) -> list[str]:
        with self._lock:
            return list(self._free)

    def fits(self, need: int) -> bool:
        with self._lock:
            return len(self._free) >= need

    def allocate(self, low: int, high: int) -> tuple[str, ...] | None:
        """At least ``low`` and at most ``high`` free GPUs, the lowest indices first; None if too few."""
        with self._lock:
            if len(self._free) < low:
                return None
            taken = self._free[:high]
            self._free = self._free[high:]
            return tuple(taken)

    def release(self, gpus: tuple[str, ...]) -> None:
        with self._lock:
            returned = [g for g in gpus if g in self.devices and g not in self._free]
            order = {device: i for i, device in enumerate(self.devices)}
            self._free = sorted(self._free + returned, key=order.__getitem__)


    def stats_slots(self, gpus: tuple[str, ...]) -> tuple[int, ...]:
        """Where ``gpus`` are in the daemon's machine statistics, which list the pool's index-named devices in
        order (``MachineStats(GpuSelection.indices())``); UUID-named devices have no place there."""
        indexed = [device for device in self.devices if device.isdigit()]
        return tuple(indexed.index(g) for g in gpus if g in indexed)


def daemon_tag(devices: list[str]) -> str:
    """The GPU part of a dynamic-GPU daemon's worker id: ``dgpu0,1,2,3`` (clearml-agent's ``d`` for dynamic)."""
    return "dgpu" + ",".join(devices)


def task_worker_id(daemon_worker: str, gpus: tuple[str, ...]) -> str:
    """The worker a task on dynamic GPUs reports as: the daemon's id with its GPU part naming the task's GPUs,
    as clearml-agent names them (``box:dgpu0,1,2,3:3f9a2c7e`` -> ``box:gpu2,3:3f9a2c7e``). The GPUs of two
    running tasks never overlap, so neither do their ids. A configured id without a ``dgpu`` part gets
    ``:gpu2,3`` appended."""
    tag = "gpu" + ",".join(gpus)
    parts = daemon_worker.split(":")
    for i, part in enumerate(parts):
        if part.startswith("dgpu"):
            return ":".join(parts[:i] + [tag] + parts[i + 1:])
    return f"{daemon_worker}:{tag}"


def visible_devices_env(gpus: tuple[str, ...]) -> dict[str, str]:
    joined = ",".join(gpus)
    return {"CUDA_VISIBLE_DEVICES": joined, "NVIDIA_VISIBLE_DEVICES": joined}
