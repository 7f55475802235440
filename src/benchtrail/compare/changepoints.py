"""Change points in a benchmark's history: where its level steps to a new value.

``detect_change_points`` takes one value per record, oldest first (a duration, a latency, a
throughput: any positive quantity), and returns the indices where a new segment starts.

Why it needs no tuning per series:

- It works on ``log(values)``, so a step is a relative change and the answer does not depend
  on the unit (seconds or milliseconds give the same indices).
- The noise level ``sigma`` comes from the series itself: the median absolute successive
  difference, which a step or an outlier barely moves. Values are then in units of ``sigma``.
- An isolated outlying record is pulled back to within ``OUTLIER_CLIP`` sigmas of the running
  median of its neighbours (a centred window of 5). A step survives this untouched, since the
  running median follows a level that holds for 3 records or more.
- The model is steps plus one slow linear trend shared by the whole series (a CI machine that
  ages, a dataset that grows). Without the trend a drift would be cut into a staircase of
  false steps. Trend and steps are fitted in turn, each exactly, from two starts (no trend,
  and the whole series' slope), and the fit with the lower cost wins.
- The steps are the exact optimum of a penalised Gaussian mean-shift cost (optimal
  partitioning with PELT pruning; Killick et al., 2012): every segment holds at least
  ``min_size`` records and every change costs ``penalty`` noise variances, by default
  ``PENALTY_PER_LOG_N * log(n)``, a BIC-type penalty. On pure noise with 2 % outliers it
  finds something in about 1 series of 200 (n = 50 to 1,000), 1 in 50 at n = 20.

A bimodal benchmark (runs that land in one of two modes) changes its mix of modes from week to
week; that moves its mean and often its median, but not the modes themselves. The detector's
cuts are checked in pairs of segments (``_one_band``): where the values of both fall into two
clusters far apart and each cluster stays where it was, or (one cluster) the bands stay while
the median moves, the cut is a change of mix and is merged away; a short run of records in one
mode of its bimodal neighbour joins it. A real step moves the modes and stays. On generated
bimodal series whose mix alone changes, 6.5 % of 200 keep a change point, and a step of both
modes by 30 % is found alone in 3 of 5 (``tools/perf/bench_changepoints.py``); both tests need
segments of ``SHORT_RUN`` records or more (a short one may hold the first records after a step).

Edge cases: fewer than ``2 * min_size`` values, or a constant series, give no change points
(``unanalysable`` says why in words). A series with a zero or negative value (a difference, a
count that can be zero) is analysed on a linear scale, where a step is an absolute change;
``describe_change_points`` chooses the scale. A non-finite value raises ``ValueError``. Time is O(n) to O(n^2) in numpy:
about 0.1 s for 1,000 values, 1 s for 5,000.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MIN_SIZE",
    "OUTLIER_CLIP",
    "PENALTY_PER_LOG_N",
    "ChangePoint",
    "describe_change_points",
    "detect_change_points",
    "unanalysable",
]

MIN_SIZE = 5
#: the largest AR(1) coefficient the penalty allows for, and how often it is re-estimated
MAX_PHI = 0.95
PERSISTENCE_ROUNDS = 5
"""Fewest records in a segment: a shorter run of odd values is noise, not a new level."""
PENALTY_PER_LOG_N = 3.5
"""Penalty per change, in noise variances per ``log(n)``."""
OUTLIER_CLIP = 3.0
"""How far, in sigmas, a record may sit from the running median of its neighbours."""
BAND_QUANTILES = (0.1, 0.9)
"""The low and high band of a segment, which a change in a bimodal series' mix leaves in place."""
MIX_RATIO = 0.5
"""Bands that move less than this share of the median's move: a change of mix, not of level."""
MODE_GAP = 6.0
"""Two clusters this many times their own spread apart are two modes of one benchmark."""
MODE_SHIFT = 5.0
"""A mode that moves less than this many standard errors between two segments stayed."""
MODE_SHARE = 0.1
"""The least share of a segment's records that makes a cluster one of its modes."""
SHORT_RUN = 2 * MIN_SIZE
"""A segment shorter than this that sits inside a bimodal neighbour's band is one of its modes."""
_TREND_ROUNDS = 5  # alternations between trend and steps; they settle in one to three
_WINDOW = 5  # running-median width: an outlier pair is still a minority in it

