"""Series: one benchmark × metric × environment over time, built from records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from benchtrail.results.model import Record
from benchtrail.results.timestamps import instant

__all__ = ["Point", "series"]


@dataclass(frozen=True)
class Point:
    """One run's value of one series."""

    suite: str
    benchmark: str  # name[param=value,...]
    metric: str
    fingerprint: str
    started_at: str
    commit: str | None
    ref: str | None
    commit_time: str | None
    value: float
    unit: str
    direction: str
    runs: tuple[float, ...]


def series(
    records: Iterable[Record],
    *,
    suite: str | None = None,
    benchmark: str | None = None,
    metric: str | None = None,
    ref: str | None = None,
    environment: str | None = None,
) -> list[Point]:
    """Every point of the records, filtered by suite, benchmark (name or label), metric,
    ref and environment (a fingerprint, or a prefix of one), oldest first (by run start,
    then commit), grouped by nothing: callers group by (suite, benchmark, metric,
    fingerprint)."""
    points = []
    for record in records:
        source = record.source
        if suite is not None and record.suite != suite:
            continue
        if ref is not None and source.ref != ref:
            continue
        if environment is not None and not record.fingerprint.startswith(environment):
            continue
        for entry in record.benchmarks:
            if benchmark is not None and benchmark not in (entry.label, entry.name):
                continue
            for key, values in sorted(entry.metrics.items()):
                if metric is not None and key != metric:
                    continue
                points.append(Point(
                    suite=record.suite, benchmark=entry.label, metric=key, fingerprint=record.fingerprint,
                    started_at=record.run.started_at, commit=source.commit, ref=source.ref,
                    commit_time=source.commit_time, value=values.headline, unit=values.unit,
                    direction=values.direction, runs=values.runs,
                ))
    points.sort(key=lambda p: (instant(p.started_at), p.commit or "", p.suite, p.benchmark, p.metric))
    return points
