"""The regression rule on seeded histories with known answers, and on pure noise."""

from __future__ import annotations

import math
from collections import Counter
from statistics import NormalDist

import numpy as np
import pytest
from comparefixtures import noisy

from benchtrail.compare.rule import (
    ALPHA,
    ALPHA_FEW_RUNS,
    VERDICTS,
    Decision,
    decide,
    median_variance,
    run_noise,
    t_quantile,
)

#: the consistency factor of a standard deviation winsorized at 2.5 robust sigmas
WINSORIZED = 0.98849
#: the clipping point, 2.5 robust sigmas, in units of the median absolute deviation (a
#: normal sample's is sigma / 1.4826)
CLIP = 2.5 / NormalDist().inv_cdf(0.75)


def noise_history(seed: int, records: int = 20, runs: int = 3, cv: float = 0.03,
                  level: float = 10.0) -> tuple[list[list[float]], np.random.Generator]:
    rng = np.random.default_rng(seed)
    return [noisy(rng, level, runs, cv) for _ in range(records)], rng


def verdicts(records: int, runs: int, current_runs: int, *, seeds: int, **options: float) -> Counter[str]:
    """Verdicts of A/A comparisons: the current runs come from the same level as the history."""
    found: Counter[str] = Counter()
    for seed in range(seeds):
        past, rng = noise_history(seed, records, runs)
        found[decide(past, noisy(rng, 10.0, current_runs, 0.03), **options).verdict] += 1
    return found


def test_a_a_on_1000_seeded_histories_is_almost_never_a_regression() -> None:
    found = verdicts(20, 3, 3, seeds=1000)
    assert found["regression"] <= 10 and found["improvement"] <= 10  # at most 1 %
    assert found["unchanged"] >= 950


def test_a_a_without_a_minimum_effect_alarms_at_about_alpha() -> None:
    """Only the noise test stands between noise and a verdict: one-sided false alarms
    stay near ALPHA (1 % with three runs), far from the 5 % a plain 2-sigma rule would give."""
    found = verdicts(20, 3, 3, seeds=500, min_effect=0.0)
    assert found["regression"] <= 10 and found["improvement"] <= 10
    assert found["regression"] + found["improvement"] + found["inconclusive"] == 500


def test_a_a_on_short_single_run_histories_keeps_the_false_alarm_rate() -> None:
    """An odd group's median is one of its values: counted as a zero deviation, it shrank
    the noise of short single-run histories (34 false alarms in 1,000, not 3)."""
    found = verdicts(4, 1, 1, seeds=1000, min_effect=0.0)
    assert found["regression"] <= 8 and found["improvement"] <= 8


def test_a_20_percent_step_on_three_runs_is_a_regression() -> None:
    for seed in range(20):
        past, rng = noise_history(seed)
        decision = decide(past, noisy(rng, 12.0, 3, 0.03))
        assert decision.verdict == "regression", seed
        assert decision.change == pytest.approx(0.2, abs=0.05)


@pytest.mark.parametrize(("direction", "level", "verdict"), [
    ("lower", 8.0, "improvement"), ("lower", 12.0, "regression"),
    ("higher", 12.0, "improvement"), ("higher", 8.0, "regression"),
])
def test_direction_decides_good_and_bad(direction: str, level: float, verdict: str) -> None:
    past, _ = noise_history(5)
    decision = decide(past, [level * 0.99, level, level * 1.01], direction=direction)
    assert decision.verdict == verdict
    assert decision.current == pytest.approx(level * (0.99 * 1.01) ** (1 / 3))  # their geometric mean
    assert decision.baseline == pytest.approx(10.0, rel=0.01)
    assert decision.change == pytest.approx(decision.current / decision.baseline - 1)


