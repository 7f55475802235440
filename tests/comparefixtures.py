"""Records, seeded histories and a tiny real suite for the compare tests (rule, baseline,
comparison, render, steps, workflow, confirm and their commands).

Synthetic records are the golden record with other benchmarks: ``bench_record`` gives
each one a commit, start time and commit time of its own from a number, so that a history
is a list comprehension and its order is known.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from gitremotes import make_record, write_records

from benchtrail.compare.comparison import Row
from benchtrail.compare.rule import Decision
from benchtrail.results.model import Record

FINGERPRINT = "d305c9f7cbc55706"  # the golden record's
OTHER_FINGERPRINT = "0123456789abcdef"
_START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
#: levels of commits 1..12: 10 ms, then 13 ms from commit 7 on (after a merge base at 6)
STEP_AFTER_6 = [10.0] * 6 + [13.0] * 6

#: a suite of two quick benchmarks: ``sleepy``'s latency is a sleep, steady enough to compare
TINY_SUITE = """
[suite]
name = "tiny"
[[benchmark]]
name = "sleepy"
target = "workload:sleepy"
dataset = "data/rows.jsonl"
warmup = 2
iterations = 20
runs = 3
[[benchmark]]
name = "double"
target = "workload:double"
setup = "workload:load"
dataset = "data/rows.jsonl"
warmup = 2
iterations = 20
runs = 1
"""


def typed(records: list[dict[str, Any]]) -> list[Record]:
    """Records built as JSON (easy to bend in a test) as the typed records the code takes."""
    return [Record.from_json(record) for record in records]


def sha(n: int) -> str:
    """The 40-hex commit id of commit number ``n``."""
    return f"{n:08x}" * 5


def stamp(n: int, minutes: int = 0) -> str:
    """``n`` hours after 2026-03-01T00:00Z (plus ``minutes``), as a record writes it."""
    return (_START + dt.timedelta(hours=n, minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def noisy(rng: np.random.Generator, level: float, runs: int = 3, cv: float = 0.02) -> list[float]:
    """``runs`` run values around ``level``, log-normal with relative spread ``cv``."""
    return (level * np.exp(rng.normal(0.0, cv, runs))).tolist()


def metric(runs: list[float], *, unit: str = "ms", direction: str = "lower") -> dict[str, Any]:
    """A single-value metric holding its run values."""
    return {"unit": unit, "direction": direction, "value": float(np.median(runs)),
            "runs": [float(v) for v in runs]}


def bench_record(benchmarks: dict[str, Any], *, n: int = 0, rerun: int = 0, suite: str = "demo",
                 ref: str | None = "main", commit: str | None = None, fingerprint: str = FINGERPRINT,
                 commit_time: str | None = "", image: str | None = None, params: dict[str, Any] | None = None,
                 unit: str = "ms", direction: str = "lower") -> dict[str, Any]:
    """A valid record of commit ``n`` (its ``rerun``-th run). ``benchmarks``: name ->
    the ``latency_ms`` run values, or name -> {metric name: run values or a metric}."""
    record = make_record(n * 10 + rerun, suite=suite, commit=commit or sha(n),
                         started_at=stamp(n, minutes=rerun))
    record["source"].update(ref=ref, commit_time=stamp(n) if commit_time == "" else commit_time)
    record["environment"]["fingerprint"] = fingerprint
    if image is not None:
        record["environment"]["image"]["digest"] = image
    entries = []
    for name, values in benchmarks.items():
        metrics = values if isinstance(values, dict) else {"latency_ms": values}
        metrics = {key: m if isinstance(m, dict) else metric(m, unit=unit, direction=direction)
                   for key, m in metrics.items()}
        runs = max(len(m["runs"]) for m in metrics.values())
        entries.append({"name": name, "params": dict(params or {}), "kind": "callable", "metrics": metrics,
                        "calls": 10 * runs, "errors": 0, "timeouts": 0, "runs": runs})
    record["benchmarks"] = entries
    return record


def history(levels: list[float], *, seed: int, benchmark: str = "double", runs: int = 3, cv: float = 0.02,
            first: int = 1, **fields: Any) -> list[dict[str, Any]]:
    """One record per level, commits ``first``, ``first + 1``, ..., noisy runs around it."""
    rng = np.random.default_rng(seed)
    return [bench_record({benchmark: noisy(rng, level, runs, cv)}, n=first + i, **fields)
            for i, level in enumerate(levels)]


def push_history(work: Path, records: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write ``records`` into ``folder`` and record them on the results branch in one commit."""
    from benchtrail.results.store import record

    files = write_records(folder, records)
    record(files, repo=work)
    return files


def row(label: str = "double", verdict: str = "unchanged", *, change: float | None = 0.0, suite: str = "demo",
        metric_name: str = "latency_ms", unit: str = "ms", direction: str = "lower",
        fingerprint: str = FINGERPRINT, params: tuple[tuple[str, Any], ...] = (),
        suspect: bool | None = None) -> Row:
    """A comparison row with a decision whose figures follow from ``change``; ``suspect``
    by default when regressed or inconclusive."""
    base = 10.0
    current = base if change is None else base * (1 + change)
    if suspect is None:
        suspect = verdict in ("regression", "inconclusive")
    decision = Decision(verdict, None if verdict in ("no_baseline", "environment_changed") else base, current,
                        change=change, noise=0.02, threshold=0.05, baseline_runs=30, current_runs=3,
                        suspect=suspect)
    return Row(suite, label, params, metric_name, unit, direction, fingerprint, decision)


def real_runs(suite_path: Path, count: int, out: Path) -> list[dict[str, Any]]:
    """``count`` records (as JSON) of the suite at ``suite_path`` from real runs, each in its own folder."""
    from benchtrail.bench import load_suite, run_suite

    suite = load_suite(suite_path)
    return [run_suite(suite, out / f"run-{i}")[1].to_json() for i in range(count)]


def as_commit(record: dict[str, Any], n: int, *, ref: str = "main") -> dict[str, Any]:
    """``record`` (a real run's) as if run in CI for commit ``n`` of ``ref``, at ``stamp(n)``."""
    record["source"].update(commit=sha(n), ref=ref, commit_time=stamp(n), job_id=str(5000 + n))
    record["run"]["started_at"] = stamp(n, minutes=5)
    return record
