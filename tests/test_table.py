"""benchtrail.bench.table: the summary table printed after a run."""

from __future__ import annotations

from typing import Any

import pytest

from benchtrail.bench.table import summary_table
from benchtrail.results.model import Benchmark, Distribution, Metric

HEADERS = ["benchmark", "p50", "p99", "items/s", "peak RSS MB", "failed"]


def benchmark(name: str = "infer", params: dict[str, Any] | None = None, *, p50: float | None = 1.5,
              p99: float | None = 3.0, throughput: float | None = 640.0, peak_rss_mb: float = 123.456,
              calls: int = 100, errors: int = 0, timeouts: int = 0) -> Benchmark:
    metrics: dict[str, Metric] = {"peak_rss_mb": Metric("MB", "lower", peak_rss_mb)}
    if p50 is not None and p99 is not None:
        latency = Distribution(n=calls, mean=p50, stdev=0.0, min=p50, p50=p50, p90=p99, p95=p99, p99=p99, max=p99,
                               sketch=())
        metrics["latency_ms"] = Metric("ms", "lower", distribution=latency)
    if throughput is not None:
        metrics["throughput"] = Metric("items/s", "higher", throughput)
    return Benchmark(name=name, kind="callable", metrics=metrics, calls=calls, errors=errors, timeouts=timeouts,
                     params=params or {})


def rows(*benchmarks: Benchmark) -> list[list[str]]:
    text = summary_table(benchmarks, fmt="tsv")
    return [[cell.strip() for cell in line.split("\t")] for line in text.splitlines()]


def test_headers_and_one_row_per_benchmark() -> None:
    table = rows(benchmark("a"), benchmark("b"))
    assert table[0] == HEADERS
    assert [row[0] for row in table[1:]] == ["a", "b"]
    assert table[1] == ["a", "1.5 ms", "3 ms", "640", "123.5", "0"]


def test_default_format_is_a_plain_text_table() -> None:
    text = summary_table([benchmark("resnet50", {"batch_size": 8})])
    lines = text.splitlines()
    assert lines[0].split() == ["benchmark", "p50", "p99", "items/s", "peak", "RSS", "MB", "failed"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].startswith("resnet50[batch_size=8]")
    assert "\x1b" not in text


def test_label_lists_params_sorted() -> None:
    table = rows(benchmark("bert", {"concurrency": 4, "batch_size": 16}))
    assert table[1][0] == "bert[batch_size=16,concurrency=4]"


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (0.000512, "512 ns"),
        (0.0000005, "0.5 ns"),
        (0.0, "0 ns"),
        (0.00099996, "1 µs"),  # rounds up into the next unit
        (0.001, "1 µs"),
        (0.25, "250 µs"),
        (0.9996, "1 ms"),
        (1.0, "1 ms"),
        (12.345, "12.3 ms"),
        (999.96, "1 s"),  # not "1e+03 ms"
        (1000.0, "1 s"),
        (1500.0, "1.5 s"),
        (59_999.0, "60 s"),
        (1_234_567.0, "1,230 s"),  # not "1.23e+03 s"
    ],
)
def test_duration_units(ms: float, shown: str) -> None:
    assert rows(benchmark(p50=ms))[1][1] == shown


def test_missing_latency_and_throughput_show_a_dash() -> None:
    table = rows(benchmark(p50=None, throughput=None, errors=10, calls=10))
    assert table[1][1:4] == ["-", "-", "-"]
    assert table[1][5] == "10/10"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(12_345.6, "12,346"), (100.0, "100"), (99.96, "100"), (12.34, "12.3"), (0.5, "0.5"), (0.0, "0")],
)
def test_throughput_figures(value: float, shown: str) -> None:
    assert rows(benchmark(throughput=value))[1][3] == shown


def test_failed_column_counts_errors_and_timeouts_of_all_calls() -> None:
    table = rows(benchmark(calls=200, errors=3, timeouts=2), benchmark(calls=50))
    assert table[1][5] == "5/200"
    assert table[2][5] == "0"


def test_peak_rss_one_decimal() -> None:
    assert rows(benchmark(peak_rss_mb=2048.04))[1][4] == "2048.0"


def test_a_real_entry(tmp_path: Any) -> None:
    """The table reads what benchmark_entry writes."""
    import numpy as np

    from benchtrail.bench.metrics import WorkerFigures, WorkerRun, benchmark_entry
    from benchtrail.bench.suite import BenchmarkSpec

    spec = BenchmarkSpec(name="double", params={"batch_size": 2}, kind="callable", index=0,
                         suite_file=str(tmp_path / "suite.toml"), target="workload:double", batch_size=2)
    figures = WorkerFigures.from_json({
        "peak_rss_mb": 55.0, "calls": 4, "errors": 1, "timeouts": 0, "error_samples": ["x"], "items": 6,
        "wall_s": 0.003, "cpu_s": 0.002, "timer": {"name": "perf_counter_ns", "resolution_ns": 1.0, "overhead_ns": 50.0}})
    entry = benchmark_entry(spec, [WorkerRun(np.array([250_000, 500_000, 750_000], dtype=np.int64), figures)])
    assert rows(entry)[1] == ["double[batch_size=2]", "500 µs", "745 µs", "2,000", "55.0", "1/4"]


def test_a_name_prints_no_control_character() -> None:
    text = summary_table([benchmark("\x1b[31mred\x00", {"k": "\x1b]0;t\x07"})])
    assert "\\x1b[31mred\\x00[k=\\x1b]0;t\\x07]" in text
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 for c in text)


def test_an_llm_server_gets_its_token_figures_in_a_table_of_its_own(tmp_path: Any) -> None:
    import numpy as np
    from test_serving import streams

    from benchtrail.bench.metrics import WorkerFigures, WorkerRun, benchmark_entry
    from benchtrail.bench.suite import BenchmarkSpec

    spec = BenchmarkSpec(name="chat", params={"concurrency": 8}, kind="openai", index=0,
                         suite_file=str(tmp_path / "suite.toml"), url="http://127.0.0.1:8000/v1/chat/completions",
                         model="m", slo={"ttft_ms": 150.0})
    run = streams(ttft_ms=[100, 200], e2e_ms=[1090, 1190], tokens=[100, 100], wall_s=2.0)
    figures = WorkerFigures.from_json({
        "peak_rss_mb": 55.0, "calls": 3, "errors": 1, "timeouts": 0, "error_samples": ["HTTP 503"], "items": 200,
        "wall_s": 2.0, "cpu_s": None, "timer": {"name": "perf_counter_ns", "resolution_ns": 1.0, "overhead_ns": 50.0},
        "error_kinds": {"http_503": 1}})
    entry = benchmark_entry(spec, [WorkerRun(run["e2e_ns"], figures, run["done_ns"], run)])
    assert entry.error_kinds == {"http_503": 1} and entry.tokens == {"counted_from": "usage", "per_chunk": 1.0}
    assert "latency_ms" not in entry.metrics and "throughput" not in entry.metrics
    text = summary_table([entry, benchmark("mlp", {})])
    plain, serving = text.split("\n\n")
    assert "mlp" in plain and "chat" not in plain
    lines = serving.splitlines()
    assert lines[0].split() == ["benchmark", "TTFT", "p50", "TTFT", "p99", "TPOT", "p50", "TPOT", "p99", "tokens/s",
                                "goodput/s", "failed"]
    assert lines[2].split() == ["chat[concurrency=8]", "150", "ms", "199", "ms", "10", "ms", "10", "ms", "100",
                                "0.5", "1/3"]
    assert np.isclose(entry.metrics["goodput"].value, 0.5)
