"""benchtrail.bench.metrics: the benchmark entry made of worker runs."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from benchtrail.bench.fingerprint import describe_environment
from benchtrail.bench.metrics import WorkerFigures, WorkerRun, benchmark_entry, robust_rate
from benchtrail.bench.suite import BenchmarkSpec
from benchtrail.errors import RecordError
from benchtrail.results import SCHEMA_ID, record_bytes, validate
from benchtrail.results.model import Record

MS = 1_000_000  # ns


def spec(**changes: Any) -> BenchmarkSpec:
    settings: dict[str, Any] = {
        "name": "classify", "params": {"batch_size": 8}, "kind": "callable", "index": 0,
        "suite_file": "/work/bench/suite.toml", "target": "workload:classify", "batch_size": 8,
        "warmup": 5, "iterations": 4,
    }
    return BenchmarkSpec(**{**settings, **changes})


def run(latencies_ms: list[float], **figures: Any) -> WorkerRun:
    """A worker run as the runner reads it back: int64 ns latencies and the figures JSON."""
    latencies = np.array([round(ms * MS) for ms in latencies_ms], dtype=np.int64)
    calls = figures.pop("calls", len(latencies_ms))
    base: dict[str, Any] = {
        "count": 10, "duration_s": 1.0, "peak_rss_mb": 100.0,
        "gpu_peak_memory_mb": None, "gpu_utilization_pct": None, "gpu_power_w": None, "gpu_energy_j": None,
        "calls": calls, "errors": 0, "timeouts": 0, "error_samples": [],
        "items": 8 * len(latencies_ms), "wall_s": 0.5, "cpu_s": 0.4,
        "timer": {"name": "perf_counter_ns", "resolution_ns": 1.0, "overhead_ns": 50.0},
    }
    return WorkerRun(latencies, WorkerFigures.from_json({**base, **figures}))


def entry_json(spec: BenchmarkSpec, runs: list[WorkerRun]) -> dict[str, Any]:
    """The entry as the record writes it."""
    return benchmark_entry(spec, runs).to_json()


def record_around(entry: dict[str, Any]) -> dict[str, Any]:
    """The smallest valid record holding ``entry``."""
    return {
        "schema": SCHEMA_ID,
        "suite": "model",
        "benchmarks": [entry],
        "source": dict.fromkeys(["commit", "ref", "commit_time", "commit_title", "pipeline_id", "job_id",
                                 "pipeline_url", "project_url", "mr_iid"]),
        "environment": describe_environment(None).to_json(),
        "run": {"started_at": "2024-01-02T03:04:05Z", "duration_s": 2.5, "tool_version": "0.1.0",
                "runs": 3, "warmup": 5, "iterations": 12,
                "timer": {"name": "perf_counter_ns", "resolution_ns": 1.0, "overhead_ns": 50.0}},
    }


def assert_valid(entry: dict[str, Any]) -> None:
    record = record_around(entry)
    assert validate(copy.deepcopy(record)) == record
    record_bytes(Record.from_json(record))  # finite numbers only


# --- latency and throughput ----------------------------------------------------------------


def three_runs() -> list[WorkerRun]:
    return [
        run([1.0, 2.0, 3.0, 4.0], peak_rss_mb=100.0, wall_s=0.5, cpu_s=0.4),
        run([2.0, 2.0, 2.0, 2.0], peak_rss_mb=150.0, wall_s=0.25, cpu_s=0.2),
        run([1.0, 3.0, 5.0, 7.0], peak_rss_mb=120.0, wall_s=1.0, cpu_s=0.6),
    ]


def test_entry_fields() -> None:
    entry = entry_json(spec(), three_runs())
    assert {k: v for k, v in entry.items() if k != "metrics"} == {
        "name": "classify", "params": {"batch_size": 8}, "kind": "callable", "target": "workload:classify",
        "warmup": 5, "iterations": 4, "runs": 3, "calls": 12, "errors": 0, "timeouts": 0,
        "warnings": [entry["warnings"][0]],  # the runs' p50s differ: see test_spread_warning
    }
    assert set(entry["metrics"]) == {"latency_ms", "throughput", "peak_rss_mb", "cpu_ms_per_item"}
    assert_valid(entry)


def test_latency_is_pooled_over_the_runs_and_runs_keeps_each_p50() -> None:
    runs = three_runs()
    latency = entry_json(spec(), runs)["metrics"]["latency_ms"]
    pooled_ms = [1.0, 2.0, 3.0, 4.0, 2.0, 2.0, 2.0, 2.0, 1.0, 3.0, 5.0, 7.0]
    assert latency["unit"] == "ms"
    assert latency["direction"] == "lower"
    assert latency["n"] == 12
    assert latency["mean"] == pytest.approx(np.mean(pooled_ms))
    assert latency["p50"] == pytest.approx(np.quantile(pooled_ms, 0.5))
    assert latency["p99"] == pytest.approx(np.quantile(pooled_ms, 0.99))
    assert (latency["min"], latency["max"]) == (1.0, 7.0)
    assert latency["runs"] == [2.5, 2.0, 4.0]
    assert len(latency["sketch"]["values"]) == 17


def test_throughput_is_total_items_over_total_wall_and_per_run() -> None:
    throughput = entry_json(spec(), three_runs())["metrics"]["throughput"]
    assert throughput["unit"] == "items/s"
    assert throughput["direction"] == "higher"
    assert throughput["value"] == pytest.approx(96 / 1.75)  # 3 runs x 32 items over 1.75 s
    assert throughput["runs"] == [64.0, 128.0, 32.0]


def test_peak_rss_is_the_largest_run() -> None:
    peak = entry_json(spec(), three_runs())["metrics"]["peak_rss_mb"]
    assert peak == {"unit": "MB", "direction": "lower", "value": 150.0, "runs": [100.0, 150.0, 120.0]}


def test_cpu_ms_per_item() -> None:
    cpu = entry_json(spec(), three_runs())["metrics"]["cpu_ms_per_item"]
    assert cpu["unit"] == "ms"
    assert cpu["direction"] == "lower"
    assert cpu["value"] == pytest.approx(1.2 * 1000 / 96)
    assert cpu["runs"] == pytest.approx([12.5, 6.25, 18.75])


def test_no_cpu_metric_for_http_runs() -> None:
    entry = entry_json(spec(kind="http", target=None, url="http://127.0.0.1:8000/predict"),
                            [run([1.0, 2.0], cpu_s=None)])
    assert "cpu_ms_per_item" not in entry["metrics"]
    assert entry["target"] == "http://127.0.0.1:8000/predict"
    assert_valid(entry)


def test_url_target_keeps_no_query_fragment_or_password() -> None:
    url = "https://user:s3cret@models.example.com:8443/v1/predict?api_key=k3y#top"
    entry = entry_json(spec(kind="http", target=None, url=url), [run([1.0], cpu_s=None)])
    assert entry["target"] == "https://models.example.com:8443/v1/predict"


def test_float_noise_is_tidied() -> None:
    # 0.1 + 0.2 style noise would make two equal records differ in their bytes
    entry = entry_json(spec(), [run([0.000831, 0.000831], wall_s=0.3)])
    assert entry["metrics"]["latency_ms"]["p50"] == 0.000831
    assert entry["metrics"]["throughput"]["value"] == pytest.approx(16 / 0.3)
    assert repr(entry["metrics"]["throughput"]["value"]) == "53.33333333"


def test_spread_warning_when_the_runs_disagree() -> None:
    entry = entry_json(spec(), three_runs())
    assert any(w.startswith("latency_ms p50: the runs differ by") for w in entry["warnings"])
    steady = entry_json(spec(), [run([2.0, 2.0]), run([2.0, 2.02])])
    assert "warnings" not in steady


def test_duration_s_kept_when_the_spec_has_one() -> None:
    entry = entry_json(spec(iterations=None, duration_s=2.5), [run([1.0, 1.0])])
    assert entry["duration_s"] == 2.5
    assert "duration_s" not in entry_json(spec(), [run([1.0, 1.0])])


# --- GPU ------------------------------------------------------------------------------------


GPU_FIGURES = [
    {"gpu_peak_memory_mb": 4000.0, "gpu_utilization_pct": 50.0, "gpu_power_w": 200.0, "gpu_energy_j": 64.0},
    {"gpu_peak_memory_mb": 4500.0, "gpu_utilization_pct": 70.0, "gpu_power_w": 300.0, "gpu_energy_j": 96.0},
]


def test_gpu_metrics() -> None:
    runs = [run([1.0, 1.0, 1.0, 1.0], **GPU_FIGURES[0]), run([1.0, 1.0, 1.0, 1.0], **GPU_FIGURES[1])]
    entry = entry_json(spec(), runs)
    metrics = entry["metrics"]
    assert metrics["gpu_peak_memory_mb"] == {"unit": "MB", "direction": "lower", "value": 4500.0,
                                             "runs": [4000.0, 4500.0]}
    assert metrics["gpu_utilization_pct"] == {"unit": "%", "direction": "higher", "value": 60.0,
                                              "runs": [50.0, 70.0]}
    assert metrics["gpu_power_w"] == {"unit": "W", "direction": "lower", "value": 250.0, "runs": [200.0, 300.0]}
    energy = metrics["gpu_energy_j_per_item"]
    assert (energy["unit"], energy["direction"]) == ("J", "lower")
    assert energy["value"] == pytest.approx(160 / 64)  # 32 items per run
    assert energy["runs"] == pytest.approx([2.0, 3.0])
    assert_valid(entry)


def test_no_gpu_metrics_without_a_gpu() -> None:
    metrics = entry_json(spec(), three_runs())["metrics"]
    assert not [name for name in metrics if name.startswith("gpu_")]


def test_gpu_figures_a_board_does_not_report_are_left_out() -> None:
    unreported = {"gpu_peak_memory_mb": 4000.0, "gpu_utilization_pct": None, "gpu_power_w": None,
                  "gpu_energy_j": None}
    entry = entry_json(spec(), [run([1.0], **unreported), run([1.0], **GPU_FIGURES[1])])
    assert sorted(n for n in entry["metrics"] if n.startswith("gpu_")) == ["gpu_peak_memory_mb"]
    assert_valid(entry)


@pytest.mark.parametrize("gpu_run", [0, 1])
def test_gpu_metrics_need_every_run(gpu_run: int) -> None:
    runs = [run([1.0]), run([1.0])]
    runs[gpu_run] = run([1.0], **GPU_FIGURES[1])
    entry = entry_json(spec(), runs)
    assert not [name for name in entry["metrics"] if name.startswith("gpu_")]


# --- errors and timeouts -----------------------------------------------------------------


def test_errors_and_timeouts_are_counted_with_a_warning() -> None:
    runs = [
        run([1.0, 2.0], calls=4, errors=1, timeouts=1, error_samples=["ValueError: bad row"]),
        run([1.0, 2.0, 3.0], calls=4, errors=1, error_samples=["ValueError: bad row"]),
    ]
    entry = entry_json(spec(), runs)
    assert (entry["calls"], entry["errors"], entry["timeouts"]) == (8, 2, 1)
    assert entry["iterations"] == 4
    assert "2 errors and 1 timeouts in 8 calls; the first: ValueError: bad row" in entry["warnings"]
    assert entry["error_samples"] == ["ValueError: bad row"]
    assert entry["metrics"]["latency_ms"]["n"] == 5  # only successful calls have a latency
    assert_valid(entry)


def test_a_run_with_zero_successful_calls() -> None:
    runs = [
        run([], calls=4, errors=4, items=0, wall_s=0.1, cpu_s=0.05, error_samples=["RuntimeError: CUDA OOM"]),
        run([2.0, 2.0, 2.0, 2.0], wall_s=0.5, cpu_s=0.4),
    ]
    entry = entry_json(spec(), runs)
    latency = entry["metrics"]["latency_ms"]
    assert latency["n"] == 4
    assert latency["runs"] == [2.0]  # the failed run has no p50
    throughput = entry["metrics"]["throughput"]
    assert throughput["value"] == pytest.approx(32 / 0.6)  # its wall time still counts
    assert throughput["runs"] == [0.0, 64.0]
    assert entry["metrics"]["cpu_ms_per_item"]["runs"] == pytest.approx([12.5])
    assert entry["metrics"]["peak_rss_mb"]["runs"] == [100.0, 100.0]
    assert (entry["calls"], entry["errors"]) == (8, 4)
    assert "4 errors and 0 timeouts in 8 calls; the first: RuntimeError: CUDA OOM" in entry["warnings"]
    assert_valid(entry)


def test_every_call_failed() -> None:
    runs = [run([], calls=3, errors=2, timeouts=1, items=0, error_samples=["TimeoutError", "boom"])] * 2
    entry = entry_json(spec(), runs)
    assert set(entry["metrics"]) == {"peak_rss_mb"}
    assert (entry["calls"], entry["errors"], entry["timeouts"]) == (6, 4, 2)
    assert entry["warnings"] == ["every call failed (4 errors and 2 timeouts in 6 calls); the first: TimeoutError"]
    assert entry["error_samples"] == ["TimeoutError", "boom"]
    assert_valid(entry)


def test_error_samples_deduplicated_and_at_most_five() -> None:
    runs = [
        run([1.0], errors=3, error_samples=["a", "b", "c"]),
        run([1.0], errors=4, error_samples=["b", "d", "d", "e"]),
        run([1.0], errors=2, error_samples=["f", "a"]),
    ]
    entry = entry_json(spec(), runs)
    assert entry["error_samples"] == ["a", "b", "c", "d", "e"]
    assert_valid(entry)


def test_no_error_samples_key_without_errors() -> None:
    entry = entry_json(spec(), [run([1.0, 1.0])])
    assert "error_samples" not in entry
    assert "warnings" not in entry


def test_a_zero_latency_is_warned_about() -> None:
    entry = entry_json(spec(), [run([0.0, 1.0, 1.0])])
    assert any("measured zero time" in w for w in entry["warnings"])
    assert_valid(entry)


def test_the_record_schema_refuses_a_broken_entry() -> None:
    entry = entry_json(spec(), three_runs())
    del entry["metrics"]["latency_ms"]["p99"]
    with pytest.raises(RecordError, match=r"latency_ms"):
        validate(record_around(entry))


# --- throughput robust to a stall -----------------------------------------------------------


def completions(latencies_ms: list[float], concurrency: int = 1) -> np.ndarray:
    """Completion offsets (ns) of a closed loop: ``concurrency`` threads in lock-step, each
    taking the next latency of ``latencies_ms`` in turn."""
    ends = np.cumsum(np.array(latencies_ms) * MS)
    return np.repeat(ends, concurrency).astype(np.int64)


STEADY = [10.0] * 200
STALLED = [10.0] * 100 + [2010.0] + [10.0] * 99  # one call waits out a 2 s stall
SLOWER = [12.0] * 200  # every call 20 % slower


def test_one_stall_does_not_move_the_robust_rate() -> None:
    steady = robust_rate(completions(STEADY), items=200)
    assert steady == pytest.approx(100.0)
    assert robust_rate(completions(STALLED), items=200) == pytest.approx(steady, rel=0.01)
    assert 200 / (sum(STALLED) / 1e3) == 0.5 * steady  # what items over wall time reads


def test_a_uniform_slowdown_shows_in_full() -> None:
    assert robust_rate(completions(SLOWER), items=200) == pytest.approx(100.0 / 1.2, rel=0.005)


def test_a_regular_cost_is_not_mistaken_for_a_stall() -> None:
    """Every 10th call 10x slower is the target's speed, not a stall: every slice holds it."""
    periodic = [100.0 if i % 10 == 9 else 10.0 for i in range(200)]
    assert robust_rate(completions(periodic), items=200) == pytest.approx(200 / (sum(periodic) / 1e3))