def test_a_change_below_the_minimum_effect_is_unchanged_even_without_noise() -> None:
    past = [[10.0, 10.0, 10.0]] * 20
    decision = decide(past, [10.3, 10.3, 10.3])
    assert decision.noise == 0.0
    assert decision.verdict == "unchanged"
    assert not decision.suspect  # no noise: 3 % is known to be 3 %, well within the 5 %
    assert decide(past, [10.3] * 3, min_effect=0.02).verdict == "regression"
    assert decide(past, [11.0] * 3).verdict == "regression"


def test_a_change_beyond_the_minimum_effect_inside_large_noise_is_inconclusive() -> None:
    rng = np.random.default_rng(6)
    past = [noisy(rng, 10.0, 3, 0.3) for _ in range(5)]
    decision = decide(past, [12.8, 13.0, 13.2])
    assert decision.change is not None and decision.change > 0.05
    assert decision.verdict == "inconclusive"
    assert decision.threshold is not None and decision.threshold > decision.change


def test_one_outlying_current_run_among_three_is_not_a_regression() -> None:
    past, _ = noise_history(7)
    decision = decide(past, [10.1, 30.0, 9.9])
    assert decision.verdict == "unchanged"
    assert decision.current == pytest.approx(math.sqrt(10.1 * 9.9))  # the mean of the other two
    assert decision.current_runs == 3


def test_an_outlying_baseline_run_is_set_aside_and_counts_only_as_a_clipped_deviation() -> None:
    """11 runs at 10·e^-s, 10 at 10·e^s and one at 30: their median is 10, every deviation is
    s but the outlier's, and the outlier is clipped at 2.5 robust sigmas (2.5 × 1.4826 × s)."""
    s = 0.05
    past = [[30.0]] + [[10 * math.exp(-s)], [10 * math.exp(s)]] * 10 + [[10 * math.exp(-s)]]
    decision = decide(past, [10 * math.exp(-s), 10.0, 10 * math.exp(s)])
    assert decision.verdict == "unchanged" and decision.baseline_runs == 22
    # 24 deviations (22 baseline, 2 current: a median's own zero is dropped), 21 + 2 dof
    assert decision.noise == pytest.approx(s * math.sqrt((23 + CLIP**2) / 23) / WINSORIZED, rel=1e-4)
    assert decision.baseline == pytest.approx(10 * math.exp((10 - 11) * s / 21))  # without the 30
    assert decision.current == pytest.approx(10.0)


def test_a_step_in_the_older_half_of_the_history_is_not_held_against_the_current_runs() -> None:
    rng = np.random.default_rng(8)
    past = [noisy(rng, 10.0) for _ in range(10)] + [noisy(rng, 12.5) for _ in range(10)]
    decision = decide(past, [12.4, 12.5, 12.6])
    assert decision.verdict == "unchanged"
    assert decision.baseline == pytest.approx(12.5, rel=0.03)
    assert decision.baseline_runs == 30  # the last segment only
    assert decide(past[:10], [12.4, 12.5, 12.6]).verdict == "regression"


def test_a_step_in_the_middle_of_a_short_window_is_a_step_not_a_slope() -> None:
    """Twelve single runs, the last six 20 % slower: a trend fitted along with the steps
    takes the step for a slope now and then, and would compare with the whole window."""
    for seed in range(40):
        rng = np.random.default_rng(seed)
        past = [noisy(rng, 10.0 if i < 6 else 12.0, 1, 0.03) for i in range(12)]
        decision = decide(past, noisy(rng, 12.0, 3, 0.03))
        assert decision.baseline_runs == 6, seed
        assert decision.baseline == pytest.approx(12.0, rel=0.05), seed


def test_a_step_just_before_the_merge_base_is_the_level_compared_with() -> None:
    """The target branch stepped +30 % two commits before the merge base (too few for a
    segment of their own): a merge request at that new level did nothing, and is compared
    with it (not with the level before the step, which would read +30 %), for every
    verdict: before, an inconclusive one kept the old level."""
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        past = [noisy(rng, 10.0 if i < 18 else 13.0, 3, 0.03) for i in range(20)]
        decision = decide(past, noisy(rng, 13.0, 3, 0.03))
        assert decision.verdict in ("unchanged", "inconclusive"), seed
        assert decision.baseline == pytest.approx(13.0, rel=0.06), seed
        assert decision.baseline_runs == 6, seed  # the two records after the step
        assert decide(past, noisy(rng, 13.0 * 1.25, 3, 0.03)).verdict == "regression", seed