# sigma from the median absolute difference of two independent N(0, s) values: s * 0.6745 * sqrt(2)
_MAD_TO_SIGMA = 0.6744897501960817
_MEDIAN_ERROR = math.sqrt(math.pi / 2)  # a median's standard error against a mean's, for normal noise
_MAD_DIFF_TO_SIGMA = 1.0 / (_MAD_TO_SIGMA * math.sqrt(2.0))


@dataclass(frozen=True)
class ChangePoint:
    """One change point: where it is and the levels on either side."""

    index: int
    """The first record of the new segment."""
    before: float
    """Median of the segment that ends just before ``index``."""
    after: float
    """Median of the segment that starts at ``index``."""
    change: float
    """Relative change ``after / before - 1``: +0.1 is a 10 % rise (slower, for a duration)."""


def detect_change_points(values: Sequence[float], *, min_size: int = MIN_SIZE,
                         penalty: float | None = None, trend: bool = True, scale: str = "log") -> list[int]:
    """Return the sorted indices where a new segment starts (never 0); see the module doc.

    ``min_size`` is the fewest records per segment; ``penalty`` the cost of one change in
    noise variances (default ``PENALTY_PER_LOG_N * log(n)``); ``trend`` fits a slow shared
    trend along with the steps (turn it off for a short window, a few dozen records, where
    a drift cannot show but a step in the middle would be taken for a slope); ``scale``
    ``"log"`` (relative steps) or ``"linear"`` (absolute steps, for values that can be zero
    or negative). Raises ``ValueError`` for a non-finite value, a non-positive one on the log
    scale, or ``min_size < 1``.
    """
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    logs = _log_values(values) if scale == "log" else _finite_values(values)
    n = len(logs)
    if n < 2 * min_size:
        return []
    sigma = _noise_sigma(logs)
    if sigma == 0.0:
        return []
    z = _clip_outliers((logs - np.median(logs)) / sigma)
    beta = PENALTY_PER_LOG_N * math.log(n) if penalty is None else float(penalty)
    t = np.arange(n, dtype=float)

    def search(beta: float) -> list[int]:
        @functools.cache  # the two starts below often meet at the same trend
        def partition(slope: float) -> tuple[float, tuple[int, ...]]:
            cost, found = _optimal_partition(z - slope * t, min_size, beta)
            return cost, tuple(found)

        if not trend:
            return list(partition(0.0)[1])
        # Two starts for the shared trend: none, and the whole series' slope (which a slow
        # drift needs: started flat, the search cuts the ramp into stairs and stays there).
        fits = [_fit_with_trend(z, slope, partition) for slope in (0.0, _pooled_slope(z, ()))]
        return list(min(fits)[1])

    found = search(beta)
    if penalty is not None:
        return _one_band(logs, found)
    # Noise that wanders (autocorrelated) is cut into steps by a penalty in units of the
    # neighbouring differences: what the fit leaves says how much to raise it.
    factor = 1.0
    for _ in range(PERSISTENCE_ROUNDS):
        wanted = _persistence(_residual_phi(z, found, trend), n - 1 - len(found))
        if wanted <= factor * 1.01:
            break
        factor = wanted
        found = search(beta * factor)
    return _one_band(logs, found)


def describe_change_points(values: Sequence[float], *, min_size: int = MIN_SIZE,
                           penalty: float | None = None) -> list[ChangePoint]:
    """Detect the change points (on a log scale, or a linear one when a value is zero or
    negative) and give each the medians of the segments around it; ``change`` is relative
    to the earlier level's size (infinite from a level of zero)."""
    scale = "log" if all(value > 0 for value in values) else "linear"
    indices = detect_change_points(values, min_size=min_size, penalty=penalty, scale=scale)
    data = np.asarray(values, dtype=float)
    bounds = [0, *indices, len(data)]
    medians = [float(np.median(data[a:b])) for a, b in itertools.pairwise(bounds)]
    return [ChangePoint(index=index, before=medians[k], after=medians[k + 1],
                        change=_relative(medians[k], medians[k + 1]))
            for k, index in enumerate(indices)]


def unanalysable(values: Sequence[float], *, min_size: int = MIN_SIZE) -> str | None:
    """Why ``values`` can have no change point, in words, or ``None`` when they can."""
    data = np.asarray(values, dtype=float)
    if not np.isfinite(data).all():
        return "a value is not a finite number"
    if len(data) < 2 * min_size:
        return f"{len(data)} values, too few to find a change point ({2 * min_size} needed)"
    if np.ptp(data) == 0:
        return "every value is the same"
    return None


