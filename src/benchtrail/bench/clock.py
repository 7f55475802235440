"""The timer every measurement uses, and what it costs."""

from __future__ import annotations

import time

from benchtrail.results.model import Timer

__all__ = ["TIMER_NAME", "now_ns", "timer_info"]

TIMER_NAME = "perf_counter_ns"
now_ns = time.perf_counter_ns


def timer_info(samples: int = 2001) -> Timer:
    """The timer's name, resolution and the median cost of two back-to-back reads:
    the floor under any latency it reports."""
    read = now_ns
    costs = []
    for _ in range(samples):
        t0 = read()
        t1 = read()
        costs.append(t1 - t0)
    costs.sort()
    return Timer(TIMER_NAME, time.get_clock_info("perf_counter").resolution * 1e9, float(costs[len(costs) // 2]))
