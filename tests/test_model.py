"""The typed record: JSON in and out unchanged, and what a record is known by."""

from __future__ import annotations

import copy
import json
import statistics
from array import array
from pathlib import Path

import numpy as np
import pytest
from gitremotes import golden
from hypothesis import given, settings
from hypothesis import strategies as st

from benchtrail.results.model import (
    SKETCH_QUANTILES,
    Distribution,
    Hardware,
    Metric,
    Record,
    ThreadPool,
    Threads,
    benchmark_label,
    tidy,
)
from benchtrail.results.record import record_bytes

GOLDEN = Path(__file__).parent / "data" / "records" / "result-1.json"


def test_a_record_read_and_written_again_is_the_same_json() -> None:
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    record = Record.from_json(data)
    assert record.to_json() == data
    assert Record.from_json(record.to_json()) == record


def test_optional_fields_keep_their_presence() -> None:
    data = copy.deepcopy(golden())
    entry = data["benchmarks"][0]
    entry["warnings"] = []
    entry.pop("dataset")
    del data["environment"]["image"]
    assert Record.from_json(data).to_json() == data


def test_a_record_without_thread_settings_keeps_its_bytes() -> None:
    record = Record.from_json(golden())
    assert "threads" not in golden()["environment"] and record.environment.threads is None
    assert "threads" not in record.to_json()["environment"]
    assert record_bytes(record) == GOLDEN.read_bytes()


def test_thread_settings_round_trip_outside_the_fingerprint() -> None:
    data = copy.deepcopy(golden())
    data["environment"]["threads"] = {
        "variables": {"OMP_NUM_THREADS": "1"},
        "pools": [{"user_api": "blas", "internal_api": "openblas", "num_threads": 1},
                  {"user_api": "openmp", "internal_api": "openmp", "num_threads": None}],
    }
    record = Record.from_json(data)
    assert record.environment.threads == Threads.of(
        {"OMP_NUM_THREADS": "1"}, [ThreadPool("openmp", "openmp", None), ThreadPool("blas", "openblas", 1)])
    assert record.to_json() == data and Record.from_json(record.to_json()) == record
    assert record.fingerprint == Record.from_json(golden()).fingerprint == "d305c9f7cbc55706"


def test_headline_is_p50_of_a_distribution_else_the_value() -> None:
    metrics = Record.from_json(golden()).benchmarks[0].metrics
    assert metrics["latency_ms"].headline == 0.051297
    assert metrics["throughput"].headline == 13294.3534
    assert Metric("x", "lower", 3).headline == 3.0 and isinstance(Metric("x", "lower", 3).headline, float)
    assert Metric("x", "lower", 9).run_values == (9.0,)  # a record without runs: its headline, once


def test_labels_carry_sorted_params() -> None:
    assert benchmark_label("mlp", {}) == "mlp"
    assert benchmark_label("mlp", {"batch_size": 8}) == "mlp[batch_size=8]"
    assert benchmark_label("mlp", {"z": "a", "batch_size": 1}) == "mlp[batch_size=1,z=a]"
    assert Record.from_json(golden()).benchmarks[1].label == "mlp[batch_size=8]"


def test_names_and_paths_of_a_record() -> None:
    record = Record.from_json(golden())
    assert record.filename() == "mlp-cpu-20260302T131240Z-3f9c2a7e5b1d.json"
    assert record.branch_path() == "results/mlp-cpu/2026/03/20260302T131240Z-3f9c2a7e5b1d-8823411-ad734af6f4.json"
    assert record.legacy_branch_path() == "results/mlp-cpu/2026/03/20260302T131240Z-3f9c2a7e5b1d-8823411.json"
    assert record.commit_key == "3f9c2a7e5b1d4c8f0a6e2d9b7c4a1f3e8d5b0c2a"
    anonymous = record.replace(source=record.source.__class__())
    assert anonymous.commit_key == record.run.started_at
    assert anonymous.filename().endswith("-nocommit.json") and anonymous.legacy_branch_path().endswith("-nocommit-local.json")
    odd = record.replace(source=record.source.__class__(job_id="a/b c"))
    assert odd.legacy_branch_path().endswith("-nocommit-a_b_c.json")
    assert odd.branch_path() == f"{odd.legacy_branch_path()[:-5]}-{odd.digest}.json" and odd.digest != record.digest


def test_the_fingerprint_hashes_the_hardware_block() -> None:
    record = Record.from_json(golden())
    assert record.environment.hardware.fingerprint == record.fingerprint == "d305c9f7cbc55706"
    other = Hardware("cpu", 2, None, 0, "gpu-a100")
    assert other.fingerprint != Hardware("cpu", 2, None, 0, "").fingerprint and len(other.fingerprint) == 16


def test_a_distribution_of_samples() -> None:
    summary = Distribution.of([4, 1, 3, 2], 0.5)
    assert (summary.n, summary.min, summary.max, summary.p50, summary.mean) == (4, 0.5, 2.0, 1.25, 1.25)
    assert len(summary.sketch) == 17 and summary.sketch[0] >= 0.5
    with pytest.raises(ValueError, match="empty"):
        Distribution.of([])


def test_tidy_drops_float_noise() -> None:
    assert tidy(0.0008309999999999999) == 0.000831
    assert tidy([0.1 + 0.2, 1]) == [0.3, 1] and tidy((0.1 + 0.2,)) == (0.3,)


