"""The GPUs this process can see, read through NVML (the ``pynvml`` module of nvidia-ml-py).

No NVML library, no driver or no device is the normal case on a CPU runner:
``open_gpus`` then returns ``None`` and the record says ``gpu: none``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

__all__ = ["GpuSample", "Gpus", "open_gpus"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class GpuSample:
    memory_used_mb: float  # summed over the visible devices
    utilization_pct: float  # mean over the visible devices
    power_w: float  # summed over the visible devices


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _visible(pynvml: Any, handles: list[Any]) -> list[Any]:
    # NVML ignores CUDA_VISIBLE_DEVICES; honour it so a job pinned to one GPU of a
    # shared machine measures that GPU only. Entries are indices or UUIDs.
    spec = os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        return handles
    chosen = []
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        if entry.isdigit():
            if int(entry) < len(handles):
                chosen.append(handles[int(entry)])
            continue
        for handle in handles:
            if _text(pynvml.nvmlDeviceGetUUID(handle)).startswith(entry):
                chosen.append(handle)
    return chosen


class Gpus:
    """Handles to the visible GPUs; every reading is summed or averaged over them."""

    def __init__(self, pynvml: Any, handles: list[Any]) -> None:
        self._nvml = pynvml
        self._handles = handles

    def describe(self) -> dict[str, Any]:
        nvml = self._nvml
        try:
            raw = nvml.nvmlSystemGetCudaDriverVersion()
            cuda: str | None = f"{raw // 1000}.{raw % 1000 // 10}"
        except nvml.NVMLError:
            cuda = None
        models = sorted({_text(nvml.nvmlDeviceGetName(h)) for h in self._handles})
        total = sum(nvml.nvmlDeviceGetMemoryInfo(h).total for h in self._handles)
        return {
            "model": " + ".join(models),
            "count": len(self._handles),
            "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
            "cuda_version": cuda,
            "memory_total_mb": total / _MB,
        }

    def sample(self) -> GpuSample:
        nvml = self._nvml
        memory = sum(nvml.nvmlDeviceGetMemoryInfo(h).used for h in self._handles)
        utilization = [nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self._handles]
        power_mw = 0
        for handle in self._handles:
            try:
                power_mw += nvml.nvmlDeviceGetPowerUsage(handle)
            except nvml.NVMLError:  # not supported on some boards
                pass
        return GpuSample(
            memory_used_mb=memory / _MB,
            utilization_pct=sum(utilization) / len(utilization),
            power_w=power_mw / 1000.0,
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
        pynvml.nvmlShutdown()
        return None
    return Gpus(pynvml, handles)