def test_one_outlying_record_at_the_merge_base_is_not_a_level() -> None:
    """A merge request back at the usual level, faster than one outlying job at the merge
    base, is no improvement: the two levels disagree, and one record cannot tell them apart."""
    found: Counter[str] = Counter()
    for seed in range(200):
        rng = np.random.default_rng(300 + seed)
        past = [noisy(rng, 13.0 if i == 19 else 10.0, 1, 0.03) for i in range(20)]
        found[decide(past, noisy(rng, 10.0, 1, 0.03)).verdict] += 1
    assert found["improvement"] + found["regression"] <= 4, found


@pytest.mark.parametrize("jobs", [1, 2, 3, 4])
def test_a_few_baseline_jobs_cannot_tell_a_jobs_offset_from_a_change(jobs: int) -> None:
    """Every run of a job shares its machine's offset (job noise 3 % over run noise 1 %):
    with fewer than five baseline jobs that noise cannot be measured, so it is taken as at
    least a shared runner's. Before, the runs counted as independent and 6-14 % of
    no-change jobs read "regression"; a slowdown far beyond any job noise still does."""
    rng = np.random.default_rng(40 + jobs)
    alarms = 0
    for _ in range(300):
        past = [(np.exp(rng.normal(0, 0.03) + rng.normal(0, 0.01, 3))).tolist() for _ in range(jobs)]
        now = (np.exp(rng.normal(0, 0.03) + rng.normal(0, 0.01, 3))).tolist()
        alarms += decide(past, now).verdict == "regression"
        assert decide(past, [v * 100 for v in now]).verdict == "regression"
    assert alarms <= 3, alarms


@pytest.mark.parametrize("past", [[], [[], []]])
def test_no_history_is_no_baseline(past: list[list[float]]) -> None:
    assert decide(past, [1.0, 2.0]) == Decision("no_baseline", None, 1.5, current_runs=2)


@pytest.mark.parametrize(("past", "current", "verdict"), [
    ([[0.0, 0.0]] * 5, [0.0], "unchanged"),
    ([[-1.0, -1.1]] * 5, [-2.0], "inconclusive"),
    ([[1.0, 1.1]] * 5, [-2.0, 0.0], "inconclusive"),
])
def test_zero_and_negative_values_get_a_defined_verdict(past: list[list[float]], current: list[float],
                                                        verdict: str) -> None:
    decision = decide(past, current)
    assert decision.verdict == verdict
    assert decision.change == (0.0 if verdict == "unchanged" else None)
    assert decision.noise is None
    assert not decision.suspect  # a change that means nothing is not worth a run


def test_a_zero_in_the_history_is_set_aside() -> None:
    """A run that measured nothing (a goodput of 0) does not switch the rule off for the
    whole window: the other runs decide."""
    decision = decide([[0.0, 1.0, 1.02, 0.98]] * 6, [2.0, 2.02, 1.98])
    assert decision.verdict == "regression"
    assert decision.baseline_runs == 18 and decision.change == pytest.approx(1.0, rel=0.02)


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="direction must be 'lower' or 'higher', not 'up'"):
        decide([[1.0]], [1.0], direction="up")
    with pytest.raises(ValueError, match="no current runs"):
        decide([[1.0]], [])


def test_the_decision_carries_threshold_noise_and_run_counts() -> None:
    past, _ = noise_history(9, records=20, runs=3)
    decision = decide(past, [12.0, 12.1, 11.9, 12.2])
    assert decision.verdict in VERDICTS
    assert (decision.baseline_runs, decision.current_runs) == (60, 4)
    assert decision.noise == pytest.approx(0.03, rel=0.35)
    assert decision.threshold is not None and 0.05 <= decision.threshold < decision.change
    assert decision.current == pytest.approx((12.0 * 12.1 * 11.9 * 12.2) ** (1 / 4))


