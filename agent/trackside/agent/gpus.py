"""Which GPUs the agent's tasks may use: ``--gpus 0,1`` / ``0-3`` / ``all``, ``--cpu-only``.

    selection = select_gpus("0,2-3", cpu_only=False)
    selection.env()        # {"CUDA_VISIBLE_DEVICES": "0,2,3", "NVIDIA_VISIBLE_DEVICES": "0,2,3"}
    selection.tag          # "gpu0,2,3", part of the worker id

Without either flag the children inherit the daemon's own ``CUDA_VISIBLE_DEVICES`` (as clearml-agent), and
the tag says what they will see: those devices, every GPU NVML finds, or ``cpu`` when there is none.
Device UUIDs (``GPU-...``, ``MIG-...``) pass through as CUDA accepts them.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Mapping

log = logging.getLogger(__name__)

_UUID = re.compile(r"^(GPU|MIG)-[0-9A-Za-z/-]+$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")


class GpuSpecError(ValueError):
    """A ``--gpus`` value that names no valid device list."""


@dataclass(frozen=True)
class GpuSelection:
    devices: tuple[str, ...] | None   # None: not restricted (all, or whatever the daemon inherited)
    cpu_only: bool = False
    every: bool = False               # "--gpus all": every device, explicitly

    @property
    def tag(self) -> str:
        if self.cpu_only:
            return "cpu"
        if self.devices is not None:
            return "gpu" + ",".join(self.devices)
        found = inherited_devices()
        if found is None:
            found = tuple(str(i) for i in range(detect_gpu_count()))
        return "gpu" + ",".join(found) if found else ("gpuall" if self.every else "cpu")

    def env(self) -> dict[str, str]:
        """Variables to set for the children; an empty dict leaves the inherited ones untouched."""
        if self.cpu_only:
            return {"CUDA_VISIBLE_DEVICES": "", "NVIDIA_VISIBLE_DEVICES": "none"}
        if self.devices is not None:
            listed = ",".join(self.devices)
            return {"CUDA_VISIBLE_DEVICES": listed, "NVIDIA_VISIBLE_DEVICES": listed}
        if self.every:
            return {"NVIDIA_VISIBLE_DEVICES": "all"}
        return {}

    def indices(self) -> list[int] | None:
        """NVML indices of the selected devices (for machine statistics); None: all of them."""
        if self.cpu_only:
            return []
        devices = self.devices if self.devices is not None else inherited_devices()
        if devices is None:
            return None
        return [int(d) for d in devices if d.isdigit()]


def parse_gpus(spec: str) -> tuple[str, ...] | None:
    """``"0,1"``, ``"0-3"``, ``"0,2-3"``, ``"all"`` (-> None), or device UUIDs; order kept, duplicates dropped."""
    text = (spec or "").strip()
    if not text:
        raise GpuSpecError("--gpus: empty value (use e.g. 0 / 0,1 / 0-3 / all)")
    if text.lower() == "all":
        return None
    devices: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if part.isdigit():
            devices.append(str(int(part)))
        elif match := _RANGE.match(part):
            first, last = int(match[1]), int(match[2])
            if first > last:
                raise GpuSpecError(f"--gpus: range {part!r} goes backwards")
            devices.extend(str(i) for i in range(first, last + 1))
        elif _UUID.match(part):
            devices.append(part)
        else:
            raise GpuSpecError(f"--gpus: {part!r} is not a GPU index, range (0-3), UUID or 'all'")
    return tuple(dict.fromkeys(devices))


def select_gpus(spec: str | None, cpu_only: bool = False) -> GpuSelection:
    if cpu_only:
        if spec:
            raise GpuSpecError("--gpus and --cpu-only exclude each other")
        return GpuSelection(None, cpu_only=True)
    if spec is None:
        return GpuSelection(None)
    devices = parse_gpus(spec)
    return GpuSelection(devices, every=devices is None)


def inherited_devices(environ: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """The daemon's own ``CUDA_VISIBLE_DEVICES`` as a device list (None when unset)."""
    value = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return tuple(d.strip() for d in value.split(",") if d.strip())


def detect_gpu_count() -> int:
    """GPUs NVML can see; 0 without a driver (no error: CPU machines are normal)."""
    try:
        import pynvml
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound and friends: no GPUs here
        log.debug("NVML unavailable: %s", exc)
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    except Exception:  # noqa: BLE001
        return 0
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
