"""A comparison: every benchmark × metric of the records under test against its baseline.

Pure: records in, a ``Comparison`` out. Several records of one suite and environment
(repeated jobs) are repeated measurements of the same code, and so are the process-runs
inside each record: the decision uses all of their runs together.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from benchtrail.compare.baseline import Baseline, choose_baseline
from benchtrail.compare.defaults import DEFAULT_MIN_EFFECT, DEFAULT_WINDOW
from benchtrail.compare.failures import (
    ERRORS_METRIC,
    PRESENCE_METRIC,
    decide_failures,
    failures_of,
    missing_benchmarks,
)
from benchtrail.compare.rule import GATE, VERDICTS, Decision, decide
from benchtrail.errors import RecordError
from benchtrail.results.model import Benchmark, Gpu, Image, Metric, Record, Source, benchmark_label
from benchtrail.results.threads import thread_change

__all__ = ["BaselineSummary", "Comparison", "Confirmation", "Row", "compare_records", "overall_verdict"]


@dataclass(frozen=True)
class Confirmation:
    """How a row's verdict was confirmed by running its benchmark again in the job."""

    #: ``paired``: the merge request's code and ``against``'s, run in turn (see ``paired``);
    #: ``same_job``: more runs of the merge request's code alone, decided with the first
    method: str
    #: runs made per side
    runs: int
    #: the commit the pairs measured as the baseline (paired only)
    against: str | None = None
    #: (baseline, current) run values of each pair, in the order measured (paired only)
    pairs: tuple[tuple[float, float], ...] = ()
    #: why pairs were not possible (same_job only): the merge base lacks the benchmark...
    reason: str | None = None


@dataclass(frozen=True)
class Row:
    """One benchmark × metric × environment and its decision."""

    suite: str
    benchmark: str
    params: tuple[tuple[str, Any], ...]
    metric: str
    unit: str
    direction: str
    fingerprint: str
    decision: Decision
    #: the baseline's run values, one tuple per baseline record (job), oldest commit first
    baseline_values: tuple[tuple[float, ...], ...] = ()
    #: the run values under test
    current_values: tuple[float, ...] = ()
    #: what a reader needs beside the numbers: the first error message of a failing benchmark
    detail: str | None = None
    #: the confirmation the verdict rests on, when its benchmark was run again
    confirmation: Confirmation | None = None
    #: a distribution's p99, (baseline, current): the baseline's is the median of its records'
    tail: tuple[float | None, float | None] | None = None

    @property
    def label(self) -> str:
        """``name[key=value,...]``, as everywhere else."""
        return benchmark_label(self.benchmark, dict(self.params))

    @property
    def verdict(self) -> str:
        return self.decision.verdict


@dataclass(frozen=True)
class BaselineSummary:
    """What a comparison used as the baseline of one suite × environment (see ``Baseline``)."""

    #: the baseline's commits, oldest first (a run's start time stands in for a missing commit)
    commit_ids: tuple[str, ...] = ()
    anchor: str | None = None
    at_merge_base: bool = False
    environment_changed: bool = False
    before_merge_base: bool = False

    @property
    def commits(self) -> int:
        """How many distinct commits the baseline spans."""
        return len(self.commit_ids)

    @classmethod
    def of(cls, baseline: Baseline) -> BaselineSummary:
        commits = tuple(dict.fromkeys(record.commit_key for record in baseline.records))
        return cls(commits, baseline.anchor, baseline.at_merge_base, baseline.environment_changed,
                   baseline.before_merge_base)


