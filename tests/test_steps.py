"""Steps in a recorded history, attributed to the commit where the new level starts."""

from __future__ import annotations

import pytest
from comparefixtures import OTHER_FINGERPRINT, bench_record, history, sha, stamp, typed

from benchtrail.compare.steps import find_steps
from benchtrail.results.series import series as typed_series


def series(records):  # type: ignore[no-untyped-def]
    return typed_series(typed(records))

STEP_AT = 13  # commits 1..12 at 10 ms, 13..24 at 13 ms


def stepped(**fields):  # type: ignore[no-untyped-def]
    return history([10.0] * 12 + [13.0] * 12, seed=11, **fields)


def test_a_30_percent_step_is_reported_at_its_commit() -> None:
    (step,), _ = find_steps(series(stepped()))
    assert (step.suite, step.benchmark, step.metric, step.unit) == ("demo", "double", "latency_ms", "ms")
    assert step.commit == sha(STEP_AT) and step.ref == "main" and step.started_at == stamp(STEP_AT)
    assert step.before == pytest.approx(10.0, rel=0.02) and step.after == pytest.approx(13.0, rel=0.02)
    assert step.change == pytest.approx(0.3, abs=0.03)
    assert step.worse


@pytest.mark.parametrize("seed", range(10))
def test_pure_noise_has_no_steps(seed: int) -> None:
    assert find_steps(series(history([10.0] * 30, seed=seed, cv=0.05))) == ([], [])


@pytest.mark.parametrize(("after", "worse"), [(70.0, True), (130.0, False)])
def test_worse_follows_the_direction(after: float, worse: bool) -> None:
    records = history([100.0] * 10 + [after] * 10, seed=12, direction="higher", unit="items/s")
    (step,), _ = find_steps(series(records))
    assert step.worse is worse and step.direction == "higher" and step.commit == sha(11)


def test_each_series_is_its_own_and_one_that_cannot_have_steps_says_why() -> None:
    records = stepped() + history([10.0] * 24, seed=13, fingerprint=OTHER_FINGERPRINT)
    records += [bench_record({"zero": [0.0, 0.0]}, n=n) for n in range(1, 25)]
    records += [bench_record({"short": [1.0, 1.1]}, n=n) for n in range(1, 5)]
    steps, notes = find_steps(series(records))
    assert [(s.benchmark, s.fingerprint, s.commit) for s in steps] == [
        ("double", records[0]["environment"]["fingerprint"], sha(STEP_AT))]
    assert [note.split(": ", 1)[1] for note in notes if " latency_ms " in note] == [
        "no change points: 4 values, too few to find a change point (10 needed)",
        "no change points: every value is the same"]


def test_a_step_through_zero_is_found_on_a_linear_scale() -> None:
    records = [bench_record({"delta": [-5.0 + 0.1 * (n % 3)] * 2}, n=n) for n in range(1, 13)]
    records += [bench_record({"delta": [5.0 - 0.1 * (n % 3)] * 2}, n=n) for n in range(13, 25)]
    (step,), _ = find_steps([p for p in series(records) if p.metric == "latency_ms"])
    assert step.commit == sha(13) and step.before == pytest.approx(-5, abs=0.2) and step.change > 1.8


def test_steps_come_by_series_then_in_time_order() -> None:
    levels = [10.0] * 10 + [13.0] * 10 + [17.0] * 10
    records = history(levels, seed=14, benchmark="b") + history(levels, seed=15, benchmark="a")
    steps, _ = find_steps(series(records))
    assert [(s.benchmark, s.commit) for s in steps] == [
        ("a", sha(11)), ("a", sha(21)), ("b", sha(11)), ("b", sha(21))]
