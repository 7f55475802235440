"""The harness's check of its own figures: the spread warning."""

from __future__ import annotations

import statistics

import pytest

from benchtrail.bench.summary import spread_warning


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
