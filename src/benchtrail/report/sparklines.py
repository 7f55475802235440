"""The index's small trends: one line per suite and headline metric, as a tiny inline SVG.

A suite has many benchmarks; its trend is their geometric mean, each benchmark relative
to its own median over the last ``COMMITS`` commits of the default branch, in the
environment with the most runs. So a benchmark of 0.05 ms counts as much as one of
50 ms, and a line at +3 % means the suite got 3 % slower (or, for throughput, faster)
across the board. Drawn by hand: a polyline is a few hundred bytes, and matplotlib would
cost more than the whole index.

The change across the window is coloured worse or better (``trend_class``) only over at
least ``MIN_COMMITS`` commits, and only when it is beyond ``MIN_CHANGE`` and beyond
``NOISE_FACTOR`` times the line's own commit-to-commit noise. A fixed 2 % alone coloured
pure noise (simulated suites of two benchmarks, no change at all): one suite in six with 2 %
run-to-run noise and a few commits, one in three with 5 % noise over 50 commits; with this
rule at most one in fifty, while a 5 % step at 2 % noise is still coloured. The noise is a
robust standard deviation, from the median absolute difference of successive levels (as
``compare.changepoints`` measures it), which a step or a slow drift barely moves.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from html import escape

from benchtrail.report.timelines import SuiteHistory

__all__ = ["COMMITS", "HEADLINE_METRICS", "MIN_CHANGE", "MIN_COMMITS", "NOISE_FACTOR", "Sparkline", "sparklines",
           "trend_class"]

HEADLINE_METRICS = ("latency_ms", "throughput", "ttft_ms", "output_throughput")
COMMITS = 50
_WIDTH, _HEIGHT, _PAD = 120.0, 28.0, 3.0
#: the line's height spans at least this relative change: 1 % of noise stays a ripple,
#: a 5 % step takes half the height
_MIN_SPAN = 0.1
#: the smallest change across the window that is coloured worse or better
MIN_CHANGE = 0.02
#: ... and it must be this many times the line's commit-to-commit noise
NOISE_FACTOR = 3.0
#: ... over at least this many commits: with fewer, the noise itself is too uncertain
MIN_COMMITS = 10
# sigma from the median absolute difference of two independent N(0, s) values: s * 0.6745 * sqrt(2)
_MAD_DIFF_TO_SIGMA = 1.0 / (0.6744897501960817 * math.sqrt(2.0))


@dataclass(frozen=True)
class Sparkline:
    metric: str
    direction: str
    benchmarks: int
    commits: int
    #: the change across the window: the median of its last five commits' levels over the
    #: median of its first five, minus one (0.03: 3 % up)
    change: float
    #: the commit-to-commit noise of the levels, relative (0.01: 1 %)
    noise: float
    svg: str  # made here, every text in it escaped


def trend_class(line: Sparkline) -> str:
    """``"worse"`` or ``"better"`` (the CSS class of the change) over ``MIN_COMMITS`` commits
    or more, when the change is beyond ``MIN_CHANGE`` and ``NOISE_FACTOR`` times the noise;
    else ``""``: noise, or too few commits to tell."""
    if line.commits < MIN_COMMITS or abs(line.change) < max(MIN_CHANGE, NOISE_FACTOR * line.noise):
        return ""
    return "worse" if (line.change > 0) == (line.direction == "lower") else "better"


def _level(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _noise(levels: list[float]) -> float:
    """A robust standard deviation of one level, relative: from the median absolute log
    ratio of successive levels, so a step or a drift barely moves it."""
    steps = [abs(math.log(after / before)) for before, after in zip(levels, levels[1:])]
    return statistics.median(steps) * _MAD_DIFF_TO_SIGMA


def _svg(levels: list[float], title: str) -> str:
    low, high = min(levels), max(levels)
    span = max(high - low, _MIN_SPAN)
    middle = (low + high) / 2
    step = (_WIDTH - 2 * _PAD) / max(len(levels) - 1, 1)
    points = [(_PAD + i * step, _HEIGHT / 2 - (v - middle) / span * (_HEIGHT - 2 * _PAD)) for i, v in enumerate(levels)]
    text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    return (f'<svg class="spark" viewBox="0 0 {_WIDTH:g} {_HEIGHT:g}" width="{_WIDTH:g}" height="{_HEIGHT:g}" '
            f'role="img"><title>{escape(title, quote=False)}</title>'
            f'<polyline points="{text}" fill="none" stroke="currentColor" stroke-width="1.3"/>'
            f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.2" fill="currentColor"/></svg>')


def sparklines(history: SuiteHistory, ref: str | None) -> list[Sparkline]:
    """The suite's trend of each headline metric it has on ``ref`` (none with fewer than
    two commits there)."""
    if not history.environment_runs:
        return []
    main = next(iter(history.environment_runs))
    on_ref = [i for i, commit in enumerate(history.commits) if commit.ref == ref][-COMMITS:]
    wanted = set(on_ref)
    found = []
    for metric in HEADLINE_METRICS:
        relative: dict[int, list[float]] = {}
        direction, benchmarks = "lower", 0
        for chart in history.charts:
            if chart.metric != metric:
                continue
            for series in chart.series:
                if series.fingerprint != main:
                    continue
                medians = {i: statistics.median(runs) for i, runs in zip(series.commits, series.runs) if i in wanted}
                if not medians or min(medians.values()) <= 0:
                    continue
                middle = statistics.median(medians.values())
                for index, value in medians.items():
                    relative.setdefault(index, []).append(value / middle)
                direction, benchmarks = series.direction, benchmarks + 1
        levels = [_level(relative[i]) for i in on_ref if i in relative]
        if len(levels) < 2:
            continue
        ends = max(1, min(5, len(levels) // 4))
        change = statistics.median(levels[-ends:]) / statistics.median(levels[:ends]) - 1
        noise = _noise(levels)
        title = (f"{metric}: geometric mean of {benchmarks} benchmark{'s' if benchmarks != 1 else ''}, each "
                 f"relative to its median, over the last {len(levels)} commits of {ref or 'the default branch'}; "
                 f"{change * 100:+.1f} % from its first commits to its last ({direction} is better), "
                 f"commit-to-commit noise {noise * 100:.1f} %")
        found.append(Sparkline(metric, direction, benchmarks, len(levels), change, noise, _svg(levels, title)))
    return found