#: 20 single-run records alternating 10·e^-s and 10·e^s (s = 5 %): a baseline at exactly
#: 10 whose 40 runs all lie s from it (39 degrees of freedom), no change point
ALTERNATING = [[10 * math.exp(-0.05)], [10 * math.exp(0.05)]] * 20


def spread(level: float, runs: int, s: float = 0.05) -> list[float]:
    """``runs`` (1 to 3) values around ``level`` each s from their median (but the middle one)."""
    return {1: [level], 2: [level * math.exp(-s), level * math.exp(s)],
            3: [level * math.exp(-s), level, level * math.exp(s)]}[runs]


@pytest.mark.parametrize(("runs", "alpha", "verdict"), [
    (3, ALPHA, "regression"), (2, ALPHA_FEW_RUNS, "inconclusive"), (1, ALPHA_FEW_RUNS, "inconclusive")])
def test_the_threshold_follows_from_the_noise_its_degrees_of_freedom_and_the_run_counts(
        runs: int, alpha: float, verdict: str) -> None:
    """Every deviation is s = 5 %: sigma = s·sqrt(deviations / dof) / 0.98849; the levels are
    means, so the difference's variance is sigma²·(1/n_current + 1/40), and t is at 1 %
    with three current runs, at 0.2 % with fewer. A 10.5 % step (e^0.1) passes only the first."""
    s = 0.05
    deviations, dof = 40 + {1: 0, 2: 2, 3: 2}[runs], 39 + runs - 1
    sigma = s * math.sqrt(deviations / dof) / WINSORIZED
    decision = decide(ALTERNATING, spread(10 * math.exp(0.1), runs))
    assert decision.noise == pytest.approx(sigma, rel=1e-4)
    assert (decision.baseline, decision.current) == (pytest.approx(10.0), pytest.approx(10 * math.exp(0.1)))
    assert decision.change == pytest.approx(math.expm1(0.1))
    bar = t_quantile(alpha, dof) * sigma * math.sqrt(1 / runs + 1 / 40)
    assert decision.threshold == pytest.approx(math.expm1(bar), rel=1e-4)
    assert decision.verdict == verdict
    assert decide(ALTERNATING, spread(10 * math.exp(0.1), runs), alpha=alpha) == decision
    other = ALPHA if alpha == ALPHA_FEW_RUNS else ALPHA_FEW_RUNS
    assert decide(ALTERNATING, spread(10 * math.exp(0.1), runs), alpha=other).threshold != decision.threshold


@pytest.mark.parametrize(("log_change", "verdict", "suspect"), [
    (0.035, "unchanged", True),  # under the 5 % minimum effect, but within one error of it
    (0.005, "unchanged", False), (-0.035, "unchanged", False), (-0.12, "improvement", False),
    (0.065, "inconclusive", True), (0.12, "regression", True),
])
def test_a_change_within_one_standard_error_of_the_minimum_effect_is_suspect(
        log_change: float, verdict: str, suspect: bool) -> None:
    """With three current runs the error is sigma·sqrt(1/3 + 1/40) ≈ 3.06 %: a change is
    suspect when it is within that of ln(1.05) ≈ 4.88 % in the bad direction, past 1.8 %."""
    decision = decide(ALTERNATING, spread(10 * math.exp(log_change), 3))
    assert (decision.verdict, decision.suspect) == (verdict, suspect)
    higher = decide(ALTERNATING, spread(10 * math.exp(-log_change), 3), direction="higher")
    assert (higher.verdict, higher.suspect) == (verdict, suspect)


