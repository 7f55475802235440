"""Change points on seeded synthetic histories with known answers, and on pure noise."""

from __future__ import annotations

import itertools
import math
import sys
import time
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from benchtrail.compare.changepoints import (
    ChangePoint,
    describe_change_points,
    detect_change_points,
    unanalysable,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "perf"))
from histories import ci_history, random_steps, wandering_history

CVS = (0.01, 0.02, 0.03, 0.05)


def near(found: list[int], truth: list[int], margin: int) -> bool:
    """Every true point has a detection within ``margin``, and there is nothing else."""
    return len(found) == len(truth) and all(abs(f - t) <= margin for f, t in zip(found, truth))


def test_a_single_step_is_found_where_it_starts() -> None:
    history = ci_history(np.random.default_rng(1), 100, cv=0.02, steps=[(60, 0.2)])
    assert detect_change_points(history.medians) == [60]


def test_a_speed_up_is_found_too() -> None:
    history = ci_history(np.random.default_rng(2), 80, cv=0.03, steps=[(30, -0.25)])
    assert detect_change_points(history.medians) == [30]


@pytest.mark.parametrize("cv", CVS)
@pytest.mark.parametrize("seed", range(5))
def test_several_steps_of_5_to_30_percent_with_outliers(cv: float, seed: int) -> None:
    # Steps of at least 3 noise sigmas, 30 records apart: each is clear to the eye.
    sizes = [s for s in (0.05, -0.05, 0.1, -0.1, 0.2, -0.2, 0.3, -0.3) if abs(s) >= 3 * cv]
    rng = np.random.default_rng([seed, int(cv * 100)])
    steps = random_steps(rng, 200, count=3, min_gap=30, sizes=sizes)
    history = ci_history(rng, 200, cv=cv, outlier_rate=0.02, outlier_scale=4.0, steps=steps)
    assert near(detect_change_points(history.medians), history.change_points, margin=3)


def test_steps_under_a_slow_drift_are_found_and_the_drift_is_not_a_step() -> None:
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng([seed, 7])
        steps = random_steps(rng, 200, count=2, min_gap=40, sizes=(0.1, -0.1))
        history = ci_history(rng, 200, cv=0.01, drift=2e-4 * (-1) ** seed, steps=steps)
        hits += near(detect_change_points(history.medians), history.change_points, margin=2)
    assert hits >= 19


def test_pure_noise_with_outliers_almost_never_gives_a_change_point() -> None:
    series = 400
    flagged = sum(
        bool(detect_change_points(ci_history(np.random.default_rng([seed, 11]), 100,
                                             cv=CVS[seed % 4], outlier_rate=0.02).medians))
        for seed in range(series))
    assert flagged / series <= 0.01


def test_a_slow_drift_alone_almost_never_gives_a_change_point() -> None:
    flagged = sum(
        bool(detect_change_points(ci_history(np.random.default_rng([seed, 12]), 200, cv=0.01,
                                             drift=2e-4 * (-1) ** seed).medians))
        for seed in range(100))
    assert flagged <= 2


@pytest.mark.parametrize("where", [0, 1, 30, 58, 59])
@pytest.mark.parametrize("factor", [3.0, 0.3])
def test_an_outlier_alone_gives_nothing(where: int, factor: float) -> None:
    values = ci_history(np.random.default_rng(3), 60, cv=0.02, outlier_rate=0.0).medians
    values[where] *= factor
    assert detect_change_points(values) == []


def test_two_adjacent_outliers_give_nothing() -> None:
    values = ci_history(np.random.default_rng(4), 60, cv=0.02, outlier_rate=0.0).medians
    values[20] *= 2.0
    values[21] *= 2.5
    assert detect_change_points(values) == []


def test_too_short_and_constant_series_give_nothing() -> None:
    assert detect_change_points([]) == []
    assert detect_change_points([1.0]) == []
    assert detect_change_points([1.0] * 5 + [2.0] * 4) == []  # under 2 * min_size
    assert detect_change_points([3.5] * 50) == []
    assert describe_change_points([3.5] * 50) == []


def test_an_exact_step_between_constant_levels_is_found() -> None:
    # Most successive differences are 0: the noise scale falls back on the mean difference.
    assert detect_change_points([1.0] * 10 + [2.0] * 10) == [10]


