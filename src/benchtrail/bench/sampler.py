"""A background thread that samples the worker's memory and the GPUs while it measures.

Peak RSS counts the worker and its child processes (a target may start a tokenizer pool
or a server); the kernel's own high-water mark of the worker is folded in at the end, so
a spike between two samples is not missed for the worker itself.
"""

from __future__ import annotations

import resource
import sys
import threading
from dataclasses import dataclass
from typing import Any

from benchtrail.bench.gpu import Gpus

__all__ = ["Sampler", "Samples"]

_MB = 1024 * 1024
_CHILDREN_EVERY = 10  # listing children scans /proc: do it every 10th sample only


@dataclass(frozen=True)
class Samples:
    count: int
    duration_s: float
    peak_rss_mb: float
    gpu_peak_memory_mb: float | None = None
    gpu_utilization_pct: float | None = None
    gpu_power_w: float | None = None
    gpu_energy_j: float | None = None


def _own_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class Sampler:
    """Use as a context manager around the measured phase; read ``result`` afterwards."""

    def __init__(self, gpus: Gpus | None = None, interval_s: float = 0.1) -> None:
        import psutil

        self._process = psutil.Process()
        self._gpus = gpus
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="benchtrail-sampler", daemon=True)
        self._children: list[Any] = []
        self._peak_rss = 0
        self._gpu_peak_mb = 0.0
        self._util_sum = 0.0
        self._power_sum = 0.0
        self._count = 0
        self._energy_start: float | None = None
        self.result: Samples | None = None

    def __enter__(self) -> Sampler:
        import time

        self._started = time.monotonic()
        if self._gpus is not None:
            self._energy_start = self._gpus.energy_j()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        import time

        self._stop.set()
        self._thread.join()
        self._sample()
        duration = time.monotonic() - self._started
        peak_rss = max(self._peak_rss, _own_peak_rss_bytes())
        gpu: dict[str, float | None] = {}
        if self._gpus is not None:
            energy = None
            end = self._gpus.energy_j()
            if end is not None and self._energy_start is not None:
                energy = end - self._energy_start
            elif self._count:
                energy = self._power_sum / self._count * duration
            gpu = {
                "gpu_peak_memory_mb": self._gpu_peak_mb,
                "gpu_utilization_pct": self._util_sum / self._count,
                "gpu_power_w": self._power_sum / self._count,
                "gpu_energy_j": energy,
            }
        self.result = Samples(self._count, duration, peak_rss / _MB, **gpu)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        import psutil

        if self._count % _CHILDREN_EVERY == 0:
            try:
                self._children = self._process.children(recursive=True)
            except psutil.Error:
                self._children = []
        rss = self._process.memory_info().rss
        for child in self._children:
            try:
                rss += child.memory_info().rss
            except psutil.Error:
                pass
        self._peak_rss = max(self._peak_rss, rss)
        if self._gpus is not None:
            reading = self._gpus.sample()
            self._gpu_peak_mb = max(self._gpu_peak_mb, reading.memory_used_mb)
            self._util_sum += reading.utilization_pct
            self._power_sum += reading.power_w
        self._count += 1
