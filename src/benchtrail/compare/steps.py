"""Steps in a benchmark's history: change points of each series, attributed to commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from benchtrail.compare.changepoints import describe_change_points, unanalysable
from benchtrail.compare.render import format_change
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


def _series(points: Sequence[Point]) -> list[tuple[tuple[str, str, str, str], list[Point]]]:
    """Each series of ``points``, oldest point first (``sorted`` is stable)."""
    return [(key, list(group)) for key, group in groupby(sorted(points, key=_key), key=_key)]


def find_steps(points: Sequence[Point]) -> tuple[list[Step], list[str]]:
    """The steps of every series in ``points`` (as ``series`` returns them: oldest first),
    by series, then in time order; and one line for each series that cannot have any,
    saying why. A series with a zero or negative value steps on a linear scale."""
    steps, notes = [], []
    for key, run in _series(points):
        values = [p.value for p in run]
        why = unanalysable(values)
        if why is not None:
            notes.append(f"{key[0]} {key[1]} {key[2]} ({key[3][:8]}): no change points: {why}")
            continue
        for found in describe_change_points(values):
            at = run[found.index]
            steps.append(Step(*key, started_at=at.started_at, commit=at.commit, ref=at.ref,
                              before=found.before, after=found.after, change=found.change,
                              unit=at.unit, direction=at.direction))
    return steps, notes


def format_steps(steps: Sequence[Step], fmt: str) -> str:
    """``steps`` as ``table`` (the change in %, as ``compare`` says it), ``json`` or ``csv``
    (the change as a fraction), like ``benchtrail history``'s points."""
    return format_rows(steps, fmt, _COLUMNS, _HEADERS, ("before", "after", "change"),
                       shown={"change": format_change})
