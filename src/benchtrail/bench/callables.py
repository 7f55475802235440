"""Drive a Python callable: a closed loop of calls, each timed with the monotonic ns timer.

The timed region is only the call itself: two timer reads around ``fn(*args)``, with
the arguments prepared before the loop, so a no-op target reports little more than the
timer's own overhead. The second read is also the call's completion time, kept for the
throughput (``metrics.robust_rate``).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from benchtrail.bench.baton import Baton
from benchtrail.bench.clock import now_ns
from benchtrail.bench.measurement import Measurement, Tally

__all__ = ["measure_callable"]


def _loop(
    fn: Callable[..., Any],
    argsets: Sequence[tuple[Any, ...]],
    count: int | None,
    deadline_ns: int | None,
    offset: int,
    baton: Baton | None = None,
) -> tuple[array, array, Tally, int]:  # type: ignore[type-arg]
    """Call ``fn`` ``count`` times, or until ``deadline_ns``; return the successful calls'
    latencies and completion times, the tally, and the ns spent waiting for ``baton``
    (taken out of the completion times and of the deadline)."""
    read = now_ns
    size = len(argsets)
    tally = Tally()
    paused = 0
    if count is not None:
        latencies = array("q", bytes(8 * count))
        ends = array("q", bytes(8 * count))
        done = 0
        for i in range(count):
            if baton is not None and read() >= baton.block_end_ns:
                paused += baton.take()
            args = argsets[(offset + i) % size]
            t0 = read()
            try:
                fn(*args)
                t1 = read()
            except Exception as exc:  # the target's failure is a result, counted
                tally.error(f"{type(exc).__name__}: {exc}")
                continue
            latencies[done] = t1 - t0
            ends[done] = t1 - paused
            done += 1
        del latencies[done:]
        del ends[done:]
        tally.calls = count
        return latencies, ends, tally, paused
    assert deadline_ns is not None
    latencies = array("q")
    ends = array("q")
    append, append_end = latencies.append, ends.append
    i = offset
    calls = 0
    t1 = read()
    while t1 < deadline_ns + paused:
        if baton is not None and t1 >= baton.block_end_ns:
            paused += baton.take()
        args = argsets[i % size]
        i += 1
        calls += 1
        t0 = read()
        try:
            fn(*args)
            t1 = read()
        except Exception as exc:
            t1 = read()
            tally.error(f"{type(exc).__name__}: {exc}")
            continue
        append(t1 - t0)
        append_end(t1 - paused)
    tally.calls = calls
    return latencies, ends, tally, paused


def measure_callable(
    fn: Callable[..., Any],
    argsets: Sequence[tuple[Any, ...]],
    *,
    items_per_call: int,
    iterations: int | None,
    duration_s: float | None,
    concurrency: int = 1,
    baton: Baton | None = None,
) -> Measurement:
    """Measure ``fn(*args)`` over ``argsets`` (cycled) with ``concurrency`` closed-loop
    threads, for ``iterations`` calls in all or for ``duration_s`` seconds; with one
    thread, in turns with another worker when given its ``baton`` (``bench.baton``). What a
    thread's calls let through (``SystemExit``: ``Exception`` is counted) is raised here."""
    if concurrency == 1:
        start = now_ns()
        deadline = None if duration_s is None else start + int(duration_s * 1e9)
        latencies, ends, tally, paused = _loop(fn, argsets, iterations, deadline, 0, baton)
        wall = now_ns() - start - paused
        return Measurement(latencies, tally, len(latencies) * items_per_call, wall, ends, start)

    results: list[tuple[array, array, Tally, int]] = [None] * concurrency  # type: ignore[list-item]
    barrier = threading.Barrier(concurrency + 1)
    deadline_box: list[int | None] = [None]
    escaped: list[BaseException] = []

    def worker(index: int) -> None:
        count = None
        if iterations is not None:
            count = iterations // concurrency + (1 if index < iterations % concurrency else 0)
        barrier.wait()
        try:
            results[index] = _loop(fn, argsets, count, deadline_box[0], index)
        except BaseException as exc:  # a thread would drop it (SystemExit) or only print it
            escaped.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start = now_ns()
    if duration_s is not None:
        deadline_box[0] = start + int(duration_s * 1e9)
    barrier.wait()
    for thread in threads:
        thread.join()
    if escaped:
        raise escaped[0]
    wall = now_ns() - start
    latencies, ends = array("q"), array("q")
    tally = Tally()
    for part, part_ends, part_tally, _ in results:
        latencies.extend(part)
        ends.extend(part_ends)
        tally.merge(part_tally)
    return Measurement(latencies, tally, len(latencies) * items_per_call, wall, ends, start)