def _one_band(logs: np.ndarray, found: Sequence[int]) -> list[int]:
    """``found`` without the change points of a bimodal series whose level does not change,
    only how often it lands in each mode (tokio's ``send_large``: runs at 25k or 60k ns, in
    shares that change from week to week): two segments whose cut is a change of mix
    (``_mix_score``) are merged, the surest first; then short runs in one mode of their
    neighbour (``_run_of_one_mode``), one at a time, each followed by the mix test again."""
    kept = list(found)
    while kept:
        bounds = [0, *kept, len(logs)]
        segments = [logs[a:b] for a, b in itertools.pairwise(bounds)]
        mixes = [(score, k) for k, (before, after) in enumerate(itertools.pairwise(segments))
                 if (score := _mix_score(before, after)) < 1.0]
        if mixes:
            del kept[min(mixes)[1]]
        elif (cut := _run_of_one_mode(segments)) is not None:
            del kept[cut]
        else:
            break
    return kept


def _run_of_one_mode(segments: list[np.ndarray]) -> int | None:
    """The cut that sets apart a short run of records in one mode of a bimodal neighbour (five
    runs at 25k between segments that land at 25k or 60k), to merge the run into that
    neighbour; ``None`` when there is none. A run is short below ``SHORT_RUN`` records; it
    belongs to a neighbour whose own ``BAND_QUANTILES`` hold its median, the longest such
    neighbour first. A short real excursion (10 → 15 → 10) lies outside both neighbours'
    bands, and so does the middle step of a staircase (10 → 13 → 17): both stay."""
    found = []
    for k, run in enumerate(segments):
        if len(run) >= SHORT_RUN or len(segments) < 2:
            continue
        level = float(np.median(run))
        for cut, neighbour in ((k - 1, k - 1), (k, k + 1)):  # the cut before the run, the one after
            if 0 <= neighbour < len(segments) and len(segments[neighbour]) >= SHORT_RUN \
                    and _two_clusters(np.sort(segments[neighbour])) is not None:  # a neighbour with two modes
                low, high = np.quantile(segments[neighbour], BAND_QUANTILES)
                if low <= level <= high:
                    found.append((-len(segments[neighbour]), len(run), cut))
    return min(found)[2] if found else None


def _mix_score(before: np.ndarray, after: np.ndarray) -> float:
    """Below 1 when the cut between two segments is a change of mix, not of level; the
    lower, the surer.

    When their values fall into two clusters far apart (``_two_clusters``), the test is
    whether each cluster stays where it is (``_mode_shift``): a real step moves the modes, a
    change of mix only moves values from one to the other. Otherwise it is how far the bands
    move against the median (``_band_shift``)."""
    long_enough = min(len(before), len(after)) >= SHORT_RUN  # a short segment may hold a step's first records
    split = _two_clusters(np.sort(np.concatenate([before, after]))) if long_enough else None
    modes = split is not None and all(_is_mode(low, before, split) or _is_mode(low, after, split) for low in (True, False))
    if modes:
        return _mode_shift(before, after, split) / MODE_SHIFT  # type: ignore[arg-type]
    return _band_shift(before, after) / MIX_RATIO


def _is_mode(low_side: bool, segment: np.ndarray, split: float) -> bool:
    """Whether the cluster below (or above) ``split`` is one of the segment's modes: it holds
    ``MODE_SHARE`` of the segment's records and two or more (a step's few strays, or a few
    outliers, across the split are not a mode)."""
    count = int(np.count_nonzero((segment < split) == low_side))
    return count >= 2 and count >= MODE_SHARE * len(segment)


def _mode_shift(before: np.ndarray, after: np.ndarray, split: float) -> float:
    """How far the two clusters (below and above ``split``) move from one segment to the
    other, in standard errors, the worse of the two; a cluster says something only where it
    is a mode of both segments (``_is_mode``), and the shift is infinite where neither does."""
    worst = -math.inf
    for low_side in (True, False):
        if not (_is_mode(low_side, before, split) and _is_mode(low_side, after, split)):
            continue
        one, other = before[(before < split) == low_side], after[(after < split) == low_side]
        pooled = np.concatenate([one - np.median(one), other - np.median(other)])
        sigma = max(float(np.median(np.abs(pooled))) / _MAD_TO_SIGMA, 1e-12)
        error = _MEDIAN_ERROR * sigma * math.sqrt(1 / len(one) + 1 / len(other))
        worst = max(worst, abs(float(np.median(one) - np.median(other))) / error)
    return worst if worst > -math.inf else math.inf


