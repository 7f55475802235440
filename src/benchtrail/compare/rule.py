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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchtrail.compare.changepoints import detect_change_points

__all__ = [
    "ALPHA",
    "DEFAULT_MIN_EFFECT",
    "VERDICTS",
    "Decision",
    "decide",
    "median_variance",
    "run_noise",
    "t_quantile",
]

#: every verdict, the worst first (the order tables are sorted in)
VERDICTS = ("regression", "inconclusive", "environment_changed", "no_baseline", "improvement", "unchanged")
DEFAULT_MIN_EFFECT = 0.05
#: one-sided false-alarm level of the noise test for one benchmark × metric
ALPHA = 0.003
_MAD_TO_SD = 1.482602218505602
_MAD_EFFICIENCY = 0.37  # a MAD's variance equals that of a standard deviation from 37 % as many values
_Z = {0.001: 3.090232, 0.003: 2.747781, 0.01: 2.326348, 0.05: 1.644854}
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


def median_variance(n: int) -> float:
    """Variance of the median of ``n`` independent runs, in units of one run's variance."""
    if n < 1:
        raise ValueError("a median needs at least one value")
    return _MEDIAN_VARIANCE.get(n, math.pi / (2 * n + 1.3))


def t_quantile(alpha: float, dof: float) -> float:
    """One-sided Student-t quantile (Cornish-Fisher expansion around the normal one)."""
    z = _Z[alpha]
    dof = max(dof, 1.0)
    return (z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3))


def run_noise(groups: Sequence[Sequence[float]]) -> tuple[float | None, float]:
    """Pooled robust run-to-run noise of positive run values grouped by level (each group
    shares one true value): ``(sigma, degrees of freedom)``; ``sigma`` is ``None`` when the
    groups hold fewer than two values beyond their own medians."""
    deviations = [math.log(v) - float(np.median(np.log(g))) for g in groups if g for v in g]
    dof = (len(deviations) - sum(1 for g in groups if g)) * _MAD_EFFICIENCY
    if dof < 2 * _MAD_EFFICIENCY:
        return None, 0.0
    sigma = _MAD_TO_SD * float(np.median(np.abs(deviations)))
    return sigma, dof


def _segments(history: Sequence[Sequence[float]]) -> list[list[float]]:
    """The history's runs, pooled by segment between change points of its medians."""
    groups = [list(runs) for runs in history if runs]
    starts = [0, *detect_change_points([float(np.median(g)) for g in groups]), len(groups)]
    return [[v for g in groups[a:b] for v in g] for a, b in zip(starts, starts[1:])]


def decide(
    history: Sequence[Sequence[float]],
    current: Sequence[float],
    *,
    direction: str = "lower",
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float = ALPHA,
) -> Decision:
    """Decide one benchmark × metric. ``history``: the baseline window's records, oldest
    first, each the list of its run values; ``current``: the runs under test (all repeated
    records and process-runs together); ``direction``: ``"lower"`` or ``"higher"`` is
    better. Values must be finite; zero or negative ones make the change undefined."""
    if not current:
        raise ValueError("no current runs to decide on")
    if direction not in ("lower", "higher"):
        raise ValueError(f"direction must be 'lower' or 'higher', not {direction!r}")
    now = float(np.median(current))
    positive = min((v for runs in history for v in runs), default=1.0) > 0 and min(current) > 0
    segments = _segments(history) if positive else [[v for runs in history for v in runs]]
    if not segments[-1]:
        return Decision("no_baseline", None, now, current_runs=len(current))
    baseline_runs = segments[-1]
    base = float(np.median(baseline_runs))
    counts = {"baseline_runs": len(baseline_runs), "current_runs": len(current)}
    if base == now:
        return Decision("unchanged", base, now, change=0.0, **counts)
    if not positive:  # a relative change of zero or negative values means nothing
        return Decision("inconclusive", base, now, **counts)
    log_change = math.log(now / base)
    bad = log_change if direction == "lower" else -log_change
    sigma, dof = run_noise([*segments, list(current)])
    floor = math.log1p(min_effect)
    if sigma is None:
        noise_bar = math.inf
    else:
        noise_bar = t_quantile(alpha, dof) * sigma * math.sqrt(
            median_variance(len(current)) + median_variance(len(baseline_runs)))
    bar = max(floor, noise_bar)
    if abs(bad) <= floor:
        verdict = "unchanged"
    elif abs(bad) <= bar:
        verdict = "inconclusive"
    else:
        verdict = "regression" if bad > 0 else "improvement"
    return Decision(verdict, base, now, change=math.expm1(log_change), noise=sigma,
                    threshold=math.expm1(bar) if math.isfinite(bar) else None, **counts)
