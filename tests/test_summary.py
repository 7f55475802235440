"""Distribution summaries (``Distribution.of``) and the harness's spread warning."""

from __future__ import annotations

import statistics
from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchtrail.bench.summary import spread_warning
from benchtrail.results.model import SKETCH_QUANTILES, Distribution


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


@pytest.mark.parametrize("runs", [[], [5.0], [100.0, 100.0, 100.0], [95.0, 100.0, 105.0], [0.0, 0.0]])
def test_no_warning(runs: list[float]) -> None:
    assert spread_warning(runs, "latency_ms p50") is None


def test_warning_at_ten_percent_of_the_mean() -> None:
    # mean 100, stdev exactly 10: pyperf warns at "at least 10 %"
    warning = spread_warning([90.0, 100.0, 110.0], "latency_ms p50")
    assert warning is not None
    assert warning.startswith("latency_ms p50: ")
    assert "10%" in warning


def test_just_under_ten_percent_gives_no_warning() -> None:
    assert statistics.stdev([91.0, 100.0, 109.0]) < 10
    assert spread_warning([91.0, 100.0, 109.0], "x") is None


def test_warning_names_the_spread() -> None:
    warning = spread_warning([1.0, 2.0], "throughput")
    assert warning is not None
    assert warning.startswith("throughput: ")
    assert "47%" in warning  # stdev 0.707 of mean 1.5


def test_negative_mean_gives_no_warning() -> None:
    assert spread_warning([-1.0, -3.0], "x") is None
