"""The regression rules of benchtrail's peers, as their documentation and code state them.

Used by ``bench_compare.py``; import it with ``tools/perf`` on ``sys.path``. Every rule takes
the history's values (one per record, oldest first) and the current value(s), lower is better
(a latency), and answers whether the peer would alert.

- github-action-benchmark (``src/write.ts``, ``findAlerts``): ``ratio = current / previous``
  for a smaller-is-better tool, where *previous* is the last entry of the history; an alert
  when ``ratio > alert-threshold`` (default ``200%``). It sees one value per benchmark.
- Bencher, t-test Test (bencher.dev, "Thresholds & Alerts", t-test): a prediction interval
  over the historical Metrics, Student's t with ``n - 1`` degrees of freedom: the Upper
  Boundary Limit is ``mean + t(boundary, n - 1) * stdev * sqrt(1 + 1/n)``; its documented
  example (boundary 0.977, 25 metrics, mean 100, sd 10 -> 121.46) is reproduced exactly by
  this formula with the sample standard deviation. The boundary used here is 0.99, the one
  the docs' ``bencher run --threshold-test t_test --threshold-upper-boundary 0.99`` shows.
- Bencher, Interquartile Range Test (``iqr``): the Upper Boundary Limit is
  ``median + multiplier * (Q3 - Q1)`` of the historical Metrics; the documented example
  multiplier is 2.0 (``use 2.0 for 2x``: median 100, IQR 10 -> limit 120). Quartiles by
  linear interpolation between closest ranks, as Bencher's ``Quartiles`` computes them.
- Apache Otava (``otava.analysis.compute_change_points``, what ``otava analyze`` runs per
  metric): E-divisive split over sliding windows plus the t-test merge step, with the CLI's
  defaults (window 50, max p-value 0.001, min magnitude 0). The current value(s) are
  appended to the history; a regression is a change point at one of the current points whose
  mean after is above the mean before.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import cache
from statistics import NormalDist

import numpy as np

__all__ = [
    "BENCHER_IQR_MULTIPLIER",
    "BENCHER_T_BOUNDARY",
    "GAB_THRESHOLDS",
    "OTAVA_MAX_PVALUE",
    "OTAVA_MIN_MAGNITUDE",
    "OTAVA_WINDOW",
    "bencher_iqr_limit",
    "bencher_t_limit",
    "gab_ratio",
    "oracle_detection",
    "oracle_threshold",
    "otava_regression",
]

#: github-action-benchmark ``alert-threshold`` values reported (its default is 200 %)
GAB_THRESHOLDS = (1.05, 1.10, 1.20, 1.50, 2.00)
BENCHER_T_BOUNDARY = 0.99
BENCHER_IQR_MULTIPLIER = 2.0
OTAVA_WINDOW = 50
OTAVA_MAX_PVALUE = 0.001
OTAVA_MIN_MAGNITUDE = 0.0


def gab_ratio(history: Sequence[float], current: float) -> float:
    """github-action-benchmark's ratio for a smaller-is-better value: current / previous."""
    return current / history[-1]


@cache
def _t_quantile(p: float, dof: int) -> float:
    """Student-t quantile: scipy's when installed, else a Cornish-Fisher expansion around the
    normal quantile (within 0.1 % of it from 10 degrees of freedom on)."""
    try:
        from scipy import stats
    except ImportError:
        z = NormalDist().inv_cdf(p)
        return (z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
                + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3))
    return float(stats.t.ppf(p, dof))


def _normal_sf(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def bencher_t_limit(history: Sequence[float], boundary: float = BENCHER_T_BOUNDARY) -> float:
    """Bencher's t-test Upper Boundary Limit over the historical values (needs 2 or more)."""
    data = np.asarray(history, dtype=float)
    n = len(data)
    if n < 2:
        return math.inf
    sd = float(np.std(data, ddof=1))
    return float(np.mean(data)) + _t_quantile(boundary, n - 1) * sd * math.sqrt(1.0 + 1.0 / n)


def bencher_iqr_limit(history: Sequence[float], multiplier: float = BENCHER_IQR_MULTIPLIER) -> float:
    """Bencher's Interquartile Range Upper Boundary Limit: median + multiplier x IQR."""
    q1, q2, q3 = np.percentile(np.asarray(history, dtype=float), [25, 50, 75])
    return float(q2 + multiplier * (q3 - q1))


def otava_regression(history: Sequence[float], current: Sequence[float]) -> bool:
    """Whether Otava, run with its defaults on history + current, reports a change point at
    a current point whose mean after is higher (slower) than before."""
    from otava.analysis import compute_change_points

    series = [float(v) for v in history] + [float(v) for v in current]
    first = len(history)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on the zero spread of 1-point segments
        change_points, _ = compute_change_points(series, window_len=OTAVA_WINDOW, max_pvalue=OTAVA_MAX_PVALUE,
                                                 min_magnitude=OTAVA_MIN_MAGNITUDE)
    return any(cp.index >= first and cp.stats.mean_2 > cp.stats.mean_1 for cp in change_points)


def oracle_threshold(cv: float, *, outlier_rate: float = 0.0, outlier_scale: float = 4.0,
                     false_alarms: float = 0.01) -> float:
    """The log-threshold an oracle puts on one run, knowing the true level and the noise model
    of ``histories.noisy_runs`` (log value ~ N(0, cv), or N(0, outlier_scale * cv) with
    probability ``outlier_rate``), so that its one-sided false alarms are ``false_alarms``."""
    def tail(t: float) -> float:
        return (1 - outlier_rate) * _normal_sf(t / cv) + outlier_rate * _normal_sf(t / (outlier_scale * cv))

    low, high = 0.0, 20 * outlier_scale * cv  # tail() falls from 0.5 to ~0 over it: bisect
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if tail(middle) > false_alarms else (low, middle)
    return (low + high) / 2


def oracle_detection(cv: float, log_change: float, *, outlier_rate: float = 0.0,
                     outlier_scale: float = 4.0, false_alarms: float = 0.01) -> float:
    """The oracle's exact detection rate on one run for a slowdown of ``log_change`` in log."""
    t = oracle_threshold(cv, outlier_rate=outlier_rate, outlier_scale=outlier_scale, false_alarms=false_alarms)
    return ((1 - outlier_rate) * _normal_sf((t - log_change) / cv)
            + outlier_rate * _normal_sf((t - log_change) / (outlier_scale * cv)))
