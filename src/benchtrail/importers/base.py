"""What every importer shares: the importer type and the parts of a result record.

An importer reads one input path and returns finished records (``benchtrail.result/1``
dicts); it never writes. The blocks here keep the rules in one place: a commit is kept
only as a full SHA (a short or missing hash leaves ``commit`` null and is kept in
``ref``), times are RFC 3339, hardware nobody recorded is "unknown", and the
fingerprint is computed the way ``benchtrail run`` computes it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail import __version__
from benchtrail.bench.fingerprint import fingerprint_of
from benchtrail.bench.metrics import tidy
from benchtrail.importers.reader import Bad, Node, Problems
from benchtrail.results.schema import SCHEMA_ID, SKETCH_QUANTILES, shorten

__all__ = [
    "UNKNOWN",
    "UNKNOWN_START",
    "Context",
    "Importer",
    "benchmark",
    "benchmark_name",
    "distribution",
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
_PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True)
class Context:
    """What the user said on the command line: the suite and the machine label."""

    suite: str
    machine: str | None = None


@dataclass(frozen=True)
class Importer:
    """One input format: ``read(path, context)`` returns the records of one input path."""

    name: str
    summary: str  # one line for --help
    read: Callable[[Path, Context], list[dict[str, Any]]]


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
           ref: str | None = None, project_url: str | None = None) -> dict[str, Any]:
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
    return {
        "commit": full,
        "ref": ref,
        "commit_time": time,
        "commit_title": title,
        "pipeline_id": None,
        "job_id": None,
        "pipeline_url": None,
        "project_url": project_url,
        "mr_iid": None,
    }


def environment(context: Context, *, cpu_model: str | None = None, cpu_count: int | None = None,
                python: str | None = None, platform: str | None = None,
                packages: dict[str, str] | None = None, label: str | None = None) -> dict[str, Any]:
    """The ``environment`` block from what the input says. Unknown hardware is
    "unknown" with one CPU (the schema needs a count of at least 1); the runner label
    is the ``--machine`` given, else ``label`` (e.g. asv's machine name), else empty."""
    hardware = {
        "cpu_model": cpu_model.strip() if cpu_model and cpu_model.strip() else UNKNOWN,
        "cpu_count": cpu_count if cpu_count and cpu_count >= 1 else 1,
        "gpu_model": None,
        "gpu_count": 0,
        "runner_label": context.machine or label or "",
    }
    return {
        "fingerprint": fingerprint_of(hardware),
        "hardware": hardware,
        "gpu": "none",
        "python": python or UNKNOWN,
        "platform": platform or UNKNOWN,
        "packages": dict(sorted((packages or {}).items())),
    }


def run(started_at: str | None, *, duration_s: float = 0.0, iterations: int = 0,
        timer: str = UNKNOWN) -> dict[str, Any]:
    """The ``run`` block: one process per benchmark as far as benchtrail can tell;
    resolution and overhead of a timer the input does not describe are 0."""
    return {
        "started_at": started_at or UNKNOWN_START,
        "duration_s": tidy(max(duration_s, 0.0)),
        "tool_version": __version__,
        "runs": 1,
        "warmup": 0,
        "iterations": iterations,
        "timer": {"name": timer, "resolution_ns": 0.0, "overhead_ns": 0.0},
    }


def benchmark_name(node: Node) -> str:
    """A benchmark name: non-empty, cut to the schema's 200 characters."""
    name = " ".join(node.text(nonempty=True).split())
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 3] + "..."


def benchmark(name: str, *, target: str, metrics: dict[str, Any], calls: int, errors: int = 0,
              params: dict[str, Any] | None = None, iterations: int | None = None,
              warnings: Iterable[str] = ()) -> dict[str, Any]:
    """One ``benchmarks[]`` entry; ``target`` says which tool measured what."""
    entry: dict[str, Any] = {
        "name": name,
        "params": dict(params or {}),
        "kind": "callable",
        "target": target,
        "calls": calls,
        "errors": errors,
        "timeouts": 0,
        "metrics": metrics,
    }
    if iterations is not None:
        entry["iterations"] = iterations
    notes = list(dict.fromkeys(warnings))
    if notes:
        entry["warnings"] = notes
    return entry


def single(unit: str, direction: str, value: float) -> dict[str, Any]:
    """A single-value metric; ``runs`` holds it once: one process measured it."""
    value = tidy(value)
    return {"unit": unit, "direction": direction, "value": value, "runs": [value]}


def distribution(samples: list[float], scale: float, unit: str, direction: str) -> dict[str, Any]:
    """A distribution metric computed from every sample, exactly as ``run`` does."""
    import numpy as np

    from benchtrail.bench.summary import summarize

    with np.errstate(all="ignore"):  # absurd inputs overflow; the record check refuses them
        summary = summarize(samples, scale)
    summary.update(unit=unit, direction=direction, runs=[summary["p50"]])
    return tidy(summary)


def _quantile(knots: list[tuple[float, float]], q: float) -> float:
    for (q0, v0), (q1, v1) in itertools.pairwise(knots):
        if q <= q1:
            return v0 if q1 == q0 else v0 + (v1 - v0) * (q - q0) / (q1 - q0)
    return knots[-1][1]


def interpolated(knots: list[tuple[float, float]], *, n: int, mean: float, stdev: float,
                 maximum: float, unit: str, direction: str) -> dict[str, Any]:
    """A distribution metric from known quantiles only (``knots``: (quantile, value),
    increasing, the first at 0 = min). Quantiles in between are linear interpolations;
    above the last knot they equal its value, a lower bound, since nothing is known
    there but ``maximum``."""
    values = {name: _quantile(knots, q) for name, q in _PERCENTILES.items()}
    summary = {
        "n": n, "mean": mean, "stdev": stdev, "min": knots[0][1], "max": maximum, **values,
        "sketch": {"quantiles": list(SKETCH_QUANTILES),
                   "values": [_quantile(knots, q) for q in SKETCH_QUANTILES]},
        "unit": unit, "direction": direction, "runs": [values["p50"]],
    }
    return tidy(summary)


def ordered(node: Node, named: list[tuple[str, float]]) -> None:
    """Refuse summary figures out of order (min above median, ...) beyond rounding."""
    for (name0, v0), (name1, v1) in itertools.pairwise(named):
        if v1 < v0 - 1e-9 * max(abs(v0), abs(v1)):
            raise Bad(node.path, f"expected {name0} <= {name1}, found {v0:g} > {v1:g}")


def record(context: Context, *, source_block: dict[str, Any], environment_block: dict[str, Any],
           run_block: dict[str, Any], benchmarks: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole ``benchtrail.result/1`` record."""
    return {
        "schema": SCHEMA_ID,
        "suite": context.suite,
        "benchmarks": benchmarks,
        "source": source_block,
        "environment": environment_block,
        "run": run_block,
    }


def unique(problems: Problems, entries: list[tuple[Node, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The entries, with a problem noted for each one whose name and params repeat an
    earlier one's: a record with two such benchmarks would be ambiguous."""
    seen: dict[tuple[str, str], str] = {}
    kept = []
    for node, entry in entries:
        key = (entry["name"], json.dumps(entry["params"], sort_keys=True))
        if key in seen:
            problems.add(Bad(node.path, f"duplicate benchmark {shorten(entry['name'])} "
                                        f"with the same params as {seen[key]}"))
            continue
        seen[key] = node.path
        kept.append(entry)
    return kept
