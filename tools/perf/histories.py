"""Seeded synthetic CI benchmark histories with known change points (pure numpy).

Used by the change-point tests and ``bench_changepoints.py``; import it with ``tools/perf`` on
``sys.path``. Nothing here reads files, the clock or global random state: the same generator
seed gives the same history.

Noise model. A record is one CI job; it holds ``runs`` process-runs of one benchmark. Each run's
value is ``level * exp(e)``:

- ``e ~ N(0, cv)`` for an ordinary run (``cv`` is then the run-to-run coefficient of variation,
  to first order);
- ``e ~ N(0, outlier_scale * cv)`` for an outlying run, which happens with probability
  ``outlier_rate`` independently per run (a noisy neighbour, a cold cache, a throttled CPU).

A job can add its own offset: with ``job_cv`` every run of one record (one job, one machine)
is also multiplied by ``exp(j)``, ``j ~ N(0, job_cv)`` drawn once per record: the noise that
repeated runs inside one job cannot average out (another runner, another neighbour).

The multiplicative form keeps every value positive and makes a step the same size in every
unit. This model gives the issue's figures: with ``cv = 0.03``, a rule that knows the true
baseline and allows at most 1 % false alarms (one-sided, on one run) sees a slowdown of 0.1 in
log (``exp(0.1)``, +10.5 %) in about 84 % of single runs, and in about 77 % once 2 % of runs are
outliers 4x wider (its threshold must then rise to keep 1 % false alarms). Measured as exactly
+10.0 % the same model gives 80 % and 72 %; the figures 84 % / 77 % are also exact for an
additive ``level * (1 + e)`` model, which the multiplicative one matches to first order.

Level model. The true level of record ``i`` is
``level * (1 + drift) ** i * prod(1 + size for (index, size) in steps if index <= i)``:
``drift`` is a slow deterministic trend (no random walk), and each step ``(index, size)``
multiplies the level by ``1 + size`` from record ``index`` on (``size = 0.1`` is a 10 %
slowdown for a duration, ``-0.1`` a 10 % speed-up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["History", "ci_history", "noisy_runs", "random_steps", "wandering_history"]


@dataclass(frozen=True)
class History:
    """A synthetic history: the observed values and the truth behind them."""

    runs: list[list[float]]
    """Per record, oldest first, the values of its process-runs."""
    levels: list[float]
    """The true level per record, drift and steps included."""
    change_points: list[int]
    """Sorted indices of the records where a true step starts (never 0)."""

    @property
    def medians(self) -> list[float]:
        """Per record, the median of its runs: what a CI history usually plots."""
        return [float(np.median(values)) for values in self.runs]


def noisy_runs(rng: np.random.Generator, level: float, n: int, *, cv: float = 0.03,
               outlier_rate: float = 0.02, outlier_scale: float = 4.0, job_cv: float = 0.0) -> list[float]:
    """Draw ``n`` run values of one job around ``level`` under the module's noise model."""
    if level <= 0 or cv < 0 or not 0 <= outlier_rate <= 1 or outlier_scale <= 0:
        raise ValueError("noisy_runs: need level > 0, cv >= 0, 0 <= outlier_rate <= 1, "
                         "outlier_scale > 0")
    if job_cv > 0:  # drawn only then, so that histories without it keep their streams
        level *= float(np.exp(rng.normal(0.0, job_cv)))
    # Draw both noises for every run so the stream does not depend on which runs are outliers.
    outlying = rng.random(n) < outlier_rate
    e = rng.normal(0.0, 1.0, n) * np.where(outlying, outlier_scale * cv, cv)
    return (level * np.exp(e)).tolist()


