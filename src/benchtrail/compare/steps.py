"""Steps in a benchmark's history: change points of each series, attributed to commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from benchtrail.compare.changepoints import describe_change_points
from benchtrail.results.series import Point
from benchtrail.results.tabular import format_rows

__all__ = ["Step", "find_steps", "format_steps"]

_COLUMNS = ("started_at", "commit", "suite", "benchmark", "metric", "fingerprint", "before", "after", "change", "unit")
_HEADERS = ("date", "commit", "suite", "benchmark", "metric", "environment", "before", "after", "change", "unit")


@dataclass(frozen=True)
class Step:
    """Where one series (suite × benchmark × metric × environment) moved to a new level."""

    suite: str
    benchmark: str
    metric: str
    fingerprint: str
    #: the first run at the new level, and its commit: the change landed there or just before
    started_at: str
    commit: str | None
    ref: str | None
    before: float
    after: float
    change: float
    unit: str
    direction: str

    @property
    def worse(self) -> bool:
        """The step went in the bad direction."""
        return self.change > 0 if self.direction == "lower" else self.change < 0


def _key(point: Point) -> tuple[str, str, str, str]:
    return point.suite, point.benchmark, point.metric, point.fingerprint


def find_steps(points: Sequence[Point]) -> list[Step]:
    """The steps of every series in ``points`` (as ``series`` returns them: oldest first),
    by series, then in time order. Series with zero or negative values are skipped: a
    relative level means nothing there."""
    steps = []
    for key, group in groupby(sorted(points, key=_key), key=_key):
        run = list(group)  # sorted() is stable: still oldest first
        values = [p.value for p in run]
        if min(values) <= 0:
            continue
        for found in describe_change_points(values):
            at = run[found.index]
            steps.append(Step(*key, started_at=at.started_at, commit=at.commit, ref=at.ref,
                              before=found.before, after=found.after, change=found.change,
                              unit=at.unit, direction=at.direction))
    return steps


def format_steps(steps: Sequence[Step], fmt: str) -> str:
    """``steps`` as ``table``, ``json`` or ``csv``, like ``benchtrail history``'s points."""
    return format_rows(steps, fmt, _COLUMNS, _HEADERS, ("before", "after", "change"))
