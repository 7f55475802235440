"""A comparison: the records under test against their baselines, one row per benchmark x
metric x environment, worst first."""

from __future__ import annotations

import numpy as np
import pytest
from comparefixtures import (
    FINGERPRINT,
    OTHER_FINGERPRINT,
    STEP_AFTER_6,
    bench_record,
    history,
    noisy,
    sha,
    typed,
)

from benchtrail.compare.comparison import compare_records as compare_typed
from benchtrail.compare.comparison import overall_verdict
from benchtrail.compare.rule import VERDICTS
from benchtrail.errors import RecordError

STEADY = [10.0] * 12


def compare_records(current, history, **options):  # type: ignore[no-untyped-def]
    return compare_typed(typed(current), typed(history), **options)


def current(values: dict[str, list[float]], **fields):  # type: ignore[no-untyped-def]
    return bench_record(values, n=100, ref="feature", **fields)


def test_repeated_records_of_one_suite_and_commit_pool_their_runs() -> None:
    past = history(STEADY, seed=1)
    records = [bench_record({"double": [10.0, 10.1, 9.9]}, n=100, rerun=k, ref="feature") for k in range(3)]
    comparison = compare_records(records, past, target_ref="main")
    (only,) = comparison.rows
    assert only.decision.current_runs == 9 and only.decision.baseline_runs == 36
    assert only.verdict == "unchanged"
    assert comparison.source.commit == sha(100)


def test_pooled_runs_outvote_one_slow_record() -> None:
    past = history(STEADY, seed=2)
    slow = current({"double": [15.0, 15.2, 14.9]})
    assert compare_records([slow], past, target_ref="main").verdict == "regression"
    again = [bench_record({"double": [10.0, 10.1, 9.95]}, n=100, rerun=k, ref="feature") for k in (1, 2)]
    assert compare_records([slow, *again], past, target_ref="main").verdict == "unchanged"


def test_records_of_one_suite_and_environment_must_be_of_one_commit() -> None:
    records = [bench_record({"double": [1.0]}, n=100, ref="feature"), bench_record({"double": [1.0]}, n=101)]
    with pytest.raises(RecordError, match=f"the records of suite 'demo' are of 2 commits "
                                          f"\\({sha(100)[:12]}, {sha(101)[:12]}\\): compare the runs of one commit"):
        compare_records(records, [], target_ref="main")
    records[1]["suite"] = "other"  # another suite may come from another job's commit
    assert len(compare_records(records, [], target_ref="main").rows) == 2


def test_each_fingerprint_is_its_own_row_with_its_own_baseline() -> None:
    past = history(STEADY, seed=3) + history([20.0] * 12, seed=4, fingerprint=OTHER_FINGERPRINT)
    records = [current({"double": [10.0, 10.0, 10.1]}), current({"double": [20.0, 20.1, 19.9]},
                                                                 fingerprint=OTHER_FINGERPRINT)]
    comparison = compare_records(records, past, target_ref="main")
    assert sorted(r.fingerprint for r in comparison.rows) == sorted([FINGERPRINT, OTHER_FINGERPRINT])
    assert {r.verdict for r in comparison.rows} == {"unchanged"}
    assert set(comparison.baselines) == {("demo", FINGERPRINT), ("demo", OTHER_FINGERPRINT)}


def test_rows_come_worst_first() -> None:
    rng = np.random.default_rng(5)
    past = [bench_record({name: noisy(rng, 10.0) for name in "abcde"}, n=n) for n in range(1, 13)]
    now = current({"a": [10.0] * 3, "b": [12.0] * 3, "c": [15.0] * 3, "d": [8.0] * 3, "e": [10.0] * 3,
                   "new": [3.0] * 3})
    comparison = compare_records([now], past, target_ref="main")
    assert [(r.benchmark, r.verdict) for r in comparison.rows] == [
        ("c", "regression"), ("b", "regression"), ("new", "no_baseline"), ("d", "improvement"),
        ("a", "unchanged"), ("e", "unchanged")]
    assert comparison.verdict == "regression"


def test_higher_is_better_metrics_sort_by_their_bad_direction() -> None:
    past = [bench_record({"x": {"throughput": [100.0] * 3}, "y": {"throughput": [100.0] * 3}}, n=i,
                         direction="higher", unit="items/s") for i in range(1, 11)]
    now = current({"x": {"throughput": [80.0] * 3}, "y": {"throughput": [60.0] * 3}},
                  direction="higher", unit="items/s")
    rows = compare_records([now], past, target_ref="main").rows
    assert [(r.benchmark, r.verdict, r.direction, r.unit) for r in rows] == [
        ("y", "regression", "higher", "items/s"), ("x", "regression", "higher", "items/s")]


def test_for_suite_keeps_only_that_suite() -> None:
    past = history(STEADY, seed=6) + history(STEADY, seed=7, suite="other")
    records = [current({"double": [12.0] * 3}), current({"double": [10.0] * 3}, suite="other")]
    comparison = compare_records(records, past, target_ref="main", min_effect=0.1)
    assert comparison.suites == ["demo", "other"]
    part = comparison.for_suite("other")
    assert [r.suite for r in part.rows] == ["other"] and list(part.baselines) == [("other", FINGERPRINT)]
    assert part.min_effect == 0.1 and part.target_ref == "main" and part.source == comparison.source
    assert comparison.for_suite("demo").verdict == "regression" and part.verdict == "unchanged"