def random_steps(rng: np.random.Generator, n: int, *, count: int, min_gap: int,
                 sizes: Sequence[float]) -> list[tuple[int, float]]:
    """Place ``count`` steps at random in a history of ``n`` records.

    Steps are at least ``min_gap`` records apart and at least ``min_gap`` from either end, so
    every segment holds ``min_gap`` records or more. Each size is drawn uniformly from
    ``sizes`` (pass negative sizes too for speed-ups). Returns sorted ``(index, size)`` pairs.
    Raises ``ValueError`` when the steps cannot fit.
    """
    if count < 0 or min_gap < 1:
        raise ValueError("random_steps: need count >= 0 and min_gap >= 1")
    if count == 0:
        return []
    if not sizes:
        raise ValueError("random_steps: sizes is empty")
    slack = n - (count + 1) * min_gap
    if slack < 0:
        raise ValueError(f"random_steps: {count} steps {min_gap} apart do not fit in {n} records")
    # Stars and bars: sorted offsets in [0, slack] spread the spare records over the gaps.
    offsets = np.sort(rng.integers(0, slack + 1, count))
    picked = rng.integers(0, len(sizes), count)
    return [(int((k + 1) * min_gap + offsets[k]), float(sizes[picked[k]])) for k in range(count)]


def ci_history(rng: np.random.Generator, n: int, *, level: float = 100.0, cv: float = 0.03,
               runs: int = 1, outlier_rate: float = 0.02, outlier_scale: float = 4.0,
               drift: float = 0.0, steps: Sequence[tuple[int, float]] = (), job_cv: float = 0.0) -> History:
    """Generate ``n`` records of ``runs`` process-runs each; see the module docstring.

    Raises ``ValueError`` for a step outside ``1 .. n-1`` or of size ``<= -1`` (a level must
    stay positive), or for ``runs < 1``.
    """
    if n < 0 or runs < 1:
        raise ValueError("ci_history: need n >= 0 and runs >= 1")
    if drift <= -1:
        raise ValueError(f"ci_history: drift must be > -1, got {drift}")
    factor = np.ones(n)
    for index, size in steps:
        if not 1 <= index < n:
            raise ValueError(f"ci_history: step index {index} outside 1..{n - 1}")
        if size <= -1:
            raise ValueError(f"ci_history: step size {size} would make the level non-positive")
        factor[index:] *= 1.0 + size
    levels = level * (1.0 + drift) ** np.arange(n) * factor
    values = [noisy_runs(rng, float(lv), runs, cv=cv, outlier_rate=outlier_rate,
                         outlier_scale=outlier_scale, job_cv=job_cv) for lv in levels]
    change_points = sorted({int(index) for index, size in steps if size != 0})
    return History(runs=values, levels=levels.tolist(), change_points=change_points)


def wandering_history(rng: np.random.Generator, n: int, *, phi: float, level: float = 100.0, cv: float = 0.03,
                      slope: float = 0.0) -> list[float]:
    """``n`` values with no step: ``level * exp(w_i + slope * i)``, where ``w`` is an AR(1)
    of coefficient ``phi`` and stationary standard deviation ``cv`` (a runner whose speed
    wanders from day to day; ``phi = 0`` is independent noise), plus a slow trend."""
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"wandering_history: phi must be in [0, 1), got {phi}")
    shocks = rng.normal(0.0, cv * math.sqrt(1.0 - phi * phi), n)
    wander = np.zeros(n)
    if n:
        wander[0] = rng.normal(0.0, cv)
    for i in range(1, n):
        wander[i] = phi * wander[i - 1] + shocks[i]
    return list(level * np.exp(wander + slope * np.arange(n)))


def bimodal_history(rng: np.random.Generator, n: int, *, low: float = 25.0, high: float = 60.0, cv: float = 0.02,
                    step_at: int | None = None, step: float = 1.0) -> list[float]:
    """``n`` values that land at ``low`` or ``high`` (tokio's ``send_large``: 25k or 60k ns),
    in stretches of 5 to 60 records whose share of ``high`` is drawn anew for each (0.1 to 0.9:
    a mix that changes from week to week, not a level); with ``step_at``, both modes are
    multiplied by ``step`` from that record on (a real change of level)."""
    values: list[float] = []
    while len(values) < n:
        length = int(rng.integers(5, 61))
        share = float(rng.uniform(0.1, 0.9))
        values += list(np.where(rng.random(length) < share, high, low))
    levels = np.array(values[:n]) * np.exp(rng.normal(0.0, cv, n))
    if step_at is not None:
        levels[step_at:] *= step
    return list(levels)
