"""The summary table printed at the end of a run."""

from __future__ import annotations

from collections.abc import Iterable

from benchtrail.results.model import Benchmark
from benchtrail.results.tabular import printable

__all__ = ["summary_table"]


def _duration(ms: float | None) -> str:
    """Three significant digits in the largest unit that keeps the number >= 1.

    The unit is chosen after rounding, so 999.96 ms reads "1 s", not "1e+03 ms".
    """
    if ms is None:
        return "-"
    ms = float(f"{ms:.3g}")
    if ms >= 1e6:  # 1000 s and more: whole seconds, never an exponent
        return f"{ms / 1e3:,.0f} s"
    for unit, scale in (("s", 1e3), ("ms", 1.0), ("µs", 1e-3)):
        if ms >= scale:
            return f"{ms / scale:.3g} {unit}"
    return f"{ms * 1e6:.3g} ns"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def summary_table(benchmarks: Iterable[Benchmark], fmt: str = "simple") -> str:
    """One row per benchmark: latency p50/p99, throughput, peak RSS, failed calls; the
    benchmark's name ``printable``."""
    from tabulate import tabulate

    rows = []
    for benchmark in benchmarks:
        metrics = benchmark.metrics
        latency = metrics["latency_ms"].distribution if "latency_ms" in metrics else None
        throughput = metrics["throughput"].value if "throughput" in metrics else None
        failed = benchmark.errors + benchmark.timeouts
        rows.append([
            printable(benchmark.label),
            _duration(latency.p50 if latency else None),
            _duration(latency.p99 if latency else None),
            _count(throughput),
            f"{metrics['peak_rss_mb'].headline:.1f}",
            f"{failed}/{benchmark.calls}" if failed else "0",
        ])
    headers = ["benchmark", "p50", "p99", "items/s", "peak RSS MB", "failed"]
    # The cells are formatted already: without disable_numparse tabulate re-reads "55.0"
    # as a number and prints "55", so one column mixes "55" and "123.5".
    return tabulate(rows, headers=headers, tablefmt=fmt, colalign=("left",) + ("right",) * 5,
                    disable_numparse=True)
