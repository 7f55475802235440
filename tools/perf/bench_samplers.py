#!/usr/bin/env python3
"""Measure the CPU cost of benchtrail's background sampler, as a percentage of one core.

The main thread sleeps for ``--duration`` seconds, once without a sampler (the baseline)
and once inside ``Sampler`` for each configuration: RSS only (psutil), and RSS plus NVML
through a fake ``pynvml`` module (no GPU needed; ``--nvml-call-us`` makes each fake NVML
call busy-wait, to model a driver's cost). The cost is the process CPU time above the
baseline, per second of wall time; the sampler thread's own CPU clock is shown beside it.

    python tools/perf/bench_samplers.py [--repeat 5] [--duration 2] [--devices 1] [--quick]

Goal: under 1 % of one core.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from benchtrail.bench.fingerprint import cpu_model
from benchtrail.bench.gpu import Gpus
from benchtrail.bench.sampler import Sampler

GOAL_PCT = 1.0
LARGE_SPREAD = 0.10  # (max - min) / median over repeats
_MB = 1024 * 1024


def make_fake_pynvml(call_cost_ns: int = 0) -> types.ModuleType:
    """A stand-in for the ``pynvml`` module: the calls ``Gpus`` makes, with fixed readings."""
    nvml = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    def costly(value: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(handle: Any) -> Any:
            if call_cost_ns:
                end = time.perf_counter_ns() + call_cost_ns
                while time.perf_counter_ns() < end:
                    pass
            return value(handle)

        return call

    memory = types.SimpleNamespace(total=80_000 * _MB, used=12_000 * _MB, free=68_000 * _MB)
    utilization = types.SimpleNamespace(gpu=87, memory=40)
    nvml.NVMLError = NVMLError  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = costly(lambda h: memory)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetUtilizationRates = costly(lambda h: utilization)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetPowerUsage = costly(lambda h: 300_000)  # type: ignore[attr-defined]  # mW
    nvml.nvmlDeviceGetTotalEnergyConsumption = costly(  # type: ignore[attr-defined]  # mJ
        lambda h: int(time.monotonic() * 300_000))
    nvml.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    return nvml


def find_sampler_thread() -> threading.Thread:
    """The running sampler's thread (found by its name)."""
    return next(t for t in threading.enumerate() if t.name == "benchtrail-sampler")


def measure(gpus: Gpus | None, duration_s: float, interval_s: float, baseline_rate: float) -> dict[str, float]:
    """Sleep ``duration_s`` inside a sampler: process CPU % above baseline, thread CPU %,
    the CPU spent outside the thread (start, stop, first and last sample) and per-sample us."""
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    with Sampler(gpus, interval_s=interval_s) as sampler:
        clock = time.pthread_getcpuclockid(find_sampler_thread().ident or 0)
        time.sleep(duration_s)
        thread_cpu = time.clock_gettime(clock)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    assert sampler.result is not None
    in_thread = max(sampler.result.count - 2, 1)  # one sample each on enter and exit, in this thread
    return {
        "process_pct": 100.0 * (cpu - baseline_rate * wall) / wall,
        "fixed_ms": 1e3 * (cpu - baseline_rate * wall - thread_cpu),
        "thread_pct": 100.0 * thread_cpu / wall,
        "per_sample_us": 1e6 * thread_cpu / in_thread,
        "samples": float(sampler.result.count),
    }


def measure_baseline(duration_s: float) -> float:
    """Process CPU seconds per wall second while the main thread only sleeps."""
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    time.sleep(duration_s)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def time_pieces(gpus: Gpus) -> dict[str, float]:
    """CPU us of each piece of one sample, median of short hot loops."""
    import psutil

    process = psutil.Process()
    pieces: dict[str, Callable[[], object]] = {
        "memory_info() (every sample)": process.memory_info,
        "children(recursive=True) (every 10th)": lambda: process.children(recursive=True),
        "Gpus.sample() on the fake (every sample)": gpus.sample,
    }
    costs = {}
    for name, piece in pieces.items():
        piece()
        loops = []
        for _ in range(5):
            start = time.thread_time_ns()
            for _ in range(20):
                piece()
            loops.append((time.thread_time_ns() - start) / 20 / 1000)
        costs[name] = statistics.median(loops)
    return costs




