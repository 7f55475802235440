"""The index's small trends: one line per suite and headline metric, as a tiny inline SVG.

A suite has many benchmarks; its trend is their geometric mean, each benchmark relative
to its own median over the last ``COMMITS`` commits of the default branch, in the
environment with the most runs. So a benchmark of 0.05 ms counts as much as one of
50 ms, and a line at +3 % means the suite got 3 % slower (or, for throughput, faster)
across the board. Drawn by hand: a polyline is a few hundred bytes, and matplotlib would
cost more than the whole index.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from html import escape

from benchtrail.report.timelines import SuiteHistory

__all__ = ["COMMITS", "HEADLINE_METRICS", "Sparkline", "sparklines"]

HEADLINE_METRICS = ("latency_ms", "throughput")
COMMITS = 50
_WIDTH, _HEIGHT, _PAD = 120.0, 28.0, 3.0


@dataclass(frozen=True)
class Sparkline:
    metric: str
    direction: str
    benchmarks: int
    commits: int
    #: the change across the window: the median of its last five commits' levels over the
    #: median of its first five, minus one (0.03: 3 % up)
    change: float
    svg: str  # made here, every text in it escaped


def _level(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _svg(levels: list[float], title: str) -> str:
    low, high = min(levels), max(levels)
    span = max(high - low, 0.02)  # a flat line stays flat, not blown up to the full height
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
        title = (f"{metric}: geometric mean of {benchmarks} benchmark{'s' if benchmarks != 1 else ''}, each "
                 f"relative to its median, over the last {len(levels)} commits of {ref or 'the default branch'}; "
                 f"{change * 100:+.1f} % from its first commits to its last ({direction} is better)")
        found.append(Sparkline(metric, direction, benchmarks, len(levels), change, _svg(levels, title)))
    return found
