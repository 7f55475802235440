"""The regression rule: did one benchmark × metric change, given its baseline history?

Inputs are run values: each process-run's headline value (a record's ``runs``), the unit
that decisions are made on. The spread *inside* one run (its latency distribution) is no
evidence of a change between runs, so it is never used here.

The rule, in the log domain (so a change is relative and the rule is scale-free):

1. The baseline history is the window of records before the merge base, oldest first.
   Change points over the records' medians split it into segments; the baseline is the
   last segment's runs (a step that already landed on the target branch is not held
   against the merge request).
2. ``change = median(current) / median(baseline) - 1``: medians, so one outlying run on
   either side cannot decide.
3. The run-to-run noise ``sigma`` is the robust spread (1.4826 × MAD) of every run's log
   value around its segment's median, baseline segments and the current runs pooled. The
   noise of the difference of two medians is ``se = sigma × sqrt(v(n_current) +
   v(n_baseline))``, ``v(n)`` being the variance of a median of ``n`` runs in units of
   one run's variance.
4. A change in the bad direction is a **regression** when it is larger than the minimum
   effect AND larger than ``t × se``; ``t`` is a one-sided quantile at ``ALPHA`` with the
   degrees of freedom the noise estimate really has (a MAD is worth ~37 % of its values),
   so a noise figure from few runs demands a larger change. The same in the good direction
   is an **improvement**. A change beyond the minimum effect that is inside ``t × se`` is
   **inconclusive**: the noise cannot tell it from chance, and the confirmation re-runs it.
   Anything within the minimum effect is **unchanged**.

``tools/perf/bench_compare.py`` measures this rule's false-alarm rate and power on seeded
CI-like histories; the README quotes the figures.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchtrail.compare.changepoints import detect_change_points

__all__ = [
    "ALPHA",
    "ALPHA_FEW_RUNS",
    "DEFAULT_MIN_EFFECT",
    "VERDICTS",
    "WINSOR",
    "Decision",
    "decide",
    "median_variance",
    "run_noise",
    "t_quantile",
]

#: every verdict, the worst first (the order tables are sorted in)
VERDICTS = ("regression", "inconclusive", "environment_changed", "no_baseline", "improvement", "unchanged")
DEFAULT_MIN_EFFECT = 0.05
#: one-sided false-alarm level of the noise test for one benchmark × metric, once the
#: current side has three runs or more: its median then outvotes one outlying run
ALPHA = 0.01
#: the level with one or two current runs, which an outlying run alone can carry past
#: any threshold: three times the evidence
ALPHA_FEW_RUNS = 0.002
#: deviations are clipped at this many robust sigmas before the noise is estimated
WINSOR = 2.5
_MAD_TO_SD = 1.482602218505602
_WINSOR_CONSISTENCY = 0.98849  # sqrt(E[min(Z², 2.5²)]) for a standard normal Z
#: variance of the median of n normal values, in units of one value's variance (exact for small n)
_MEDIAN_VARIANCE = {1: 1.0, 2: 0.5, 3: 0.4487, 4: 0.3433, 5: 0.2868, 6: 0.2337, 7: 0.2097}


@dataclass(frozen=True)
class Decision:
    """The verdict on one benchmark × metric, with the figures it rests on."""

    verdict: str
    #: median of the baseline runs (``None`` without a baseline)
    baseline: float | None
    #: median of the current runs
    current: float
    #: ``current / baseline - 1``; ``None`` when it has no meaning (no baseline, zero values)
    change: float | None = None
    #: relative run-to-run noise (robust standard deviation of log values); ``None`` when unknown
    noise: float | None = None
    #: the smallest change, in the bad or the good direction, that would have counted
    threshold: float | None = None
    baseline_runs: int = 0
    current_runs: int = 0
    #: worth confirming with more runs: a regression, an inconclusive change, or one that
    #: is still within one standard error of a regression of the minimum effect
    suspect: bool = False


def median_variance(n: int) -> float:
    """Variance of the median of ``n`` independent runs, in units of one run's variance."""
    if n < 1:
        raise ValueError("a median needs at least one value")
    return _MEDIAN_VARIANCE.get(n, math.pi / (2 * n + 1.3))


