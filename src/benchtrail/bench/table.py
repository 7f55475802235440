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


def _failed(benchmark: Benchmark) -> str:
    failed = benchmark.errors + benchmark.timeouts
    return f"{failed}/{benchmark.calls}" if failed else "0"


def _percentiles(benchmark: Benchmark, metric: str) -> list[str]:
    found = benchmark.metrics.get(metric)
    distribution = found.distribution if found is not None else None
    return [_duration(distribution.p50 if distribution else None), _duration(distribution.p99 if distribution else None)]


def _value(benchmark: Benchmark, metric: str) -> float | None:
    found = benchmark.metrics.get(metric)
    return found.value if found is not None else None


def summary_table(benchmarks: Iterable[Benchmark], fmt: str = "simple") -> str:
    """One row per benchmark: latency p50/p99, throughput, peak RSS, failed calls; the
    benchmark's name ``printable``. LLM servers' benchmarks (``openai``) get a table of their
    own: TTFT and TPOT at p50 and p99, output tokens/s, goodput."""
    from tabulate import tabulate

    rows, serving = [], []
    for benchmark in benchmarks:
        if benchmark.kind == "openai":
            serving.append([printable(benchmark.label), *_percentiles(benchmark, "ttft_ms"),
                            *_percentiles(benchmark, "tpot_ms"), _count(_value(benchmark, "output_throughput")),
                            _count(_value(benchmark, "goodput")), _failed(benchmark)])
            continue
        rows.append([
            printable(benchmark.label), *_percentiles(benchmark, "latency_ms"),
            _count(_value(benchmark, "throughput")),
            f"{benchmark.metrics['peak_rss_mb'].headline:.1f}", _failed(benchmark),
        ])
    # The cells are formatted already: without disable_numparse tabulate re-reads "55.0"
    # as a number and prints "55", so one column mixes "55" and "123.5".
    tables = []
    if rows or not serving:
        tables.append(tabulate(rows, headers=["benchmark", "p50", "p99", "items/s", "peak RSS MB", "failed"],
                               tablefmt=fmt, colalign=("left",) + ("right",) * 5, disable_numparse=True))
    if serving:
        headers = ["benchmark", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "tokens/s", "goodput/s", "failed"]
        tables.append(tabulate(serving, headers=headers, tablefmt=fmt, colalign=("left",) + ("right",) * 7,
                               disable_numparse=True))
    return "\n\n".join(tables)