def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=None, help="repeats (default 5; 2 with --quick)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per measurement (default 2; 0.3 with --quick)")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="sampler interval in seconds (benchtrail's default 0.1)")
    parser.add_argument("--devices", type=int, default=1, help="fake GPUs for the NVML configuration (default 1)")
    parser.add_argument("--nvml-call-us", type=float, default=0.0, help="busy-wait this long in each fake NVML call")
    parser.add_argument("--children", type=int, default=0, help="start this many sleeping child processes first")
    parser.add_argument("--quick", action="store_true", help="a second or two in all: for a smoke test")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.duration is None:
        args.duration = 0.3 if args.quick else 2.0
    if args.repeat < 1 or args.duration <= 0 or args.devices < 1:
        parser.error("--repeat and --devices must be >= 1, --duration > 0")
    return args


def describe_machine(args: argparse.Namespace) -> list[str]:
    """Machine, Python, exact command and settings: the report's header lines."""
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    python = f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})"
    return [
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({usable} usable), {platform.platform()}",
        f"Load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"processes on the machine: {len(psutil.pids())} (the children scan walks them all)",
        f"Python: {python}; psutil {psutil.__version__}",
        f"Command: {shlex.join([sys.executable, *sys.argv])}",
        f"Runs: {args.repeat} repeat(s) x {args.duration:g} s per configuration, interval {args.interval:g} s, "
        f"{args.children} child process(es), fake NVML: {args.devices} device(s), {args.nvml_call_us:g} us per call",
    ]


def format_table(results: dict[str, list[dict[str, float]]]) -> tuple[list[str], list[str], float]:
    """The result table lines, the warnings, and the worst median process CPU %."""
    lines = [f"  {'configuration':<30}{'process':>9}   {'min..max':<16}"
             f"{'thread':>9}{'fixed ms':>10}{'us/sample':>11}{'samples':>9}"]
    warnings = []
    worst = 0.0
    for name, runs in results.items():
        medians = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        process = [r["process_pct"] for r in runs]
        worst = max(worst, medians["process_pct"])
        span = f"{min(process):.3f}..{max(process):.3f}"
        lines.append(f"  {name:<30}{medians['process_pct']:>8.3f}%   {span:<16}{medians['thread_pct']:>8.3f}%"
                     f"{medians['fixed_ms']:>10.2f}{medians['per_sample_us']:>11.1f}{medians['samples']:>9.0f}")
        spread = (max(process) - min(process)) / medians["process_pct"] if medians["process_pct"] > 0 else 0.0
        if len(runs) > 1 and spread > LARGE_SPREAD:
            warnings.append(f"{name}: the repeats spread {spread:.0%} of their median (> {LARGE_SPREAD:.0%}): "
                            "the machine is noisy")
    return lines, warnings, worst


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for line in describe_machine(args):
        print(line)
    configs: dict[str, Callable[[], Gpus | None]] = {
        "rss (psutil)": lambda: None,
        f"rss + nvml (fake, {args.devices} dev)": lambda: Gpus(
            make_fake_pynvml(int(args.nvml_call_us * 1000)), list(range(args.devices))),
    }
    names = list(configs)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
                for _ in range(args.children)]
    try:
        measure(configs[names[-1]](), 0.05, 0.01, 0.0)  # warm up: imports, first /proc scans
        for repeat in range(args.repeat):
            rate = measure_baseline(args.duration)
            for name in names[repeat % len(names):] + names[:repeat % len(names)]:
                results[name].append(measure(configs[name](), args.duration, args.interval, rate))
            print(f"repeat {repeat + 1}/{args.repeat}: baseline {100 * rate:.3f} % of a core; " + "; ".join(
                f"{name} {results[name][-1]['process_pct']:.3f} %" for name in names), flush=True)
    finally:
        for child in children:
            child.kill()
            child.wait()

    lines, warnings, worst = format_table(results)
    print()
    print(f"Sampler CPU, % of one core, median over {args.repeat} repeat(s) [min..max]:")
    for line in lines:
        print(line)
    print("process: process CPU time above the no-sampler baseline, per wall second (the goal's figure);")
    print("thread: the sampler thread's own CPU clock (pthread_getcpuclockid), the steady cost;")
    print("fixed ms: CPU outside that thread, once per measurement (start, stop, samples on enter/exit);")
    print("us/sample: the thread's CPU per sample it took.")
    print()
    print("Where a sample's time goes (CPU us per call, hot loop; the sampler thread runs cold, so more):")
    gpus = configs[names[-1]]()
    assert gpus is not None
    for name, cost in time_pieces(gpus).items():
        print(f"  {name:<42}{cost:>9.1f}")
    print()
    verdict = "met" if worst < GOAL_PCT else "MISSED"
    if args.quick:
        verdict += " (quick runs are too short to judge: the fixed cost dominates)"
    print(f"Goal: under {GOAL_PCT:g} % of one core over {args.duration:g} s: worst median {worst:.3f} % -> {verdict}")
    for warning in warnings:
        print(f"Warning: {warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
