"""A background thread that samples the worker's memory and the GPUs while it measures.

Peak RSS counts the worker and its child processes (a target may start a tokenizer pool
or a server); the kernel's own high-water mark of the worker, reset on entry, is folded
in at the end, so a spike between two samples is not missed for the worker itself.
Resetting the mark is process-wide: do not nest two samplers.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from dataclasses import dataclass
from typing import Any

from benchtrail.bench.gpu import Gpus

__all__ = ["Sampler", "Samples"]

_MB = 1024 * 1024
_CHILDREN_EVERY = 10  # re-list the child processes every 10th sample only


@dataclass(frozen=True)
class Samples:
    count: int
    duration_s: float
    peak_rss_mb: float
    gpu_peak_memory_mb: float | None = None
    gpu_utilization_pct: float | None = None
    gpu_power_w: float | None = None
    gpu_energy_j: float | None = None


def _child_pids(pid: int) -> list[int] | None:
    """The pids of ``pid``'s descendants, from the kernel's per-thread ``children`` files
    (tens of µs, where psutil scans every process of the machine: milliseconds with the
    GIL held, which would show in the measured calls' tail); ``None`` off Linux."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            if parent == pid:
                return None
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", encoding="ascii") as handle:
                    kids = [int(p) for p in handle.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            pending.extend(kids)
    return found


def _reset_own_peak_rss() -> None:
    """Set the kernel's high-water mark back to the current RSS (Linux 4.0 and later), so
    the peak covers the measured phase and not what came before it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass


def _own_peak_rss_bytes() -> int | None:
    """This process's own peak RSS as the kernel saw it, or ``None``.

    On Linux this is ``VmHWM`` of the process's address space, not ``ru_maxrss``: exec
    copies the old address space's high-water mark into ``ru_maxrss``, so a worker
    started (fork or vfork, then exec) by a runner holding 2 GB would report 2 GB.
    """
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return None
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
        self._util_count = 0
        self._power_sum = 0.0
        self._power_count = 0
        self._count = 0
        self._energy_start: float | None = None
        self.result: Samples | None = None

    def __enter__(self) -> Sampler:
        import time

        self._started = time.monotonic()
        _reset_own_peak_rss()
        if self._gpus is not None:
            self._energy_start = self._gpus.energy_j()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        import time

        self._stop.set()
        self._thread.join()
        # List the children again whatever the count: one started since the last
        # listing (a server or a pool made by the measured code) is still counted.
        self._sample(list_children=True)
        duration = time.monotonic() - self._started
        peak_rss = max(self._peak_rss, _own_peak_rss_bytes() or 0)
        gpu: dict[str, float | None] = {}
        if self._gpus is not None:
            power = self._power_sum / self._power_count if self._power_count else None
            energy = None
            end = self._gpus.energy_j()
            if end is not None and self._energy_start is not None:
                energy = end - self._energy_start
            elif power is not None:  # no energy counters: mean power x duration
                energy = power * duration
            gpu = {
                "gpu_peak_memory_mb": self._gpu_peak_mb,
                "gpu_utilization_pct": self._util_sum / self._util_count if self._util_count else None,
                "gpu_power_w": power,
                "gpu_energy_j": energy,
            }
        self.result = Samples(self._count, duration, peak_rss / _MB, **gpu)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _list_children(self) -> list[Any]:
        import psutil

        pids = _child_pids(self._process.pid)
        if pids is None:
            try:
                return list(self._process.children(recursive=True))
            except psutil.Error:
                return []
        known = {child.pid: child for child in self._children}
        children = []
        for pid in pids:
            child = known.get(pid)
            if child is None:
                try:
                    child = psutil.Process(pid)
                except psutil.Error:
                    continue
            children.append(child)
        return children

    def _sample(self, list_children: bool = False) -> None:
        import psutil

        if list_children or self._count % _CHILDREN_EVERY == 0:
            self._children = self._list_children()
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
            if reading.utilization_pct is not None:
                self._util_sum += reading.utilization_pct
                self._util_count += 1
            if reading.power_w is not None:
                self._power_sum += reading.power_w
                self._power_count += 1
        self._count += 1
