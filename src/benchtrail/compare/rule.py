"""The regression rule: did one benchmark × metric change, given its baseline history?

Inputs are run values: each process-run's headline value (a record's ``runs``), the unit
that decisions are made on. The spread *inside* one run (its latency distribution) is no
evidence of a change between runs, so it is never used here.

The rule, in the log domain (so a change is relative and the rule is scale-free):

1. The baseline history is the window of records up to the merge base, oldest first.
   Change points over the records' medians split it into segments; the baseline is the
   last segment's runs (a step that already landed on the target branch is not held
   against the merge request). When the last few records (too few for a segment) stand
   apart from the rest of it, they are the target branch's current level: a verdict other
   than "unchanged" is taken again against them, with the step no longer counted as
   noise, and stands only if it held against both levels alike (one outlying record at
   the merge base is not a level: disagreeing levels make it "inconclusive").
2. The run-to-run noise ``sigma`` is a winsorized standard deviation of every run's log
   value around its segment's median, baseline segments and the current runs pooled
   (deviations clipped at ``WINSOR`` robust sigmas): an outlying run counts, but only as
   a large deviation, and the estimate keeps nearly the precision of a plain standard
   deviation, with one degree of freedom per run beyond each group's own level.
3. Each side's level is the mean of its runs within ``WINSOR`` sigmas of their median:
   as robust to one outlying run as a median (it is set aside), as precise as a mean.
   ``change = exp(level_current - level_baseline) - 1``.
4. A change in the bad direction is a **regression** when it is larger than the minimum
   effect AND larger than ``t × se``, ``se`` being the noise of the difference of the two
   levels and ``t`` the one-sided Student-t quantile for the noise's degrees of freedom
   (few runs, larger ``t``), at ``ALPHA`` (1 %) once the current side has three runs, at
   ``ALPHA_FEW_RUNS`` (0.2 %) with one or two, where a single outlying run would carry a
   change past any threshold. The same in the good direction is an **improvement**. A
   change beyond the minimum effect that is inside ``t × se`` is **inconclusive**: the
   noise cannot tell it from chance. Anything within the minimum effect is **unchanged**.
5. When records hold several runs each, the noise is split in two: between the runs of
   one job, and between whole jobs (another runner, another neighbour), which repeating
   runs inside one job cannot average out. The current runs then count as many jobs as
   they came from (``current_jobs``: a confirmation's runs share their job), and when the
   job part is the larger, the level is ``ALPHA_FEW_RUNS`` unless there are three jobs.
   With fewer than five baseline jobs the job noise cannot be measured: it is taken as at
   least ``JOB_NOISE_PRIOR`` (what shared runners show), pooled with what the jobs show,
   so a project's first merge requests do not read a job's offset as a change.
6. A decision is **suspect**, worth confirming with more runs, when it is a regression,
   inconclusive, or within one standard error of a regression of the minimum effect.

``tools/perf/bench_compare.py`` measures this rule's false-alarm rate and power on seeded
CI-like histories; the README quotes the figures.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchtrail.compare.changepoints import MIN_SIZE, detect_change_points
from benchtrail.compare.defaults import DEFAULT_MIN_EFFECT

__all__ = [
    "ALPHA",
    "ALPHA_FEW_RUNS",
    "DEFAULT_MIN_EFFECT",
    "GATE",
    "JOB_NOISE_PRIOR",
    "VERDICTS",
    "WINSOR",
    "Decision",
    "decide",
    "median_variance",
    "relative_change",
    "robust_level",
    "run_noise",
    "t_quantile",
    "verdict_of",
]

#: every verdict, the worst first (the order tables are sorted in)
VERDICTS = ("broken", "missing", "errors", "regression", "inconclusive", "environment_changed", "no_baseline",
            "improvement", "unchanged")
#: the verdicts that fail the gate (``compare --fail-on-regression``; "missing" unless allowed)
GATE = ("broken", "missing", "errors", "regression")
#: one-sided false-alarm level of the noise test for one benchmark × metric, once the
#: current side has three runs or more: one outlying run among them is then set aside
ALPHA = 0.01
#: the level with one or two current runs (or jobs, when whole jobs are the noisier),
#: which one outlying run alone can carry past any threshold: five times the evidence
ALPHA_FEW_RUNS = 0.002
#: deviations are clipped at this many robust sigmas before the noise is estimated
WINSOR = 2.5
#: the job noise is estimated from five jobs or more (fewer: runs count as independent)
_MIN_JOB_DOF = 4
#: below that, the job noise is at least what shared runners show (CV 5 %), counted as two
#: degrees of freedom and pooled with what the few jobs show: a project's first merge
#: requests cannot tell a job's offset from a change, and must not claim one
JOB_NOISE_PRIOR, _PRIOR_DOF = 0.05, 2.0
_MAD_TO_SD = 1.482602218505602
_WINSOR_CONSISTENCY = 0.98849  # sqrt(E[min(Z², 2.5²)]) for a standard normal Z
#: variance of the median of n normal values, in units of one value's variance (exact for small n)
_MEDIAN_VARIANCE = {1: 1.0, 2: 0.5, 3: 0.4487, 4: 0.3433, 5: 0.2868, 6: 0.2337, 7: 0.2097}


@dataclass(frozen=True)
class Decision:
    """The verdict on one benchmark × metric, with the figures it rests on."""

    verdict: str
    #: the baseline's typical run: geometric mean of its runs within ``WINSOR`` sigmas of
    #: their median (their median when the noise is unknown); ``None`` without a baseline
    baseline: float | None
    #: the same for the current runs; ``None`` when nothing was measured (a missing benchmark)
    current: float | None
    #: ``current / baseline - 1``; ``None`` when it has no meaning (no baseline, zero values)
    change: float | None = None
    #: relative run-to-run noise (robust standard deviation of log values); ``None`` when unknown
    noise: float | None = None
    #: the smallest change in the bad direction that would have counted (relative; in the
    #: good direction the bar is the same in log terms)
    threshold: float | None = None
    baseline_runs: int = 0
    current_runs: int = 0
    #: worth confirming with more runs: a regression, an inconclusive change, or one that
    #: is still within one standard error of a regression of the minimum effect
    suspect: bool = False


#: the largest log ratio a change is given as: e**700 is about 1e304, short of overflow
_MAX_LOG_CHANGE = 700.0


def relative_change(log_change: float) -> float:
    """``e**log_change - 1``, held within what a float holds: runs at 1e-300 and at 1e300
    are a change of about 1e304, not an overflow."""
    return math.expm1(max(-_MAX_LOG_CHANGE, min(_MAX_LOG_CHANGE, log_change)))


def verdict_of(bad: float, floor: float, bar: float) -> str:
    """The verdict on a change of log size ``bad`` in the bad direction: within the minimum
    effect ``floor`` unchanged, within the ``bar`` (floor and noise) inconclusive, beyond it
    a regression or an improvement."""
    if abs(bad) <= floor:
        return "unchanged"
    if abs(bad) <= bar:
        return "inconclusive"
    return "regression" if bad > 0 else "improvement"


def median_variance(n: int) -> float:
    """Variance of the median of ``n`` independent runs, in units of one run's variance."""
    if n < 1:
        raise ValueError("a median needs at least one value")
    return _MEDIAN_VARIANCE.get(n, math.pi / (2 * n + 1.3))


