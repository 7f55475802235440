"""measure_callable: counts, failures, duration mode, concurrency, latencies (real callables)."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from typing import Any

import pytest

from benchtrail.bench.callables import measure_callable
from benchtrail.bench.clock import TIMER_NAME, now_ns, timer_info
from benchtrail.bench.metrics import robust_rate


def noop(batch: Any) -> None:
    pass


def spin(ns: int) -> None:
    start = time.perf_counter_ns()
    while time.perf_counter_ns() - start < ns:
        pass


class Recorder:
    """A target that remembers its arguments and calling threads; fails on negative rows."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.threads: list[int] = []

    def __call__(self, row: int) -> int:
        self.args.append(row)
        self.threads.append(threading.get_ident())
        if row < 0:
            raise ValueError(f"negative row {row}")
        return row


def test_iterations_count_every_call() -> None:
    target = Recorder()
    m = measure_callable(target, [(1,), (2,), (3,)], items_per_call=4, iterations=7, duration_s=None)
    assert target.args == [1, 2, 3, 1, 2, 3, 1]  # argsets cycled in order
    assert m.tally.calls == 7
    assert (m.tally.errors, m.tally.timeouts, m.tally.error_samples) == (0, 0, [])
    assert len(m.latencies_ns) == 7
    assert m.items == 7 * 4
    assert m.wall_ns >= sum(m.latencies_ns) > 0


def test_errors_are_counted_not_dropped() -> None:
    target = Recorder()
    m = measure_callable(target, [(1,), (-1,), (2,)], items_per_call=2, iterations=9, duration_s=None)
    assert len(target.args) == 9
    assert m.tally.calls == 9
    assert m.tally.errors == 3
    assert len(m.latencies_ns) == 6  # only successful calls have a latency
    assert m.items == 6 * 2
    assert m.tally.error_samples == ["ValueError: negative row -1"]


def test_every_call_failing_leaves_no_latency() -> None:
    m = measure_callable(Recorder(), [(-5,)], items_per_call=1, iterations=4, duration_s=None)
    assert (m.tally.calls, m.tally.errors, len(m.latencies_ns), m.items) == (4, 4, 0, 0)


def test_duration_mode_runs_until_the_deadline() -> None:
    m = measure_callable(noop, [([0],)], items_per_call=1, iterations=None, duration_s=0.05)
    assert m.tally.calls > 10
    assert m.tally.calls == len(m.latencies_ns)
    assert m.tally.errors == 0
    assert 0.05e9 <= m.wall_ns < 5e9


def test_duration_mode_counts_failures() -> None:
    target = Recorder()
    m = measure_callable(target, [(1,), (-1,)], items_per_call=1, iterations=None, duration_s=0.03)
    assert m.tally.calls == len(target.args) > 0
    assert m.tally.errors == target.args.count(-1)
    assert len(m.latencies_ns) == m.tally.calls - m.tally.errors


@pytest.mark.parametrize(("iterations", "concurrency"), [(10, 3), (7, 7), (2, 4), (101, 4)])
def test_concurrency_splits_iterations_exactly(iterations: int, concurrency: int) -> None:
    target = Recorder()
    m = measure_callable(target, [(1,), (2,)], items_per_call=1, iterations=iterations, duration_s=None,
                         concurrency=concurrency)
    assert m.tally.calls == len(target.args) == len(m.latencies_ns) == m.items == iterations
    per_thread = sorted(Counter(target.threads).values(), reverse=True)
    base, extra = divmod(iterations, concurrency)
    expected = [base + 1] * extra + [base] * (concurrency - extra)
    assert per_thread == [n for n in expected if n]
    assert threading.get_ident() not in target.threads  # the caller's thread only waits


def test_concurrency_counts_failures_from_every_thread() -> None:
    target = Recorder()
    m = measure_callable(target, [(-1,), (1,)], items_per_call=1, iterations=20, duration_s=None, concurrency=2)
    assert m.tally.calls == 20
    assert m.tally.errors == target.args.count(-1) == 10  # each thread starts at its own offset
    assert len(m.latencies_ns) == 10


def test_concurrency_in_duration_mode() -> None:
    target = Recorder()
    m = measure_callable(target, [(1,)], items_per_call=3, iterations=None, duration_s=0.05, concurrency=3)
    assert m.tally.calls == len(target.args) == len(m.latencies_ns) > 0
    assert m.items == 3 * m.tally.calls
    assert m.wall_ns >= 0.05e9


def test_latencies_are_positive_and_enclose_the_call() -> None:
    m = measure_callable(noop, [([0],)], items_per_call=1, iterations=1000, duration_s=None)
    assert min(m.latencies_ns) > 0
    busy = 200_000
    m = measure_callable(spin, [(busy,)], items_per_call=1, iterations=20, duration_s=None)
    assert min(m.latencies_ns) >= busy  # the timed region holds the whole call
    assert statistics.median(m.latencies_ns) < 2 * busy


def test_timer_info_describes_the_clock() -> None:
    info = timer_info(samples=101)
    assert info.name == TIMER_NAME
    assert info.resolution_ns > 0
    assert 0 < info.overhead_ns < 1e6
    assert now_ns() < now_ns()


# --- completion times, for a throughput that one stall cannot move ------------------------


@pytest.mark.parametrize(("duration_s", "concurrency"), [(None, 1), (None, 3), (0.03, 1), (0.03, 3)])
def test_completions_of_the_successful_calls_within_the_wall_time(duration_s: float | None,
                                                                  concurrency: int) -> None:
    m = measure_callable(Recorder(), [(1,), (-1,), (2,)], items_per_call=1, iterations=None if duration_s else 30,
                         duration_s=duration_s, concurrency=concurrency)
    offsets = m.completion_offsets_ns()
    assert len(offsets) == len(m.latencies_ns) == m.tally.calls - m.tally.errors > 0
    assert list(offsets) == sorted(offsets)
    assert 0 < offsets[0] and offsets[-1] <= m.wall_ns


class Stalls:
    """Sleeps ``call_s`` per call, and once, at call ``at``, ``stall_s`` more."""

    def __init__(self, call_s: float, at: int = -1, stall_s: float = 0.0) -> None:
        self.call_s, self.at, self.stall_s, self.calls = call_s, at, stall_s, 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:  # a stall of the whole process: every thread waits it out
            self.calls += 1
            if self.calls == self.at:
                time.sleep(self.stall_s)
        time.sleep(self.call_s)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_one_stall_leaves_the_robust_rate_and_a_slowdown_does_not(concurrency: int) -> None:
    def rates(target: Stalls) -> tuple[float, int, float]:
        m = measure_callable(target, [()], items_per_call=1, iterations=200, duration_s=None,
                             concurrency=concurrency)
        return robust_rate(m.completion_offsets_ns(), m.items, concurrency) or 0.0, m.items, m.wall_ns / 1e9

    stalled, items, wall_s = rates(Stalls(0.002, at=100, stall_s=0.4))
    outside_stall = items / (wall_s - 0.4)
    assert items / wall_s < 0.75 * outside_stall  # items over wall time takes the stall
    assert stalled == pytest.approx(outside_stall, rel=0.15)
    steady, slower = rates(Stalls(0.002))[0], rates(Stalls(0.003))[0]
    assert slower < 0.85 * steady