@dataclass(frozen=True)
class Comparison:
    """The rows of one comparison, worst first, and what they were compared with."""

    rows: tuple[Row, ...]
    target_ref: str
    merge_base: str | None
    min_effect: float
    #: per (suite, fingerprint): the baseline used
    baselines: dict[tuple[str, str], BaselineSummary] = field(default_factory=dict)
    #: per (suite, fingerprint): what changed in the environment since the baseline, one line each
    environment_notes: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    #: the source of the first record under test: the commit, MR and pipeline compared
    source: Source = field(default_factory=Source)
    #: the verdicts that fail the gate
    gate: tuple[str, ...] = GATE

    @property
    def verdict(self) -> str:
        return overall_verdict(row.verdict for row in self.rows)

    @property
    def failed(self) -> bool:
        """A row's verdict is one of the gate's: the job fails under ``--fail-on-regression``."""
        return any(row.verdict in self.gate for row in self.rows)

    @property
    def suites(self) -> list[str]:
        return sorted({row.suite for row in self.rows})

    def with_rows(self, rows: Iterable[Row]) -> Comparison:
        """The same comparison with ``rows`` instead (sorted worst first)."""
        return replace(self, rows=tuple(sorted(rows, key=_sort_key)))

    def for_suite(self, suite: str) -> Comparison:
        """The same comparison with only ``suite``'s rows."""
        return Comparison(
            tuple(r for r in self.rows if r.suite == suite), self.target_ref, self.merge_base,
            self.min_effect, {k: v for k, v in self.baselines.items() if k[0] == suite},
            {k: v for k, v in self.environment_notes.items() if k[0] == suite}, self.source, self.gate)

    def suspects(self, suite: str, fingerprint: str | None = None) -> list[str]:
        """The labels of ``suite``'s benchmarks with a suspect metric: regressed,
        inconclusive, or still within one standard error of a regression of the minimum
        effect (a 10 % slowdown seen in one run at 3 % noise reads below 5 % one time in
        twenty: those must run again too). A change that means nothing (around zero) is
        not worth a run."""
        return sorted({row.label for row in self.rows if row.suite == suite
                       and (fingerprint is None or row.fingerprint == fingerprint)
                       and row.decision.suspect and row.decision.change is not None})


def overall_verdict(verdicts: Iterable[str]) -> str:
    """The worst of ``verdicts`` (``VERDICTS`` order); ``no_baseline`` when there are none."""
    seen = set(verdicts)
    return next((v for v in VERDICTS if v in seen), "no_baseline")


class _Measured(NamedTuple):
    """One benchmark × metric across records: the first record's entry and metric, and
    the runs of them all."""

    entry: Benchmark
    metric: Metric
    runs: list[float]
    #: each record's p99, for a distribution
    tails: list[float]


def _by_metric(records: Iterable[Record]) -> dict[tuple[str, str], _Measured]:
    """(label, metric name) -> what the records measured of it."""
    found: dict[tuple[str, str], _Measured] = {}
    for record in records:
        for entry in record.benchmarks:
            for name, metric in entry.metrics.items():
                measured = found.setdefault((entry.label, name), _Measured(entry, metric, [], []))
                measured.runs.extend(metric.run_values)
                if metric.distribution is not None:
                    measured.tails.append(float(metric.distribution.p99))
    return found


def _tail(baseline: list[_Measured], runs: int, current: list[float]) -> tuple[float | None, float | None] | None:
    """The p99 of both sides, each the median of its records' own; on the baseline's side,
    of the newest records that hold its ``runs`` (the level the decision compared with, which
    a step earlier in the window does not reach), or None without any."""
    before: list[float] = []
    for measured in reversed(baseline):
        if runs <= 0:
            break
        before += measured.tails
        runs -= len(measured.runs)
    if not current and not before:
        return None
    return (statistics.median(before) if before else None, statistics.median(current) if current else None)


def _environment_notes(baseline: Baseline, current: Record) -> tuple[str, ...]:
    """What the environment fingerprint does not cover but changed since the baseline."""
    if not baseline.records:
        return ()
    before, now = baseline.records[-1].environment, current.environment
    notes = []
    for name, then, today in (("image", _json(before.image), _json(now.image)),
                              ("GPU driver/CUDA", _json(before.gpu) or "none", _json(now.gpu) or "none"),
                              ("Python", before.python, now.python),
                              ("packages", dict(before.packages), dict(now.packages))):
        if then is not None and today is not None and then != today:
            notes.append(f"{name} changed since the baseline: {_difference(then, today)}")
    if threads := thread_change(before.threads, now.threads):  # 100x apart on a small runner
        notes.append(f"thread settings changed since the baseline: {threads}")
    return tuple(notes)


def _json(part: Image | Gpu | None) -> dict[str, Any] | None:
    return part.to_json() if part is not None else None


def _difference(before: Any, now: Any) -> str:
    """What changed between two environment values, briefly: ``a → b`` per key."""
    if isinstance(before, dict) and isinstance(now, dict):
        keys = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        return ", ".join(f"{k} {_short(before.get(k))} → {_short(now.get(k))}" for k in keys[:4]) + (
            f" and {len(keys) - 4} more" if len(keys) > 4 else "")
    return f"{_short(before)} → {_short(now)}"


def _short(value: Any) -> str:
    text = "none" if value is None else str(value)
    return text[:19] + "…" if len(text) > 20 else text