# --- Distribution.of: what a record keeps of a list of latencies ------------------------------


def summarize(samples: object, scale: float = 1.0) -> dict[str, object]:
    """``Distribution.of`` as the record writes it."""
    return Distribution.of(samples, scale).to_json()


KEYS = {"n", "mean", "stdev", "min", "p50", "p90", "p95", "p99", "max", "sketch"}


def test_summary_of_one_to_a_hundred() -> None:
    values = list(range(1, 101))
    summary = summarize(values)
    assert set(summary) == KEYS
    assert summary["n"] == 100
    assert summary["mean"] == 50.5
    assert summary["stdev"] == pytest.approx(statistics.stdev(values))  # sample stdev, n - 1
    assert (summary["min"], summary["max"]) == (1.0, 100.0)
    # linear interpolation between order statistics (numpy's default)
    assert summary["p50"] == 50.5
    assert summary["p90"] == pytest.approx(90.1)
    assert summary["p95"] == pytest.approx(95.05)
    assert summary["p99"] == pytest.approx(99.01)


def test_quantiles_are_numpy_linear_quantiles() -> None:
    rng = np.random.default_rng(20240501)
    samples = rng.lognormal(mean=0.0, sigma=0.5, size=1000) * 1e6
    summary = summarize(samples)
    # a record keeps 10 significant digits: within 5e-10 of numpy's figures
    for key, q in {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}.items():
        assert summary[key] == pytest.approx(float(np.quantile(samples, q)), rel=5e-10)
    assert summary["sketch"]["values"] == pytest.approx(list(np.quantile(samples, SKETCH_QUANTILES)), rel=5e-10)
    assert summary["mean"] == pytest.approx(float(samples.mean()))
    assert summary["stdev"] == pytest.approx(float(samples.std(ddof=1)))


def test_small_known_sample() -> None:
    summary = summarize([4, 1, 3, 2])  # order does not matter
    assert (summary["min"], summary["p50"], summary["max"]) == (1.0, 2.5, 4.0)
    assert summary["p90"] == pytest.approx(3.7)
    assert summary["mean"] == 2.5
    assert summary["stdev"] == pytest.approx(statistics.stdev([1, 2, 3, 4]))


def test_scale_multiplies_every_figure() -> None:
    latencies_ns = [1_000_000, 2_000_000, 3_000_000, 10_000_000]
    plain = summarize(latencies_ns)
    in_ms = summarize(latencies_ns, 1e-6)
    assert in_ms["n"] == plain["n"] == 4
    for key in ("mean", "stdev", "min", "p50", "p90", "p95", "p99", "max"):
        assert in_ms[key] == pytest.approx(plain[key] * 1e-6)
    assert in_ms["sketch"]["values"] == pytest.approx([v * 1e-6 for v in plain["sketch"]["values"]])
    assert (in_ms["min"], in_ms["max"]) == pytest.approx((1.0, 10.0))


def test_numpy_int64_and_array_input() -> None:
    ints = np.array([5, 7, 9], dtype=np.int64)
    assert summarize(ints)["mean"] == 7.0
    assert summarize(array("q", [5, 7, 9]))["p50"] == 7.0
    summary = summarize(ints)
    assert all(isinstance(summary[key], float) for key in KEYS - {"n", "sketch"})
    assert isinstance(summary["n"], int)  # plain Python numbers: JSON-ready


def test_one_sample_has_stdev_zero() -> None:
    summary = summarize([3.5])
    assert summary["n"] == 1
    assert summary["stdev"] == 0.0
    assert {summary[k] for k in ("mean", "min", "p50", "p90", "p95", "p99", "max")} == {3.5}
    assert summary["sketch"]["values"] == [3.5] * len(SKETCH_QUANTILES)


@pytest.mark.parametrize("empty", [[], (), np.array([], dtype=np.int64)])
def test_empty_sample_raises(empty: object) -> None:
    with pytest.raises(ValueError, match="empty"):
        summarize(empty)


def test_sketch_has_the_fixed_quantiles_in_order() -> None:
    sketch = summarize(list(range(1000)))["sketch"]
    assert sketch["quantiles"] == list(SKETCH_QUANTILES)
    assert len(sketch["values"]) == len(SKETCH_QUANTILES) == 17
    assert sketch["quantiles"] == sorted(sketch["quantiles"])
    assert sketch["values"] == sorted(sketch["values"])
    assert sketch["values"][SKETCH_QUANTILES.index(0.5)] == summarize(list(range(1000)))["p50"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=300),
       st.sampled_from([1.0, 1e-6, 1e-3]))
def test_summary_is_ordered(latencies: list[int], scale: float) -> None:
    summary = summarize(latencies, scale)
    order = [summary[k] for k in ("min", "p50", "p90", "p95", "p99", "max")]
    assert order == sorted(order)
    assert summary["sketch"]["values"] == sorted(summary["sketch"]["values"])
    assert summary["min"] <= summary["sketch"]["values"][0]
    assert summary["sketch"]["values"][-1] <= summary["max"]
    assert summary["min"] * (1 - 1e-12) <= summary["mean"] <= summary["max"] * (1 + 1e-12)
    assert summary["stdev"] >= 0
    assert summary["n"] == len(latencies)


# --- spread_warning ----------------------------------------------------------------------------