def t_quantile(alpha: float, dof: float) -> float:
    """One-sided Student-t quantile at level ``alpha`` (Cornish-Fisher expansion around
    the normal one; good to a few percent from 2 degrees of freedom)."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be between 0 and 0.5, not {alpha!r}")
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    dof = max(dof, 1.0)
    return (z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3))


def run_noise(groups: Sequence[Sequence[float]]) -> tuple[float | None, float]:
    """Pooled robust run-to-run noise of positive run values grouped by level (each group
    shares one true value): ``(sigma, degrees of freedom)`` in log units; ``sigma`` is
    ``None`` when the groups hold fewer than two values beyond their own medians.

    A winsorized standard deviation: deviations from each group's median are clipped at
    ``WINSOR`` robust sigmas (1.4826 × MAD) before the root mean square, so an outlying
    run counts as a large deviation, not as an unbounded one, while the estimate keeps
    nearly the precision of a plain standard deviation (a MAD alone has only 37 % of it,
    which would make every threshold needlessly wide)."""
    deviations: list[float] = []
    dof = 0
    for group in groups:
        if not len(group):
            continue
        logs = np.log(np.asarray(group, dtype=float))
        around = np.sort(np.abs(logs - np.median(logs)))
        # an odd group's median is one of its values: that zero says nothing about the spread
        deviations.extend(around[len(around) % 2:])
        dof += len(group) - 1  # each group's own level is fitted
    if len(deviations) < 2 or dof < 1:
        return None, 0.0
    found = np.asarray(deviations)
    robust = _MAD_TO_SD * float(np.median(found))
    if robust == 0:  # most runs identical (a quantised metric): the plain spread, if any
        return float(np.sqrt(np.sum(found**2) / dof)), float(dof)
    clipped = np.minimum(found, WINSOR * robust)
    return float(np.sqrt(np.sum(clipped**2) / dof)) / _WINSOR_CONSISTENCY, float(dof)


def _segments(history: Sequence[Sequence[float]]) -> list[list[float]]:
    """The history's runs, pooled by segment between change points of its medians."""
    groups = [list(runs) for runs in history if runs]
    # a window of a few dozen commits shows steps, not drifts: no trend in the fit
    starts = [0, *detect_change_points([float(np.median(g)) for g in groups], trend=False), len(groups)]
    return [[v for g in groups[a:b] for v in g] for a, b in zip(starts, starts[1:])]


def decide(
    history: Sequence[Sequence[float]],
    current: Sequence[float],
    *,
    direction: str = "lower",
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float | None = None,
) -> Decision:
    """Decide one benchmark × metric. ``history``: the baseline window's records, oldest
    first, each the list of its run values; ``current``: the runs under test (all repeated
    records and process-runs together); ``direction``: ``"lower"`` or ``"higher"`` is
    better; ``alpha``: the noise test's level (default ``ALPHA``, ``ALPHA_FEW_RUNS`` with
    fewer than three current runs). Values must be finite; zero or negative ones make the
    change undefined."""
    if not current:
        raise ValueError("no current runs to decide on")
    if direction not in ("lower", "higher"):
        raise ValueError(f"direction must be 'lower' or 'higher', not {direction!r}")
    positive = min((v for runs in history for v in runs), default=1.0) > 0 and min(current) > 0
    segments = _segments(history) if positive else [[v for runs in history for v in runs]]
    if not segments[-1]:
        return Decision("no_baseline", None, float(np.median(current)), current_runs=len(current))
    baseline_runs = segments[-1]
    counts = {"baseline_runs": len(baseline_runs), "current_runs": len(current)}
    if not positive:  # a relative change of zero or negative values means nothing
        base, now = float(np.median(baseline_runs)), float(np.median(current))
        return Decision("unchanged" if base == now else "inconclusive", base, now,
                        change=0.0 if base == now else None, **counts)
    sigma, dof = run_noise([*segments, list(current)])
    base_log, base_variance = _center(baseline_runs, sigma)
    now_log, now_variance = _center(current, sigma)
    base, now = math.exp(base_log), math.exp(now_log)
    log_change = now_log - base_log
    if log_change == 0:
        return Decision("unchanged", base, now, change=0.0, noise=sigma, **counts)
    bad = log_change if direction == "lower" else -log_change
    floor = math.log1p(min_effect)
    if not sigma:
        noise_bar = math.inf if sigma is None else 0.0
    else:
        level = alpha if alpha is not None else ALPHA if len(current) >= 3 else ALPHA_FEW_RUNS
        noise_bar = t_quantile(level, dof) * sigma * math.sqrt(now_variance + base_variance)
    bar = max(floor, noise_bar)
    if abs(bad) <= floor:
        verdict = "unchanged"
    elif abs(bad) <= bar:
        verdict = "inconclusive"
    else:
        verdict = "regression" if bad > 0 else "improvement"
    error = sigma * math.sqrt(now_variance + base_variance) if sigma is not None else math.inf
    suspect = verdict in ("regression", "inconclusive") or bad + error > floor
    return Decision(verdict, base, now, change=math.expm1(log_change), noise=sigma,
                    threshold=math.expm1(bar) if math.isfinite(bar) else None, suspect=suspect, **counts)


def _center(values: Sequence[float], sigma: float | None) -> tuple[float, float]:
    """The typical log value of runs and its variance in units of one run's: the mean of
    the runs within ``WINSOR`` sigmas of their median (as robust to an outlying run as the
    median, as precise as the mean), or the median when the noise is unknown."""
    logs = np.log(np.asarray(values, dtype=float))
    middle = float(np.median(logs))
    if not sigma:
        return middle, median_variance(len(logs))
    kept = logs[np.abs(logs - middle) <= WINSOR * sigma]
    return float(np.mean(kept)), 1.0 / len(kept)
