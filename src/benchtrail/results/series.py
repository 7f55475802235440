"""Series: one benchmark × metric × environment over time, built from records."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Point", "benchmark_label", "headline", "instant", "series"]


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


def benchmark_label(benchmark: dict[str, Any]) -> str:
    """``name[key=value,...]``, the way a benchmark is shown everywhere."""
    params = benchmark.get("params") or {}
    if not params:
        return str(benchmark["name"])
    return f"{benchmark['name']}[{','.join(f'{k}={v}' for k, v in sorted(params.items()))}]"


def headline(metric: dict[str, Any]) -> float:
    """The value a metric is tracked by: p50 of a distribution, else its value."""
    return float(metric["p50"] if "p50" in metric else metric["value"])


def series(
    records: Iterable[dict[str, Any]],
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
        source = record["source"]
        if suite is not None and record["suite"] != suite:
            continue
        if ref is not None and source.get("ref") != ref:
            continue
        if environment is not None and not record["environment"]["fingerprint"].startswith(environment):
            continue
        for entry in record["benchmarks"]:
            label = benchmark_label(entry)
            if benchmark is not None and benchmark not in (label, entry["name"]):
                continue
            for key, values in sorted(entry["metrics"].items()):
                if metric is not None and key != metric:
                    continue
                points.append(Point(
                    suite=record["suite"], benchmark=label, metric=key,
                    fingerprint=record["environment"]["fingerprint"],
                    started_at=record["run"]["started_at"], commit=source.get("commit"),
                    ref=source.get("ref"), commit_time=source.get("commit_time"),
                    value=headline(values), unit=values["unit"], direction=values["direction"],
                    runs=tuple(values.get("runs", ())),
                ))
    points.sort(key=lambda p: (instant(p.started_at), p.commit or "", p.suite, p.benchmark, p.metric))
    return points


_LEAP_SECOND = re.compile(r"(?<=:)60(?=[.Z+-])")


def instant(timestamp: str) -> tuple[int, Any]:
    """A sort key that puts ISO 8601 timestamps in time order whatever their UTC offsets (a
    string comparison would not: ``10:00+02:00`` is before ``09:00Z``); one without an
    offset is taken as UTC."""
    text = _LEAP_SECOND.sub("59", timestamp.upper().replace("Z", "+00:00"))
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return 1, timestamp
    return 0, moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