def test_min_size_is_respected_and_checked() -> None:
    values = ci_history(np.random.default_rng(9), 43, cv=0.01, steps=[(20, 1.0), (23, -0.5)]).medians
    assert detect_change_points(values, min_size=3) == [20, 23]
    bounds = [0, *detect_change_points(values), 43]
    assert min(b - a for a, b in itertools.pairwise(bounds)) >= 5
    with pytest.raises(ValueError, match="min_size"):
        detect_change_points(values, min_size=0)


@pytest.mark.parametrize(("bad", "message"), [(0.0, "finite positive"), (-1.0, "finite positive"),
                                              (math.nan, "finite"), (math.inf, "finite")])
def test_values_without_a_logarithm_are_refused(bad: float, message: str) -> None:
    values = [1.0] * 30
    values[7] = bad
    with pytest.raises(ValueError, match=rf"values\[7\]: expected a {message} number"):
        detect_change_points(values)


def test_zero_and_negative_values_are_analysed_on_a_linear_scale() -> None:
    rng = np.random.default_rng(5)
    values = list(rng.normal(-5.0, 0.3, 30)) + list(rng.normal(5.0, 0.3, 30))
    (found,) = describe_change_points(values)
    assert found.index == 30 and found.before == pytest.approx(-5, abs=0.3) and found.change == pytest.approx(2, abs=0.2)
    from_zero = describe_change_points([0.0] * 20 + [3.0, 3.1, 2.9, 3.0, 3.05] * 4)
    assert [(c.index, c.change) for c in from_zero] == [(20, math.inf)]
    assert detect_change_points([0.0, 1.0] * 20, scale="linear") == []


@pytest.mark.parametrize(("values", "why"), [
    ([1.0] * 9, "9 values, too few to find a change point (10 needed)"),
    ([2.0] * 30, "every value is the same"),
    ([1.0, math.nan] * 10, "a value is not a finite number"),
    ([1.0, 2.0] * 10, None),
])
def test_what_cannot_be_analysed_says_why(values: list[float], why: str | None) -> None:
    assert unanalysable(values) == why


def test_a_nested_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="flat sequence"):
        detect_change_points([[1.0, 2.0]] * 20)  # type: ignore[list-item]


@pytest.mark.parametrize("seed", range(10))
def test_the_unit_does_not_matter(seed: int) -> None:
    rng = np.random.default_rng([seed, 5])
    steps = random_steps(rng, 150, count=2, min_gap=20, sizes=(0.05, -0.1, 0.2))
    values = np.array(ci_history(rng, 150, cv=CVS[seed % 4], steps=steps).medians)
    found = detect_change_points(values.tolist())
    for scale in (1e3, 1e-6):
        assert detect_change_points((values * scale).tolist()) == found


def test_the_penalty_can_be_set() -> None:
    history = ci_history(np.random.default_rng(6), 100, cv=0.02, steps=[(50, 0.1)])
    assert detect_change_points(history.medians, penalty=1e6) == []
    assert detect_change_points(history.medians, penalty=0.0)  # every cut is free


def test_describe_gives_the_medians_around_each_step() -> None:
    history = ci_history(np.random.default_rng(7), 120, cv=0.01, steps=[(40, 0.2), (80, -0.5)])
    found = describe_change_points(history.medians)
    assert [c.index for c in found] == [40, 80]
    first, second = found
    assert first.before == pytest.approx(np.median(history.medians[:40]))
    assert first.after == second.before == pytest.approx(np.median(history.medians[40:80]))
    assert second.after == pytest.approx(np.median(history.medians[80:]))
    assert first.change == pytest.approx(first.after / first.before - 1)
    assert first.change == pytest.approx(0.2, abs=0.01)
    assert second.change == pytest.approx(-0.5, abs=0.01)
    with pytest.raises(FrozenInstanceError):
        first.index = 3  # type: ignore[misc]
    assert isinstance(first, ChangePoint)


def test_1000_points_take_well_under_half_a_second() -> None:
    rng = np.random.default_rng(8)
    for count in (0, 10):
        steps = random_steps(rng, 1000, count=count, min_gap=40, sizes=(0.1, -0.1))
        values = ci_history(rng, 1000, cv=0.03, drift=1e-5, steps=steps).medians
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            detect_change_points(values)
            best = min(best, time.perf_counter() - start)
        assert best < 0.5


