"""What one worker process measured for one benchmark, before it becomes metrics."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Measurement", "Tally"]

_MAX_ERROR_SAMPLES = 5
_MAX_ERROR_CHARS = 200


@dataclass
class Tally:
    """Counts of measured calls; failed calls are counted here, never dropped."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    error_samples: list[str] = field(default_factory=list)
    #: failed calls by kind (``http_429``, ``connection``, ``timeout``, ...), where the caller names one
    kinds: dict[str, int] = field(default_factory=dict)

    def error(self, message: str, *, timeout: bool = False, kind: str | None = None) -> None:
        if timeout:
            self.timeouts += 1
        else:
            self.errors += 1
        if kind is not None:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        message = message[:_MAX_ERROR_CHARS]
        if len(self.error_samples) < _MAX_ERROR_SAMPLES and message not in self.error_samples:
            self.error_samples.append(message)

    def merge(self, other: Tally) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.timeouts += other.timeouts
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count
        for message in other.error_samples:
            if len(self.error_samples) < _MAX_ERROR_SAMPLES and message not in self.error_samples:
                self.error_samples.append(message)


@dataclass
class Measurement:
    """Latencies of the successful calls (ns), the tally, the measured wall time, and when
    each successful call completed (``now_ns`` times, from which throughput is sliced)."""

    latencies_ns: array  # type: ignore[type-arg]
    tally: Tally
    items: int  # items processed by successful calls
    wall_ns: int
    completions_ns: array  # type: ignore[type-arg]  # now_ns() at each successful call's end
    start_ns: int  # now_ns() when the measured interval began

    def completion_offsets_ns(self) -> Any:
        """The successful calls' completion times in ns from the measured start, sorted
        (a numpy int64 array): threads and concurrent requests finish out of order."""
        import numpy as np

        return np.sort(np.frombuffer(self.completions_ns, dtype=np.int64)) - self.start_ns