def _two_clusters(ordered: np.ndarray) -> float | None:
    """Where sorted values split best into two clusters (least within-cluster variance), or
    ``None`` when the two are not ``MODE_GAP`` times their spread apart: not two modes."""
    n = len(ordered)
    if n < 4:
        return None
    sums, squares = np.cumsum(ordered), np.cumsum(ordered * ordered)
    left = np.arange(1, n)  # values in the low cluster
    low_sum, low_sq = sums[:-1], squares[:-1]
    high_sum, high_sq = sums[-1] - low_sum, squares[-1] - low_sq
    cost = (low_sq - low_sum ** 2 / left) + (high_sq - high_sum ** 2 / (n - left))
    k = int(np.argmin(cost)) + 1
    low, high = ordered[:k], ordered[k:]
    spread = math.sqrt(max(float(cost[k - 1]), 0.0) / n)
    gap = float(np.median(high) - np.median(low))
    return float((low[-1] + high[0]) / 2) if gap > MODE_GAP * spread else None


def _band_shift(before: np.ndarray, after: np.ndarray) -> float:
    """How far the low and high band move, as a share of how far the median moves."""
    moved = abs(float(np.median(after) - np.median(before)))
    if moved == 0:
        return math.inf
    bands = np.abs(np.quantile(after, BAND_QUANTILES) - np.quantile(before, BAND_QUANTILES))
    return float(bands.max()) / moved


def _relative(before: float, after: float) -> float:
    if before != 0:
        return (after - before) / abs(before)
    return math.copysign(math.inf, after) if after else 0.0


def _finite_values(values: Sequence[float]) -> np.ndarray:
    """``values`` as a flat float array, refusing a non-finite one."""
    data = np.asarray(values, dtype=float)
    if data.ndim != 1:
        raise ValueError(f"values must be a flat sequence of numbers, got shape {data.shape}")
    bad = np.flatnonzero(~np.isfinite(data))
    if bad.size:
        raise ValueError(f"values[{int(bad[0])}]: expected a finite number, got {data[int(bad[0])]!r}")
    return data


def _log_values(values: Sequence[float]) -> np.ndarray:
    """The natural log of ``values``, refusing what has none."""
    data = _finite_values(values)
    bad = np.flatnonzero(data <= 0)
    if bad.size:
        first = int(bad[0])
        raise ValueError(f"values[{first}]: expected a finite positive number, got {data[first]!r}"
                         f" ({bad.size} such value{'s' if bad.size > 1 else ''})")
    return np.log(data)


def _residual_phi(z: np.ndarray, starts: Sequence[int], trend: bool) -> float:
    """The lag-1 autocorrelation of what the fit (``starts``, and a shared trend when
    ``trend``) leaves of ``z``, over neighbours within one segment."""
    t = np.arange(len(z), dtype=float)
    rest = z - (_pooled_slope(z, starts) * t if trend else 0.0)
    num = den = 0.0
    for a, b in itertools.pairwise([0, *starts, len(z)]):
        part = rest[a:b] - rest[a:b].mean()
        num += float(part[1:] @ part[:-1])
        den += float(part @ part)
    # in units of the noise sigma a fit that leaves (next to) nothing has no noise to correlate
    return num / den if den > 1e-6 * len(z) else 0.0


def _persistence(phi: float, pairs: int) -> float:
    """How much more a segment's mean wanders than independent noise would: 1 for none,
    (1 + phi) / (1 - phi)^2 for noise that follows an AR(1) of coefficient ``phi``, measured
    in the sigma of neighbouring differences (which shrinks as ``phi`` grows). An estimate
    within two standard errors of 0 (``pairs`` neighbours) counts as none."""
    if phi <= 2.0 / math.sqrt(max(pairs, 1)):
        return 1.0
    phi = min(phi, MAX_PHI)
    return (1.0 + phi) / (1.0 - phi) ** 2