@pytest.mark.parametrize("phi", [0.5, 0.8])
def test_noise_that_wanders_is_not_cut_into_steps(phi: float) -> None:
    cut = sum(bool(detect_change_points(wandering_history(np.random.default_rng([seed, 21]), 200, phi=phi)))
              for seed in range(40))
    assert cut <= 2  # the penalty alone, in units of neighbouring differences, cut 75-100 % of them


def test_a_step_in_wandering_noise_is_still_found() -> None:
    values = np.array(wandering_history(np.random.default_rng(22), 200, phi=0.5, cv=0.02))
    values[100:] *= 1.3
    assert detect_change_points(list(values)) == [100]


# --- bimodal benchmarks: a change of mix is no change of level ------------------------------


def bimodal(rng: np.random.Generator, shares: list[tuple[int, float]], low: float = 25.0,
            high: float = 60.0) -> list[float]:
    """Runs that land at ``low`` or ``high`` (2 % noise), ``share`` of them high, per stretch of
    ``length`` records: tokio's ``send_large``, whose mix changes from week to week."""
    values = []
    for length, share in shares:
        modes = np.where(rng.random(length) < share, high, low)
        values += [float(v) for v in modes * np.exp(rng.normal(0, 0.02, length))]
    return values


def test_a_change_of_mix_in_a_bimodal_series_is_merged_and_a_real_step_is_not() -> None:
    # The detector cuts a bimodal series where its share of high-mode runs changes (tokio's
    # send_large: 6 cuts, 2 real steps); such a cut keeps both bands and is merged away.
    from benchtrail.compare.changepoints import _one_band

    rng = np.random.default_rng(4)
    mix = np.log(bimodal(rng, [(100, 0.2), (100, 0.7)]))
    assert _one_band(mix, [100]) == []
    stepped = np.log(bimodal(rng, [(100, 0.2)], low=80.0, high=135.0) + bimodal(rng, [(100, 0.2)]))
    assert _one_band(stepped, [100]) == [100]  # both modes dropped: a new level
    stairs = np.log([10.0] * 10 + [13.0] * 10 + [17.0] * 10) + rng.normal(0, 0.01, 30)
    assert _one_band(stairs, [10, 20]) == [10, 20]


def test_modes_that_stay_are_a_change_of_mix_and_modes_that_move_a_step() -> None:
    # Both modes 30 % slower while the slow mode's share goes from 1/3 to 2/3: the median
    # jumps across the gap further than the bands move, yet the modes moved: a real step.
    from benchtrail.compare.changepoints import _one_band

    rng = np.random.default_rng(6)
    before, after = [25.0, 25.0, 60.0] * 20, [32.5, 78.0, 78.0] * 20
    stepped = np.log(before + after) + rng.normal(0, 0.02, 120)
    assert _one_band(stepped, [60]) == [60]
    # Only the share of the slow mode changes (40 % to 12 %), the median stays low: mix.
    fewer = [25.0] * 3 + [60.0] * 2
    mix = np.log(fewer * 20 + ([25.0] * 7 + [60.0]) * 12) + rng.normal(0, 0.02, 196)
    assert _one_band(mix, [100]) == []


def test_a_short_run_in_one_mode_is_merged_and_a_short_excursion_is_not() -> None:
    # tokio's send_large near its end: five runs at the low mode between stretches at both
    # modes; the run is one of its neighbour's modes, not a new level.
    from benchtrail.compare.changepoints import _one_band

    rng = np.random.default_rng(5)
    modes = [25.0, 25.0, 60.0] * 20 + [25.0] * 5 + [60.0, 60.0, 25.0, 60.0] * 3  # 1/3 high, 5 low, 3/4 high
    run = np.log(modes) + rng.normal(0, 0.02, len(modes))
    assert _one_band(run, [60, 65]) == []
    noise = rng.normal(0, 0.01, 50)
    excursion = np.log([10.0] * 20 + [15.0] * 5 + [10.0] * 25) + noise
    assert _one_band(excursion, [20, 25]) == [20, 25]  # a real regression, fixed five commits later
    short_stairs = np.log([10.0] * 20 + [13.0] * 5 + [17.0] * 25) + noise
    assert _one_band(short_stairs, [20, 25]) == [20, 25]
    assert _one_band(np.log([10.0] * 5 + [10.5] * 5) + noise[:10], [5]) == [5]  # two short segments
    assert detect_change_points(bimodal(rng, [(200, 0.3), (5, 0.0), (40, 0.3)])) == []
