"""The GPUs this process can see, read through NVML (the ``pynvml`` module of nvidia-ml-py).

No NVML library, no driver or no device is the normal case on a CPU runner:
``open_gpus`` then returns ``None`` and the record says ``gpu: none``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from benchtrail.results.model import Gpu

__all__ = ["GpuSample", "Gpus", "open_gpus"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class GpuSample:
    memory_used_mb: float  # summed over the visible devices
    utilization_pct: float | None  # mean over the devices that report it; None if none does
    power_w: float | None  # summed over the devices that report it; None if none does


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _visible(pynvml: Any, handles: list[Any]) -> list[Any]:
    # NVML ignores CUDA_VISIBLE_DEVICES; honour it so a job pinned to one GPU of a
    # shared machine measures that GPU only. Entries are indices or UUID prefixes and,
    # as in CUDA, the list ends at the first entry that names no device ("0,2,-1,1"
    # shows devices 0 and 2). A device named twice is counted once.
    spec = os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        return handles
    chosen: list[Any] = []
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        if entry.isdigit():
            matches = [handles[int(entry)]] if int(entry) < len(handles) else []
        else:
            matches = [h for h in handles if _text(pynvml.nvmlDeviceGetUUID(h)).startswith(entry)]
        if not matches:
            break
        chosen.extend(h for h in matches if all(h is not c for c in chosen))
    return chosen


class Gpus:
    """Handles to the visible GPUs; every reading is summed or averaged over them."""

    def __init__(self, pynvml: Any, handles: list[Any]) -> None:
        self._nvml = pynvml
        self._handles = handles

    def describe(self) -> Gpu:
        nvml = self._nvml
        try:
            raw = nvml.nvmlSystemGetCudaDriverVersion()
            cuda: str | None = f"{raw // 1000}.{raw % 1000 // 10}"
        except nvml.NVMLError:
            cuda = None
        models = sorted({_text(nvml.nvmlDeviceGetName(h)) for h in self._handles})
        total = sum(nvml.nvmlDeviceGetMemoryInfo(h).total for h in self._handles)
        return Gpu(model=" + ".join(models), count=len(self._handles),
                   driver_version=_text(nvml.nvmlSystemGetDriverVersion()), cuda_version=cuda,
                   memory_total_mb=total / _MB)

    def sample(self) -> GpuSample:
        nvml = self._nvml
        memory = sum(nvml.nvmlDeviceGetMemoryInfo(h).used for h in self._handles)
        # Utilization and power are "not supported" on some boards (MIG mode, some
        # vGPUs): leave those devices out rather than fail the whole measurement.
        utilization: list[float] = []
        power_mw: list[float] = []
        for handle in self._handles:
            try:
                utilization.append(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except nvml.NVMLError:
                pass
            try:
                power_mw.append(nvml.nvmlDeviceGetPowerUsage(handle))
            except nvml.NVMLError:
                pass
        return GpuSample(
            memory_used_mb=memory / _MB,
            utilization_pct=sum(utilization) / len(utilization) if utilization else None,
            power_w=sum(power_mw) / 1000.0 if power_mw else None,
        )

    def energy_j(self) -> float | None:
        """The devices' energy counters summed, in joules; ``None`` where unsupported."""
        try:
            return sum(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self._handles) / 1000.0
        except self._nvml.NVMLError:
            return None

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError:
            pass


def open_gpus() -> Gpus | None:
    """NVML handles of the visible GPUs, or ``None`` when there are none."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = _visible(pynvml, [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)])
    except pynvml.NVMLError:
        handles = []
    if not handles:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass
        return None
    return Gpus(pynvml, handles)