def test_an_image_change_is_noted_but_still_compared() -> None:
    past = history(STEADY, seed=8)
    comparison = compare_records([current({"double": [10.0] * 3}, image="sha256:" + "1" * 64)], past,
                                 target_ref="main")
    [[note]] = comparison.environment_notes.values()
    assert note.startswith("image changed since the baseline: digest sha256:9d1f0e6c2b7a… → sha256:")
    assert comparison.verdict == "unchanged"
    same = compare_records([current({"double": [10.0] * 3})], past, target_ref="main")
    assert same.environment_notes == {("demo", FINGERPRINT): ()}


def test_a_change_of_thread_settings_is_named_beside_the_numbers() -> None:
    def with_threads(record, threads: int, variables: dict[str, str]):  # type: ignore[no-untyped-def]
        record["environment"]["threads"] = {"variables": variables, "pools": [
            {"user_api": "blas", "internal_api": "openblas", "num_threads": threads}]}
        return record

    past = [with_threads(r, 2, {}) for r in history(STEADY, seed=8)]
    now = with_threads(current({"double": [10.0] * 3}), 1, {"OMP_NUM_THREADS": "1"})
    [[note]] = compare_records([now], past, target_ref="main").environment_notes.values()
    assert note == ("thread settings changed since the baseline: default: openblas 2 threads → "
                    "OMP_NUM_THREADS=1; openblas 1 thread")
    same = with_threads(current({"double": [10.0] * 3}), 2, {})
    assert compare_records([same], past, target_ref="main").environment_notes == {("demo", FINGERPRINT): ()}


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_commit_measured_several_times_is_several_jobs_not_one_jobs_runs(seed: int) -> None:
    """tokio's history: one run per job at 10 % job noise, a few commits measured twice.
    Counted as one job's runs, their spread read as run noise with two degrees of freedom
    and set the threshold at 50 % to 3,000 % with these seeds; as jobs, at 21-44 %."""
    rng = np.random.default_rng(seed)
    past = [bench_record({"double": [float(10 * np.exp(rng.normal(0, 0.10)))]}, n=n, rerun=rerun)
            for n in range(1, 21) for rerun in range(2 if n in (7, 15) else 1)]
    (row,) = compare_records([current({"double": [12.5]})], past, target_ref="main").rows
    assert row.decision.threshold < 0.45 and row.decision.baseline_runs == 22
    assert len(row.baseline_values) == 22  # one group per job


def test_runs_only_in_another_environment_give_environment_changed() -> None:
    past = history(STEADY, seed=9, fingerprint=OTHER_FINGERPRINT)
    comparison = compare_records([current({"double": [30.0, 31.0, 29.0]})], past, target_ref="main")
    (only,) = comparison.rows
    assert only.verdict == "environment_changed" == comparison.verdict
    assert only.decision.baseline is None and only.decision.current == 30.0 and only.decision.current_runs == 3


def test_the_merge_base_limits_the_baseline() -> None:
    past = history(STEP_AFTER_6, seed=10)
    now = current({"double": [10.0, 10.1, 9.9]})
    assert compare_records([now], past, target_ref="main").verdict == "improvement"
    comparison = compare_records([now], past, target_ref="main", merge_base=sha(6))
    assert comparison.verdict == "unchanged" and comparison.merge_base == sha(6)
    assert comparison.baselines["demo", FINGERPRINT].anchor == sha(6)


def test_params_and_labels() -> None:
    past = [bench_record({"double": [1.0] * 3}, n=i, params={"batch_size": 4}) for i in range(1, 6)]
    (only,) = compare_records([current({"double": [1.0] * 3}, params={"batch_size": 4})], past,
                              target_ref="main").rows
    assert only.params == (("batch_size", 4),) and only.label == "double[batch_size=4]"
    assert only.verdict == "unchanged"


def test_overall_verdict_is_the_worst() -> None:
    assert overall_verdict([]) == "no_baseline"
    assert overall_verdict(["unchanged", "improvement"]) == "improvement"
    assert overall_verdict(reversed(VERDICTS)) == "broken"
    assert overall_verdict(["regression", "errors", "unchanged"]) == "errors"
    assert overall_verdict(["inconclusive", "regression"]) == "regression"
    with pytest.raises(ValueError, match="no records"):
        compare_records([], [], target_ref="main")


def test_a_distribution_keeps_its_p99_on_both_sides_from_the_level_compared_with() -> None:
    from benchtrail.results.model import Distribution

    def latency(level: float, tail: float, runs: list[float]) -> dict:  # type: ignore[type-arg]
        values = np.concatenate([np.full(98, level), np.full(2, tail)])
        return {"unit": "ms", "direction": "lower", **Distribution.of(values, 1.0).to_json(), "runs": runs}

    rng = np.random.default_rng(3)
    past = [bench_record({"chat": {"ttft_ms": latency(level, level * tail, noisy(rng, level, 3, 0.02))}}, n=i + 1)
            for i, (level, tail) in enumerate([(10.0, 3.0)] * 6 + [(13.0, 2.0)] * 6)]
    now = current({"chat": {"ttft_ms": latency(13.0, 40.0, [13.0, 13.1, 12.9])}})
    (row,) = compare_records([now], past, target_ref="main").rows
    # the baseline is the level after the step (13 ms): its p99 is of those records, not of the window
    assert row.decision.baseline == pytest.approx(13.0, rel=0.03) and row.tail == (26.0, 40.0)
    plain = compare_records([current({"double": [10.0, 10.1, 9.9]})], history(STEADY, seed=1), target_ref="main")
    assert plain.rows[0].tail is None  # a single value has no tail
