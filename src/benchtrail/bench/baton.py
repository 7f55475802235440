"""Two worker processes in lockstep: only the one that holds the baton makes calls.

A confirmation measures the merge base's code and the merge request's beside each other.
Run one after the other, each side gets its own second of a shared runner, and a busy
neighbour that comes and goes within seconds makes the two differ by tens of per cent
(measured: ``tools/perf/bench_noisy_neighbour.py``). In lockstep the two worker processes
live at the same time and take turns in blocks of about ``BLOCK_NS`` of calls, so whatever
loads the machine falls on both sides alike, while only one of them runs at a time.

The protocol, over a pair of pipes per worker (the descriptors named in ``ENV``): the
worker writes ``?`` when it wants the baton (which also hands it back after a block) and
waits for one byte; it writes ``.`` when it is done. Time spent waiting is not measured:
the calls' latencies never include it, and the loop takes it out of the run's wall time
and completion times, so throughput is the same as in a run alone. A relay that is gone
(end of file) lets the worker run on alone.
"""

from __future__ import annotations

import os

from benchtrail.bench.clock import now_ns

__all__ = ["BLOCK_NS", "ENV", "Baton"]

#: how long a worker runs calls before it hands the baton back (at least one call)
BLOCK_NS = 20_000_000
#: ``READ_FD,WRITE_FD`` of a worker's baton pipes
ENV = "BENCHTRAIL_BATON"


class Baton:
    """The worker's side of the lockstep (see the module's note)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read, self._write = read_fd, write_fd
        self._free = False  # the relay is gone: run on alone
        self.block_end_ns = 0

    @classmethod
    def from_env(cls) -> Baton | None:
        """The baton this process was started with, if any (``ENV`` is then removed, so
        that the benchmark's own subprocesses do not see it)."""
        value = os.environ.pop(ENV, "")
        if not value:
            return None
        read_fd, write_fd = (int(part) for part in value.split(","))
        return cls(read_fd, write_fd)

    def take(self) -> int:
        """Hand the baton back and wait until it comes again; the ns spent waiting."""
        if self._free:
            return 0
        started = now_ns()
        try:
            os.write(self._write, b"?")
            if not os.read(self._read, 1):
                self._free = True
        except OSError:
            self._free = True
        resumed = now_ns()
        self.block_end_ns = resumed + BLOCK_NS
        return resumed - started

    def close(self) -> None:
        """Say that this worker is done: the other runs on alone."""
        if not self._free:
            try:
                os.write(self._write, b".")
            except OSError:
                pass
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        self._free = True