def test_without_a_noise_figure_any_change_is_suspect() -> None:
    decision = decide([[10.0]], [10.1])  # no run beyond its record's own median: no noise
    assert decision.noise is None and decision.threshold is None
    assert (decision.verdict, decision.suspect) == ("unchanged", True)
    same = decide([[10.0]], [10.0])
    assert (same.verdict, same.change, same.suspect) == ("unchanged", 0.0, False)


def test_the_noise_bar_widens_with_fewer_values() -> None:
    assert t_quantile(ALPHA, 100) < t_quantile(ALPHA, 10) < t_quantile(ALPHA, 2)
    assert (ALPHA, ALPHA_FEW_RUNS) == (0.01, 0.002)
    # the normal quantiles for infinite degrees of freedom, from any level in (0, 0.5)
    assert t_quantile(ALPHA, 1e9) == pytest.approx(2.326348, rel=1e-6)
    assert t_quantile(ALPHA_FEW_RUNS, 1e9) == pytest.approx(2.878162, rel=1e-6)
    assert t_quantile(0.05, 1e9) == pytest.approx(1.644854, rel=1e-6)
    assert t_quantile(ALPHA, 10) == pytest.approx(2.763769, rel=0.01)  # Student's t, 10 dof
    for alpha in (0.0, 0.5, 1.0, -0.01):
        with pytest.raises(ValueError, match="alpha must be between 0 and 0.5"):
            t_quantile(alpha, 10)
    assert [median_variance(n) for n in (1, 2, 3)] == [1.0, 0.5, 0.4487]
    assert median_variance(101) == pytest.approx(math.pi / 2 / 101, rel=0.01)
    with pytest.raises(ValueError):
        median_variance(0)


def test_run_noise_pools_groups_around_their_own_medians() -> None:
    rng = np.random.default_rng(3)
    groups = [noisy(rng, level, 200, 0.05) for level in (1.0, 100.0)]
    sigma, dof = run_noise(groups)
    assert sigma == pytest.approx(0.05, rel=0.1)
    assert dof == 398.0  # one level fitted per group
    assert run_noise([[1.0], [2.0]]) == (None, 0.0)
    assert run_noise([[], [3.0]]) == (None, 0.0)


def test_run_noise_is_a_winsorized_standard_deviation_of_log_deviations() -> None:
    s = 0.1

    def logs(*values: float) -> list[float]:
        return [math.exp(v * s) for v in values]

    # an even group: its median halfway, both values s/2 from it, one degree of freedom
    assert run_noise([logs(0, 1)]) == (pytest.approx(s / math.sqrt(2) / WINSORIZED), 1.0)
    # an odd group's median is one of its values: its zero is dropped, the dof are still n - 1
    assert run_noise([logs(-1, 0, 1)]) == (pytest.approx(s / WINSORIZED), 2.0)
    # an outlying run counts as a deviation of 2.5 robust sigmas, not 9 s: the deviations are
    # 2, 1, 1, 9 (s), the median's zero left out, so the robust sigma is 1.4826 × 1.5 s
    sigma, dof = run_noise([logs(-2, -1, 0, 1, 9)])
    assert dof == 4.0
    assert sigma == pytest.approx(s * math.sqrt((4 + 1 + 1 + (CLIP * 1.5) ** 2) / 4) / WINSORIZED)
    # mostly identical runs (a robust sigma of 0): the plain root mean square over the dof
    assert run_noise([logs(0, 0, 0, 0, 1)]) == (pytest.approx(s / 2), 4.0)
    assert run_noise([[5.0] * 4, [7.0] * 3]) == (0.0, 5.0)


def test_runs_at_the_ends_of_the_float_range_give_a_finite_change() -> None:
    # 1e-300 against 1e300: a log ratio of 1,381, whose exp overflows a float
    decision = decide([[1e-300, 1.1e-300, 0.9e-300]] * 6, [1e300, 1.1e300, 0.9e300])
    assert decision.verdict == "regression"
    assert decision.change is not None and math.isfinite(decision.change) and decision.change > 1e300
    assert decide([[1e300] * 3] * 6, [1e-300] * 3).change == -1.0