def test_threads_finishing_together_stay_in_one_slice() -> None:
    assert robust_rate(completions(STEADY, concurrency=4), items=800, concurrency=4) == pytest.approx(400.0)
    stalled = robust_rate(completions(STALLED, concurrency=4), items=800, concurrency=4)
    assert stalled == pytest.approx(400.0, rel=0.01)
    # 28 calls: slices of 2 would end twice within one burst of 4, a zero duration
    assert robust_rate(completions([10.0] * 7, concurrency=4), items=28, concurrency=4) == pytest.approx(400.0)


def test_the_rate_counts_items_and_ignores_completion_order() -> None:
    shuffled = np.random.default_rng(1).permutation(completions(STALLED))
    assert robust_rate(shuffled, items=1600) == pytest.approx(800.0, rel=0.01)  # 8 items per call


def test_few_calls() -> None:
    assert robust_rate(completions([10.0, 2010.0, 10.0]), items=3) == pytest.approx(100.0)
    assert robust_rate(completions([10.0] * 3), items=3, concurrency=4) is None  # no full slice
    assert robust_rate(np.array([], dtype=np.int64), items=0) is None


def test_throughput_runs_are_robust_rates_and_the_value_the_whole_wall_time() -> None:
    stalled = WorkerRun(np.full(200, 10 * MS, dtype=np.int64), WorkerFigures.from_json(
        {**run([10.0] * 200).figures.to_json(), "items": 1600, "wall_s": sum(STALLED) / 1e3}),
        completions(STALLED))
    throughput = entry_json(spec(), [stalled])["metrics"]["throughput"]
    assert throughput["runs"] == [pytest.approx(800.0, rel=0.01)]
    assert throughput["value"] == pytest.approx(1600 / 4.0)


def test_an_open_loop_keeps_items_over_wall_time() -> None:
    """Its arrivals are fixed in advance: a stall is caught up afterwards."""
    stalled = WorkerRun(np.full(200, 10 * MS, dtype=np.int64), WorkerFigures.from_json(
        {**run([10.0] * 200).figures.to_json(), "items": 1600, "wall_s": 2.0}), completions(STALLED))
    http = spec(kind="http", target=None, url="http://127.0.0.1:8000/predict", rate=100.0)
    assert entry_json(http, [stalled])["metrics"]["throughput"]["runs"] == [800.0]
