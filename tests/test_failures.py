"""Failed calls and vanished benchmarks as verdicts: broken, errors, missing."""

from __future__ import annotations

from typing import Any

import pytest
from comparefixtures import bench_record, history, sha, typed

from benchtrail.compare.comparison import compare_records
from benchtrail.compare.failures import Failures, decide_failures
from benchtrail.results.model import Benchmark, Metric

STEADY = [10.0] * 12


def failures(calls: int, failed: int, first: str | None = None) -> Failures:
    found = Failures()
    found.add(Benchmark(name="b", kind="callable", metrics={"x": Metric("ms", "lower", 1.0)}, calls=calls,
                        errors=failed, error_samples=(first,) if first else None))
    return found


def test_nothing_failed_on_either_side_says_nothing() -> None:
    assert decide_failures(failures(100, 0), failures(100, 0)) is None
    assert decide_failures(failures(100, 0), None) is None


def test_every_call_failed_is_broken_whatever_the_baseline() -> None:
    for baseline in (None, failures(100, 0), failures(100, 100)):
        decision = decide_failures(failures(50, 50, "boom"), baseline)
        assert decision is not None and decision.verdict == "broken" and decision.current == 100.0


def test_new_errors_where_there_were_none() -> None:
    decision = decide_failures(failures(1000, 1), failures(3000, 0))
    assert decision is not None and decision.verdict == "errors"
    assert (decision.baseline, decision.current, decision.change) == (0.0, pytest.approx(0.1), None)
    assert decide_failures(failures(10, 2), None).verdict == "errors"  # type: ignore[union-attr]


@pytest.mark.parametrize(("now", "before", "verdict"), [
    ((1000, 40), (3000, 30), "errors"),        # 4 % against 1 %: clearly more
    ((1000, 12), (3000, 30), "unchanged"),     # 1.2 % against 1 %: chance
    ((1000, 0), (3000, 30), "improvement"),    # the errors are gone
    ((1000, 1), (3000, 300), "improvement"),   # 0.1 % against 10 %
])
def test_more_errors_must_be_clearly_more(now: tuple[int, int], before: tuple[int, int], verdict: str) -> None:
    decision = decide_failures(failures(*now), failures(*before))
    assert decision is not None and decision.verdict == verdict


def with_errors(record: dict[str, Any], name: str, errors: int, message: str = "ValueError: bad row") -> dict[str, Any]:
    (entry,) = (e for e in record["benchmarks"] if e["name"] == name)
    entry["errors"] = errors
    entry["error_samples"] = [message]
    return record


def test_a_broken_benchmark_stands_first_with_its_message() -> None:
    past = history(STEADY, seed=3)
    now = bench_record({"double": [10.0, 10.1, 9.9]}, n=100, ref="feature")
    comparison = compare_records(typed([with_errors(now, "double", 30, "RuntimeError: <oops> | x")]), typed(past),
                                 target_ref="main")
    first = comparison.rows[0]
    assert (first.verdict, first.metric, first.unit, first.detail) == (
        "broken", "errors", "%", "RuntimeError: <oops> | x")
    assert comparison.verdict == "broken" and comparison.failed


def test_a_benchmark_the_baseline_has_and_the_records_lack_is_missing() -> None:
    past = [bench_record({"double": [10.0] * 3, "gone": [5.0] * 3}, n=n) for n in range(1, 6)]
    now = bench_record({"double": [10.0, 10.1, 9.9]}, n=100, ref="feature")
    comparison = compare_records(typed([now]), typed(past), target_ref="main")
    (missing,) = [r for r in comparison.rows if r.verdict == "missing"]
    assert (missing.label, missing.metric, missing.decision.current) == ("gone", "presence", None)
    assert comparison.rows[0] == missing and comparison.failed
    allowed = compare_records(typed([now]), typed(past), target_ref="main", gate=("broken", "errors", "regression"))
    assert allowed.verdict == "missing" and not allowed.failed


def test_only_the_latest_baseline_commit_says_what_exists() -> None:
    """A benchmark removed long ago (still in old baseline commits) is not missing."""
    past = [bench_record({"double": [10.0] * 3, "old": [5.0] * 3}, n=n) for n in range(1, 4)]
    past += [bench_record({"double": [10.0] * 3}, n=n) for n in range(4, 8)]
    now = bench_record({"double": [10.0, 10.1, 9.9]}, n=100, ref="feature")
    assert all(r.verdict != "missing" for r in compare_records(typed([now]), typed(past), target_ref="main").rows)


def test_errors_in_the_baseline_too_are_compared_as_a_rate() -> None:
    past = [with_errors(bench_record({"double": [10.0] * 3}, n=n), "double", 1) for n in range(1, 8)]
    now = with_errors(bench_record({"double": [10.0, 10.1, 9.9]}, n=100, ref="feature"), "double", 1)
    rows = compare_records(typed([now]), typed(past), target_ref="main").rows
    (errors,) = [r for r in rows if r.metric == "errors"]
    assert errors.verdict == "unchanged" and errors.decision.baseline_runs == 7 * 30
    assert sha(100) not in (errors.detail or "")