def _noise_sigma(logs: np.ndarray) -> float:
    """Robust noise scale: a step changes one difference, an outlier two, the rest are noise.

    Falls back on the mean absolute difference when over half the differences are zero (a
    quantised series); 0 means the series is constant.
    """
    diffs = np.abs(np.diff(logs))
    sigma = float(np.median(diffs)) * _MAD_DIFF_TO_SIGMA
    if sigma == 0.0:
        # sqrt(pi)/2 turns the mean |difference| of N(0, s) pairs into s.
        sigma = float(np.mean(diffs)) * math.sqrt(math.pi) / 2.0
    # Differences at rounding level are not noise: treat a series equal to 12 digits as constant.
    return sigma if sigma > 1e-12 else 0.0


def _running_median(z: np.ndarray, width: int) -> np.ndarray:
    """Centred running median; the window shrinks at the ends rather than repeat an end value."""
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), z, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.nanmedian(windows, axis=1)


def _clip_outliers(z: np.ndarray) -> np.ndarray:
    """Pull each value to within ``OUTLIER_CLIP`` of the running median of its neighbours."""
    local = _running_median(z, _WINDOW)
    return local + np.clip(z - local, -OUTLIER_CLIP, OUTLIER_CLIP)


def _fit_with_trend(z: np.ndarray, slope: float,
                    partition: Callable[[float], tuple[float, tuple[int, ...]]]) -> tuple[float, tuple[int, ...]]:
    """Steps plus one linear trend shared by all segments, fitted by alternating from ``slope``.

    ``partition(slope)`` gives the best steps once that trend is removed. Each half-step
    (steps for a fixed trend, trend for fixed steps) is exact, so the penalised cost only
    falls; returns ``(cost, change points)`` where it settles.
    """
    cost, found = partition(slope)
    for _ in range(_TREND_ROUNDS):
        previous, slope = slope, _pooled_slope(z, found)
        if slope == previous:
            break
        cost, again = partition(slope)
        if again == found:
            break
        found = again
    return cost, found


def _pooled_slope(z: np.ndarray, starts: Sequence[int]) -> float:
    """Least-squares slope of ``z`` over time shared by all segments, each with its own level.

    A slow drift makes the mean-shift search cut a ramp into stairs; the stairs share the
    ramp's slope, so removing it and searching again keeps only the real steps.
    """
    t = np.arange(len(z), dtype=float)
    bounds = [0, *starts, len(z)]
    num = den = 0.0
    for a, b in itertools.pairwise(bounds):
        dt = t[a:b] - t[a:b].mean()
        num += float(dt @ (z[a:b] - z[a:b].mean()))
        den += float(dt @ dt)
    return num / den if den > 0 else 0.0


def _optimal_partition(z: np.ndarray, min_size: int, beta: float) -> tuple[float, list[int]]:
    """Exact minimiser of sum(segment squared error) + beta * changes, by PELT: (cost, starts).

    ``best[t]`` is the optimal cost of ``z[:t]``; ``last[t]`` where its final segment starts.
    A segment ``[s, t)`` costs ``S2[t] - S2[s] - (S1[t] - S1[s])^2 / (t - s)`` (cumulative
    sums), so each candidate start keeps ``best[s] - S2[s]`` and ``S1[s]``. A start is pruned
    once it is ``beta`` worse than the best: it can never win again, since the squared-error
    cost only grows with more points (Killick et al., 2012).
    """
    n = len(z)
    s1 = np.concatenate([[0.0], np.cumsum(z)])
    s2 = np.concatenate([[0.0], np.cumsum(z * z)])
    best = np.empty(n + 1)
    best[0] = -beta
    last = np.zeros(n + 1, dtype=np.int64)
    # The live candidate starts, packed at the front of preallocated arrays.
    pos = np.zeros(n + 1, dtype=np.int64)
    base = np.full(n + 1, -beta)
    level = np.zeros(n + 1)
    live = 1
    for t in range(min_size, n + 1):
        s = t - min_size
        if s >= min_size:
            pos[live], base[live], level[live] = s, best[s] - s2[s], s1[s]
            live += 1
        d = s1[t] - level[:live]
        partial = base[:live] - d * d / (t - pos[:live])
        k = int(partial.argmin())
        best[t] = partial[k] + s2[t] + beta
        last[t] = pos[k]
        keep = partial <= partial[k] + beta
        if not keep.all():
            live = int(keep.sum())
            for array in (pos, base, level):
                array[:live] = array[:len(keep)][keep]
    found = []
    t = n
    while t > 0:
        t = int(last[t])
        if t > 0:
            found.append(t)
    return float(best[n]), sorted(found)
