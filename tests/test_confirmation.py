"""What pairs decide: a neighbour that slows both sides cancels out, one stalled pair is
set aside, and too few pairs claim nothing."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from comparefixtures import bench_record, row, typed

from benchtrail.compare.comparison import Comparison
from benchtrail.compare.confirmation import MIN_PAIRS, apply_pairs, decide_paired, mark_same_job, paired_values


def pairs_of(rng: np.random.Generator, n: int, change: float, *, cv: float = 0.03,
             neighbour: float = 0.0) -> list[tuple[float, float]]:
    """``n`` pairs around 10 ms, the head ``change`` slower; a neighbour slows each pair's
    two sides alike by a random amount up to ``neighbour``."""
    found = []
    for _ in range(n):
        load = 1 + neighbour * rng.random()
        base, head = 10.0 * load * np.exp(rng.normal(0, cv, 2))
        found.append((float(base), float(head * (1 + change))))
    return found


def test_a_slowdown_under_a_heavy_neighbour_is_found_and_no_change_is_not() -> None:
    rng = np.random.default_rng(3)
    found = [decide_paired(pairs_of(rng, 5, 0.20, neighbour=1.0), direction="lower", min_effect=0.05).verdict
             for _ in range(200)]
    clean = [decide_paired(pairs_of(rng, 5, 0.0, neighbour=1.0), direction="lower", min_effect=0.05).verdict
             for _ in range(200)]
    assert found.count("regression") >= 190
    assert clean.count("regression") <= 2
    assert clean.count("unchanged") >= 180


def test_the_decision_reports_the_pairs_figures() -> None:
    decision = decide_paired([(10.0, 12.0), (20.0, 24.2), (10.0, 11.9), (15.0, 18.0)], direction="lower",
                             min_effect=0.05)
    assert decision.verdict == "regression"
    assert decision.change == pytest.approx(0.2, abs=0.01)
    assert decision.baseline == pytest.approx(math.exp(np.mean(np.log([10, 20, 10, 15]))))
    assert decision.current == pytest.approx(decision.baseline * 1.2, rel=0.01)
    assert (decision.baseline_runs, decision.current_runs) == (4, 4)
    assert decision.noise is not None and decision.threshold is not None and decision.threshold < 0.2
    assert not decision.suspect


def test_one_stalled_pair_is_set_aside() -> None:
    steady = [(10.0, 10.1), (10.0, 9.9), (10.0, 10.05), (10.0, 9.95), (10.0, 10.0)]
    assert decide_paired([*steady, (10.0, 30.0)], direction="lower", min_effect=0.05).verdict == "unchanged"


def test_throughput_is_worse_when_it_drops() -> None:
    slower = [(100.0, 80.0), (100.0, 81.0), (100.0, 79.0), (100.0, 80.5)]
    assert decide_paired(slower, direction="higher", min_effect=0.05).verdict == "regression"
    assert decide_paired(slower, direction="lower", min_effect=0.05).verdict == "improvement"


def test_too_few_pairs_claim_nothing_beyond_the_minimum_effect() -> None:
    few = [(10.0, 13.0)] * (MIN_PAIRS - 1)
    assert decide_paired(few, direction="lower", min_effect=0.05).verdict == "inconclusive"
    assert decide_paired([(10.0, 10.1)] * 2, direction="lower", min_effect=0.05).verdict == "unchanged"


def test_noisy_pairs_are_inconclusive_not_a_regression() -> None:
    wild = [(10.0, 14.0), (10.0, 8.0), (10.0, 15.0), (10.0, 9.0), (10.0, 13.0)]
    assert decide_paired(wild, direction="lower", min_effect=0.05).verdict == "inconclusive"


def test_values_that_are_not_positive_are_left_out() -> None:
    decision = decide_paired([(0.0, 1.0), (10.0, 12.0), (10.0, 12.0), (10.0, 12.0)], direction="lower",
                             min_effect=0.05)
    assert decision.current_runs == 3 and decision.verdict == "regression"
    assert decide_paired([(0.0, 0.0)], direction="lower", min_effect=0.05).verdict == "inconclusive"


def test_records_pair_by_benchmark_and_metric_in_order() -> None:
    base = typed([bench_record({"a": [10.0], "b": [5.0]}, n=1), bench_record({"a": [11.0], "b": [5.5]}, n=2)])
    head = typed([bench_record({"a": [12.0], "c": [1.0]}, n=3), bench_record({"a": [13.0], "c": [1.0]}, n=4)])
    assert paired_values(base, head) == {("a", "latency_ms"): [(10.0, 12.0), (11.0, 13.0)]}
    other_unit = typed([bench_record({"a": [10.0]}, n=1, unit="s")])
    assert paired_values(other_unit, head[:1]) == {}


def test_only_suspect_rows_of_the_suite_and_environment_are_decided_again() -> None:
    rows = (row("a", "regression", change=0.3), row("b", "unchanged", change=0.0),
            row("a", "regression", change=0.3, suite="other"))
    comparison = Comparison(rows, "main", None, 0.05)
    base = typed([bench_record({"a": [10.0], "b": [5.0]}, n=n) for n in range(1, 5)])
    head = typed([bench_record({"a": [10.1], "b": [9.0]}, n=n) for n in range(5, 9)])
    decided = apply_pairs(comparison, "demo", rows[0].fingerprint, base, head, against="abc1234")
    again = {(r.suite, r.label): r for r in decided.rows}
    assert again["demo", "a"].verdict == "unchanged"
    assert again["demo", "a"].confirmation.pairs == ((10.0, 10.1),) * 4
    assert again["demo", "a"].confirmation.against == "abc1234"
    assert again["demo", "b"] == rows[1] and again["other", "a"] == rows[2]
    assert decided.rows[0].verdict == "regression"  # still worst first


def test_the_same_job_path_marks_the_rows_it_ran_again() -> None:
    rows = tuple(replace(r, current_values=(1.0,)) for r in (row("a", "regression", change=0.3), row("b")))
    marked = mark_same_job(Comparison(rows, "main", None, 0.05), "demo", rows[0].fingerprint, ["a"], runs=5,
                           reason="no merge base")
    a, b = marked.rows
    assert (a.confirmation.method, a.confirmation.runs, a.confirmation.reason) == ("same_job", 5, "no merge base")
    assert b.confirmation is None