def t_quantile(alpha: float, dof: float) -> float:
    """One-sided Student-t quantile at level ``alpha`` for whole degrees of freedom
    (exact for one and two, else the Cornish-Fisher expansion around the normal one, good
    to a few percent from three)."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be between 0 and 0.5, not {alpha!r}")
    dof = max(math.floor(dof), 1)
    if dof == 1:  # exact: Cauchy
        return math.tan(math.pi * (0.5 - alpha))
    if dof == 2:  # exact
        p = 1 - alpha
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = statistics.NormalDist().inv_cdf(1 - alpha)
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


def _segments(history: Sequence[Sequence[float]]) -> list[list[list[float]]]:
    """The history's records (groups of runs), split into segments between the change
    points of their medians."""
    groups = [list(runs) for runs in history if runs]
    # a window of a few dozen commits shows steps, not drifts: no trend in the fit
    starts = [0, *detect_change_points([float(np.median(g)) for g in groups], trend=False), len(groups)]
    return [groups[a:b] for a, b in itertools.pairwise(starts)]


def _job_noise(segments: list[list[list[float]]], current: Sequence[float]) -> tuple[float, float, float, float] | None:
    """``(sigma_run, dof_run, sigma_job, dof_job)``: the noise between runs of one job and
    the extra noise of a whole job (another machine, another neighbour), which repeating
    runs inside one job cannot average out. Told apart only when records hold several
    runs each and there are five jobs or more; ``None`` otherwise."""
    groups = [g for segment in segments for g in segment]
    if sum(len(g) - 1 for g in groups) < 2:
        return None
    within, within_dof = run_noise([*groups, list(current)])
    if within is None:
        return None
    levels = [[math.exp(robust_level(g, within or None)[0]) for g in segment] for segment in segments]
    between, between_dof = run_noise(levels)
    run_share = float(np.mean([1.0 / len(g) for g in groups]))
    job = math.sqrt(max(0.0, between**2 - within**2 * run_share)) if between is not None else 0.0
    if between is not None and between_dof >= _MIN_JOB_DOF:
        return within, within_dof, job, between_dof
    # too few jobs to say how much they vary: what they show, pooled with the prior
    pooled = (_PRIOR_DOF * JOB_NOISE_PRIOR**2 + between_dof * job**2) / (_PRIOR_DOF + between_dof)
    return within, within_dof, math.sqrt(pooled), _PRIOR_DOF + between_dof


def _difference_noise(segments: list[list[list[float]]], current: Sequence[float], current_jobs: int,
                      base_variance: float, now_variance: float, sigma: float,
                      dof: float) -> tuple[float, float, int]:
    """The standard error of ``level_current - level_baseline``, its degrees of freedom
    (Welch-Satterthwaite when the job and run parts are both there) and how many
    independent measurements the current side is worth: its runs, or its jobs when the
    job part of the noise is the larger."""
    split = _job_noise(segments, current)
    if split is None:  # one run per record: runs are taken as independent
        return sigma * math.sqrt(now_variance + base_variance), dof, len(current)
    within, within_dof, job, job_dof = split
    runs_part = within**2 * (now_variance + base_variance)
    jobs_part = job**2 * (1.0 / current_jobs + 1.0 / len(segments[-1]))
    if jobs_part == 0:
        return math.sqrt(runs_part), within_dof, len(current)
    total = runs_part + jobs_part
    units = len(current) if runs_part >= jobs_part else current_jobs
    return math.sqrt(total), total**2 / (runs_part**2 / within_dof + jobs_part**2 / max(job_dof, 1.0)), units


def decide(
    history: Sequence[Sequence[float]],
    current: Sequence[float],
    *,
    direction: str = "lower",
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float | None = None,
    current_jobs: int = 1,
) -> Decision:
    """Decide one benchmark × metric. ``history``: the baseline window's records, oldest
    first, each the list of its run values; ``current``: the runs under test (all repeated
    records and process-runs together); ``direction``: ``"lower"`` or ``"higher"`` is
    better; ``alpha``: the noise test's level (default ``ALPHA``, ``ALPHA_FEW_RUNS`` with
    fewer than three current runs); ``current_jobs``: how many CI jobs the current runs
    come from (a confirmation's runs share the job of the runs they confirm). Values must
    be finite; zero or negative ones make the change undefined."""
    if not current:
        raise ValueError("no current runs to decide on")
    if direction not in ("lower", "higher"):
        raise ValueError(f"direction must be 'lower' or 'higher', not {direction!r}")
    positive = min(current) > 0
    if positive:  # a zero in the history (nothing measured that time) is set aside
        history = [[v for v in runs if v > 0] for runs in history]
    segments = _segments(history) if positive else [[[v for runs in history for v in runs]]]
    baseline_runs = [v for group in segments[-1] for v in group]
    if not baseline_runs:
        return Decision("no_baseline", None, float(np.median(current)), current_runs=len(current))
    counts = {"baseline_runs": len(baseline_runs), "current_runs": len(current)}
    if not positive:  # a relative change of zero or negative values means nothing
        base, now = float(np.median(baseline_runs)), float(np.median(current))
        return Decision("unchanged" if base == now else "inconclusive", base, now,
                        change=0.0 if base == now else None, **counts)
    decision, bad, dof = _decide_on(segments, current, direction, min_effect, alpha, current_jobs, counts)
    if decision.verdict == "unchanged" or decision.noise is None:
        return decision
    tail = _recent_tail(segments[-1], decision.noise, dof, math.log1p(min_effect))
    if tail == 0:
        return decision
    # The target branch itself moved in its last few commits, too few for a segment of
    # their own: that is its current level, which the merge request is compared with (a
    # step just before the merge base is not the merge request's doing), and the step no
    # longer inflates the noise of the segment before it.
    split = [*segments[:-1], segments[-1][:-tail], segments[-1][-tail:]]
    counts = {**counts, "baseline_runs": sum(len(g) for g in split[-1])}
    again, again_bad, _ = _decide_on(split, current, direction, min_effect, alpha, current_jobs, counts)
    if again.verdict == "unchanged" or (
            decision.verdict in ("regression", "improvement") and (again_bad > 0) == (bad > 0)):
        return again
    # Only a change that held against the older level and holds against the newer one is
    # one; otherwise the two levels disagree, and one record off by itself (an outlying
    # job at the merge base) is not a level to tell that from.
    return dataclasses.replace(again, verdict="inconclusive", suspect=True)


def _decide_on(segments: list[list[list[float]]], current: Sequence[float], direction: str, min_effect: float,
               alpha: float | None, current_jobs: int,
               counts: dict[str, int]) -> tuple[Decision, float, float]:
    """The decision against the last of ``segments`` (positive values), the change's log
    size in the bad direction, and the run noise's degrees of freedom."""
    baseline_runs = [v for group in segments[-1] for v in group]
    sigma, run_dof = run_noise([*([v for g in segment for v in g] for segment in segments), list(current)])
    base_log, base_variance = robust_level(baseline_runs, sigma)
    now_log, now_variance = robust_level(current, sigma)
    base, now = math.exp(base_log), math.exp(now_log)
    log_change = now_log - base_log
    if log_change == 0:
        return Decision("unchanged", base, now, change=0.0, noise=sigma, **counts), 0.0, run_dof
    bad = log_change if direction == "lower" else -log_change
    floor = math.log1p(min_effect)
    error = math.inf if sigma is None else 0.0
    if not sigma:
        noise_bar = math.inf if sigma is None else 0.0
    else:
        error, dof, units = _difference_noise(segments, current, current_jobs, base_variance, now_variance,
                                              sigma, run_dof)
        level = alpha if alpha is not None else ALPHA if units >= 3 else ALPHA_FEW_RUNS
        noise_bar = t_quantile(level, dof) * error
    bar = max(floor, noise_bar)
    verdict = verdict_of(bad, floor, bar)
    suspect = verdict in ("regression", "inconclusive") or bad + error > floor
    decision = Decision(verdict, base, now, change=relative_change(log_change), noise=sigma,
                        threshold=relative_change(bar) if math.isfinite(bar) else None, suspect=suspect, **counts)
    return decision, bad, run_dof


def _recent_tail(groups: list[list[float]], sigma: float, dof: float, floor: float) -> int:
    """How many of the last records of the baseline segment (fewer than a segment's
    minimum size) stand apart from the rest of it beyond the minimum effect and the noise
    (at ``ALPHA_FEW_RUNS``): a step that landed just before the merge base. 0 when there
    is no such tail."""
    best: tuple[float, int] | None = None
    for k in range(1, min(MIN_SIZE, len(groups) - 1)):
        tail_log, tail_variance = robust_level([v for g in groups[-k:] for v in g], sigma)
        head_log, head_variance = robust_level([v for g in groups[:-k] for v in g], sigma)
        error = sigma * math.sqrt(tail_variance + head_variance)
        gap = abs(tail_log - head_log)
        if gap > max(floor, t_quantile(ALPHA_FEW_RUNS, dof) * error) and (best is None or gap / error > best[0]):
            best = (gap / error, k)
    return 0 if best is None else best[1]


def robust_level(values: Sequence[float], sigma: float | None) -> tuple[float, float]:
    """The typical log value of runs and its variance in units of one run's: the mean of
    the runs within ``WINSOR`` sigmas of their median (as robust to an outlying run as the
    median, as precise as the mean), or the median when the noise is unknown."""
    logs = np.log(np.asarray(values, dtype=float))
    middle = float(np.median(logs))
    if not sigma:
        return middle, median_variance(len(logs))
    kept = logs[np.abs(logs - middle) <= WINSOR * sigma]
    if not len(kept):  # two runs far apart: no middle to keep, the median it is
        return middle, median_variance(len(logs))
    return float(np.mean(kept)), 1.0 / len(kept)
