"""What every importer shares: the importer type and the parts of a result record.

An importer reads one input path and returns finished ``Record``s (``results.model``); it
never writes. The parts here keep the rules in one place: a commit is kept only as a full
SHA (a short or missing hash leaves ``commit`` null and is kept in ``ref``), times are
RFC 3339, hardware nobody recorded is "unknown", and the fingerprint is the model's, as for
``benchtrail run``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchtrail import __version__
from benchtrail.importers.reader import Bad, Node, Problems
from benchtrail.results.model import (
    PERCENTILES,
    SKETCH_QUANTILES,
    Benchmark,
    Distribution,
    Environment,
    Hardware,
    Metric,
    Record,
    Run,
    Source,
    Timer,
    tidy,
)
from benchtrail.results.schema import shorten

__all__ = [
    "UNKNOWN",
    "UNKNOWN_START",
    "Context",
    "Importer",
    "benchmark",
    "distribution",
    "each_benchmark",
    "environment",
    "from_epoch_ms",
    "interpolated",
    "ordered",
    "record",
    "rfc3339",
    "run",
    "single",
    "source",
    "unique",
]

UNKNOWN = "unknown"
#: run.started_at when the input does not say when it ran: the schema needs a time,
#: and a fixed one keeps the output the same bytes for the same input.
UNKNOWN_START = "1970-01-01T00:00:00Z"
_MAX_NAME = 200
_FULL_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", re.ASCII)

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """What the user said on the command line: the suite and the machine label."""

    suite: str
    machine: str | None = None


@dataclass(frozen=True)
class Importer:
    """One input format: ``read(path, context)`` returns the records of one input path.
    ``name`` is its key in ``benchtrail.importers.FORMATS``, which holds its summary."""

    name: str
    read: Callable[[Path, Context], list[Record]]


def rfc3339(node: Node, *, utc: bool = False) -> str:
    """The date-time in ``node`` (ISO 8601 text) as RFC 3339; a time without an offset is
    taken as UTC. ``utc``: converted to UTC, to the second, ending in ``Z``."""
    text = node.text().strip()
    if text[-1:] in ("Z", "z"):  # Python 3.10 reads only the +00:00 spelling
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise node.expected("an ISO 8601 date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    try:
        if utc:
            return _utc_text(when.astimezone(dt.timezone.utc))
        offset = when.utcoffset()
        if offset is None or offset.seconds % 60 or offset.microseconds:
            when = when.astimezone(dt.timezone.utc)  # RFC 3339 offsets are whole minutes
        return when.isoformat()
    except (OverflowError, ValueError):
        raise node.expected("a date-time between the years 1 and 9999") from None


def from_epoch_ms(node: Node) -> str:
    """A JavaScript timestamp (milliseconds since 1970, UTC) as RFC 3339 UTC text."""
    millis = node.number()
    try:
        when = dt.datetime.fromtimestamp(millis / 1000.0, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise node.expected("milliseconds since 1970 within the years 1 to 9999") from None
    return _utc_text(when)


def _utc_text(when: dt.datetime) -> str:
    # strftime("%Y") drops the leading zeros of years before 1000 on some platforms
    return (f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
            f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z")


def source(commit: str | None, *, time: str | None = None, title: str | None = None,
           ref: str | None = None, project_url: str | None = None) -> Source:
    """The ``source`` block. ``commit`` is kept when it is a full SHA; anything else
    (a short or Mercurial-style id) goes into ``ref`` (or before the title when there
    is a ref already), never passed off as a commit."""
    commit = commit.strip() if commit else None
    full = commit.lower() if commit and _FULL_SHA.fullmatch(commit.lower()) else None
    title = title.strip().splitlines()[0].strip() if title and title.strip() else None
    if commit and full is None:
        if ref is None:
            ref = commit
        else:
            title = f"{commit} {title}" if title else commit
    return Source(commit=full, ref=ref, commit_time=time, commit_title=title, project_url=project_url)


def environment(context: Context, *, cpu_model: str | None = None, cpu_count: int | None = None,
                python: str | None = None, platform: str | None = None,
                packages: dict[str, str] | None = None, label: str | None = None,
                env: str | None = None) -> Environment:
    """The ``environment`` block from what the input says. Unknown hardware is
    "unknown" with one CPU (the schema needs a count of at least 1); the runner label
    is the ``--machine`` given, else ``label`` (e.g. asv's machine name), else empty,
    followed by ``env`` (a software environment whose runs must never join another's
    series, such as asv's env name: the label is part of the fingerprint)."""
    machine = context.machine or label or ""
    hardware = Hardware(
        cpu_model=cpu_model.strip() if cpu_model and cpu_model.strip() else UNKNOWN,
        cpu_count=cpu_count if cpu_count and cpu_count >= 1 else 1,
        gpu_model=None,
        gpu_count=0,
        runner_label=" / ".join(part for part in (machine, env) if part),
    )
    return Environment(fingerprint=hardware.fingerprint, hardware=hardware, gpu=None,
                       python=python or UNKNOWN, platform=platform or UNKNOWN,
                       packages=dict(sorted((packages or {}).items())))


def run(started_at: str | None, *, duration_s: float = 0.0, iterations: int = 0,
        timer: str = UNKNOWN) -> Run:
    """The ``run`` block: one process per benchmark as far as benchtrail can tell;
    resolution and overhead of a timer the input does not describe are 0."""
    return Run(started_at=started_at or UNKNOWN_START, duration_s=tidy(max(duration_s, 0.0)),
               tool_version=__version__, runs=1, warmup=0, iterations=iterations,
               timer=Timer(timer, 0.0, 0.0))


def benchmark(name: Node, *, target: str, metrics: dict[str, Metric], calls: int, errors: int = 0,
              params: dict[str, Any] | None = None, iterations: int | None = None,
              warnings: Iterable[str] = ()) -> Benchmark:
    """One ``benchmarks[]`` entry named by the text in ``name``: it must not be blank, and
    is cut to the schema's 200 characters. ``target`` says which tool measured what."""
    text = " ".join(name.text(nonempty=True).split())
    if len(text) > _MAX_NAME:
        text = text[: _MAX_NAME - 3] + "..."
    notes = tuple(dict.fromkeys(warnings))
    return Benchmark(name=text, kind="callable", metrics=metrics, calls=calls, errors=errors,
                     params=dict(params or {}), target=target, iterations=iterations,
                     warnings=notes or None)


def single(unit: str, direction: str, value: float) -> Metric:
    """A single-value metric; ``runs`` holds it once: one process measured it."""
    value = tidy(value)
    return Metric(unit, direction, value=value, runs=(value,))


def distribution(samples: list[float], scale: float, unit: str, direction: str) -> Metric:
    """A distribution metric computed from every sample, exactly as ``run`` does."""
    import numpy as np

    with np.errstate(all="ignore"):  # absurd inputs overflow; the record check refuses them
        summary = Distribution.of(samples, scale)
    return Metric(unit, direction, distribution=summary, runs=(summary.p50,))


def _quantile(knots: list[tuple[float, float]], q: float) -> float:
    for (q0, v0), (q1, v1) in itertools.pairwise(knots):
        if q <= q1:
            return v0 if q1 == q0 else v0 + (v1 - v0) * (q - q0) / (q1 - q0)
    return knots[-1][1]


def interpolated(knots: list[tuple[float, float]], *, n: int, mean: float, stdev: float,
                 maximum: float, unit: str, direction: str) -> Metric:
    """A distribution metric from known quantiles only (``knots``: (quantile, value),
    increasing, the first at 0 = min). Quantiles in between are linear interpolations;
    above the last knot they equal its value, a lower bound, since nothing is known
    there but ``maximum``."""
    values = {name: tidy(_quantile(knots, q)) for name, q in PERCENTILES.items()}
    summary = Distribution(n=n, mean=tidy(mean), stdev=tidy(stdev), min=tidy(knots[0][1]),
                           max=tidy(maximum), **values,
                           sketch=tidy(tuple(_quantile(knots, q) for q in SKETCH_QUANTILES)))
    return Metric(unit, direction, distribution=summary, runs=(summary.p50,))


def ordered(node: Node, named: list[tuple[str, float]]) -> None:
    """Refuse summary figures out of order (min above median, ...) beyond rounding."""
    for (name0, v0), (name1, v1) in itertools.pairwise(named):
        if v1 < v0 - 1e-9 * max(abs(v0), abs(v1)):
            raise Bad(node.path, f"expected {name0} <= {name1}, found {v0:g} > {v1:g}")


def record(context: Context, benchmarks: Sequence[Benchmark], *, source_block: Source | None = None,
           environment_block: Environment | None = None, started_at: str | None = None,
           duration_s: float = 0.0, timer: str = UNKNOWN) -> Record:
    """A whole record of ``benchmarks``. What the input does not tell stays unknown: no
    commit, "unknown" hardware, the fixed start; ``run.iterations`` counts every call."""
    return Record(
        suite=context.suite,
        benchmarks=tuple(benchmarks),
        source=source(None) if source_block is None else source_block,
        environment=environment(context) if environment_block is None else environment_block,
        run=run(started_at, duration_s=duration_s, iterations=sum(entry.calls for entry in benchmarks),
                timer=timer),
    )


def unique(problems: Problems, entries: list[tuple[Node, Benchmark]]) -> list[Benchmark]:
    """The entries, with a problem noted for each one whose name and params repeat an
    earlier one's: a record with two such benchmarks would be ambiguous."""
    seen: dict[tuple[str, str], str] = {}
    kept = []
    for node, entry in entries:
        key = (entry.name, json.dumps(entry.params, sort_keys=True))
        if key in seen:
            problems.add(Bad(node.path, f"duplicate benchmark {shorten(entry.name)} "
                                        f"with the same params as {seen[key]}"))
            continue
        seen[key] = node.path
        kept.append(entry)
    return kept


def each_benchmark(problems: Problems, array: Callable[[], Node], what: str,
                   convert: Callable[[Node], tuple[Benchmark, T]]) -> tuple[list[Benchmark], list[T]]:
    """Every item of the non-empty array ``array()`` through ``convert``, which gives its
    benchmark and what else the item tells (the time it took, say): the benchmarks, kept
    by ``unique``, and those other values. ``array`` is called here, so that a missing or
    wrong array is noted like a bad item: every problem goes to ``problems``, and the
    results are whole only while it has none."""
    items: list[Node] = []
    try:
        node = array()
        items = node.items()
        if not items:
            raise node.fail(f"expected at least one {what}")
    except Bad as bad:
        problems.add(bad)
    converted = problems.each(items, lambda item: (item, convert(item)))
    benchmarks = unique(problems, [(item, entry) for item, (entry, _) in converted])
    return benchmarks, [told for _, (_, told) in converted]