def _sort_key(row: Row) -> tuple[Any, ...]:
    change = row.decision.change
    bad = 0.0 if change is None else (change if row.direction == "lower" else -change)
    return VERDICTS.index(row.verdict), -bad, row.suite, row.label, row.metric, row.fingerprint


def compare_records(
    current: Sequence[Record],
    history: Iterable[Record],
    *,
    target_ref: str,
    merge_base: str | None = None,
    merge_base_time: str | None = None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    window: int = DEFAULT_WINDOW,
    gate: tuple[str, ...] = GATE,
) -> Comparison:
    """Compare the records under test (``current``) with their baselines in ``history``
    (records of the results branch, any order): one row per benchmark × metric ×
    environment of ``current``, one per benchmark whose calls failed on either side (see
    ``failures``), and one per benchmark of the baseline that ``current`` lacks. ``gate``
    names the verdicts that fail the job."""
    if not current:
        raise ValueError("no records to compare")
    history = list(history)
    groups: dict[tuple[str, str], list[Record]] = {}
    for record in current:
        groups.setdefault((record.suite, record.fingerprint), []).append(record)
    rows, baselines, notes = [], {}, {}
    for (suite, fingerprint), records in sorted(groups.items()):
        commits = sorted({r.source.commit or "none" for r in records})
        if len(commits) > 1:
            raise RecordError(f"the records of suite {suite!r} are of {len(commits)} commits "
                              f"({', '.join(c[:12] for c in commits)}): compare the runs of one commit")
        commit = records[0].source.commit
        baseline = choose_baseline(history, suite=suite, fingerprint=fingerprint, target_ref=target_ref,
                                   merge_base=merge_base, merge_base_time=merge_base_time,
                                   window=window, exclude_commit=commit)
        baselines[suite, fingerprint] = BaselineSummary.of(baseline)
        notes[suite, fingerprint] = _environment_notes(baseline, records[0])
        # one group per baseline job (record), oldest commit first: a commit measured two to
        # four times (a retried job, an imported history) is that many jobs, so the rule sees
        # their spread as the job-to-job noise it is, not as the run noise inside one job
        past = [_by_metric([record]) for group in baseline.by_commit() for record in group]
        # confirmation runs carry the source, and so the job, of the runs they confirm
        jobs = len({r.source.job_id or repr(r.source) for r in records})
        for key, (entry, metric, runs, tails) in _by_metric(records).items():
            direction = metric.direction
            # a baseline measured in another unit, or the other way round, is no baseline
            alike = [group[key] for group in past if key in group
                     and (group[key].metric.unit, group[key].metric.direction) == (metric.unit, direction)]
            window_runs = [measured.runs for measured in alike]
            if baseline.environment_changed:
                decision = Decision("environment_changed", None, statistics.median(runs), current_runs=len(runs))
            else:
                decision = decide(window_runs, runs, direction=direction, min_effect=min_effect, current_jobs=jobs)
            rows.append(Row(suite, entry.name, tuple(sorted(entry.params.items())), key[1],
                            metric.unit, direction, fingerprint, decision,
                            tuple(tuple(runs) for runs in window_runs), tuple(runs),
                            tail=_tail(alike, decision.baseline_runs, tails)))
        rows += _failure_rows(suite, fingerprint, records, baseline)
    rows.sort(key=_sort_key)
    return Comparison(tuple(rows), target_ref, merge_base, min_effect, baselines, notes, current[0].source, gate)


def _failure_rows(suite: str, fingerprint: str, records: list[Record], baseline: Baseline) -> list[Row]:
    """The rows of failed calls (an error rate in %) and of benchmarks the records lack."""
    rows = []
    before = failures_of(baseline.records) if not baseline.environment_changed else {}
    entries = {entry.label: entry for record in records for entry in record.benchmarks}
    for label, now in sorted(failures_of(records).items()):
        decision = decide_failures(now, before.get(label))
        if decision is not None:
            entry = entries[label]
            rows.append(Row(suite, entry.name, tuple(sorted(entry.params.items())), ERRORS_METRIC, "%", "lower",
                            fingerprint, decision, detail=now.first_error))
    latest = baseline.by_commit()[-1] if baseline.records and not baseline.environment_changed else []
    for entry in missing_benchmarks(latest, records):
        rows.append(Row(suite, entry.name, tuple(sorted(entry.params.items())), PRESENCE_METRIC, "", "lower",
                        fingerprint, Decision("missing", None, None, baseline_runs=entry.runs or 1)))
    return rows

