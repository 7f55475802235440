"""The history of each suite as the site shows it: commits in order, a chart per benchmark ×
metric, one series per environment, read from the records in one pass.

Pure: records in, ``SuiteHistory`` out. A commit is one x position: every run of every
record (job) of that commit counts towards its point, so a retried job adds runs, not a
second point. Commits are ordered by commit time (a record without one by its run's
start), then by their first run. Nothing is dropped: every run value of every record is
kept, and the site's data files are written from here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from benchtrail.results.model import Environment, Record
from benchtrail.results.timestamps import instant

__all__ = ["Chart", "Commit", "Job", "Series", "SuiteHistory", "build_histories", "chart_anchor", "chart_rank"]


@dataclass(frozen=True)
class Commit:
    """One x position: a commit (or, for a record without one, its run's start time)."""

    key: str
    sha: str | None
    title: str | None
    #: the commit time, else the first run's start (RFC 3339)
    when: str
    ref: str | None


@dataclass(frozen=True)
class Job:
    """One record of a suite: a row of the runs table."""

    commit: str  # Commit.key
    started_at: str
    ref: str | None
    fingerprint: str
    pipeline_url: str | None
    pipeline_id: str | None
    job_id: str | None
    mr_iid: str | None


@dataclass(frozen=True)
class Series:
    """One environment's values of one benchmark × metric: the runs of each commit."""

    fingerprint: str
    unit: str
    direction: str
    #: indices into ``SuiteHistory.commits`` of the commits measured, ascending
    commits: tuple[int, ...]
    #: every run value of each of those commits (all its jobs together)
    runs: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class Chart:
    """One benchmark × metric of a suite: its series, never mixed across environments."""

    benchmark: str  # the label: name[key=value,...]
    metric: str
    anchor: str
    series: tuple[Series, ...]

    @property
    def commits(self) -> tuple[int, ...]:
        """The suite commits any series of the chart has, in commit order: its x axis."""
        return tuple(sorted({index for series in self.series for index in series.commits}))


@dataclass(frozen=True)
class SuiteHistory:
    suite: str
    #: every commit of the suite, in commit order
    commits: tuple[Commit, ...]
    charts: tuple[Chart, ...]
    #: every record, newest first
    jobs: tuple[Job, ...]
    #: the environments seen, by fingerprint, as their latest record describes them
    environments: dict[str, Environment]
    #: how many records each environment has
    environment_runs: dict[str, int]


_NOT_ANCHOR = re.compile(r"[^a-z0-9_.]+")


def chart_anchor(benchmark: str, metric: str, taken: set[str]) -> str:
    """A readable, stable HTML id for a chart (``mlp-batch_size-8--latency_ms``); when two
    labels fold to the same text, the later in sorted order gets a short hash of its own."""
    readable = f"{_NOT_ANCHOR.sub('-', benchmark.lower()).strip('-') or 'benchmark'}--" \
               f"{_NOT_ANCHOR.sub('-', metric.lower()).strip('-') or 'metric'}"
    anchor = readable
    if anchor in taken:
        digest = hashlib.sha256("\0".join((benchmark, metric)).encode()).hexdigest()
        anchor = f"{readable}-{digest[:8]}"
    taken.add(anchor)
    return anchor


class _Suite:
    """What one pass over the records gathers of a suite."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[str, Any]] = {}
        self.jobs: list[tuple[Any, Job]] = []
        self.environments: dict[str, tuple[Any, Environment]] = {}
        self.environment_runs: dict[str, int] = {}
        # (label, metric) -> (fingerprint, unit, direction) -> commit key -> run values
        self.values: dict[tuple[str, str], dict[tuple[str, str, str], dict[str, list[float]]]] = {}
        # (name, params) -> label: the same benchmarks come back in every record
        self.labels: dict[tuple[str, tuple[tuple[str, Any], ...]], str] = {}

    def add(self, record: Record) -> None:
        source, started = record.source, record.run.started_at
        key = record.commit_key
        when = instant(started)
        seen = self.commits.get(key)
        if seen is None:
            stamp = source.commit_time or started
            self.commits[key] = {"first": when, "order": instant(stamp), "when": stamp, "sha": source.commit,
                                 "title": source.commit_title, "ref": source.ref}
        else:
            if when < seen["first"]:
                seen["first"] = when
                seen["ref"] = source.ref or seen["ref"]
            seen["title"] = seen["title"] or source.commit_title
        fingerprint = record.fingerprint
        self.jobs.append((when, Job(key, started, source.ref, fingerprint, source.pipeline_url, source.pipeline_id,
                                    source.job_id, source.mr_iid)))
        self.environment_runs[fingerprint] = self.environment_runs.get(fingerprint, 0) + 1
        latest = self.environments.get(fingerprint)
        if latest is None or when >= latest[0]:
            self.environments[fingerprint] = (when, record.environment)
        for entry in record.benchmarks:
            known = (entry.name, tuple(entry.params.items()))
            label = self.labels.get(known)
            if label is None:
                label = self.labels[known] = entry.label
            for name, metric in entry.metrics.items():
                charts = self.values.setdefault((label, name), {})
                by_commit = charts.setdefault((fingerprint, metric.unit, metric.direction), {})
                by_commit.setdefault(key, []).extend(metric.run_values)

    def finish(self, suite: str) -> SuiteHistory:
        order = sorted(self.commits, key=lambda k: (self.commits[k]["order"], self.commits[k]["first"], k))
        position = {key: index for index, key in enumerate(order)}
        commits = tuple(Commit(key, self.commits[key]["sha"], self.commits[key]["title"], self.commits[key]["when"],
                               self.commits[key]["ref"]) for key in order)
        taken: set[str] = set()
        charts = []
        for (label, metric), found in sorted(self.values.items(), key=lambda item: (item[0][0], *chart_rank(item[0][1]))):
            series = []
            for (fingerprint, unit, direction), by_commit in found.items():
                ordered = sorted(by_commit.items(), key=lambda item: position[item[0]])
                series.append(Series(fingerprint, unit, direction, tuple(position[k] for k, _ in ordered),
                                     tuple(tuple(v) for _, v in ordered)))
            # the environment with the most records first: it keeps the first colour
            series.sort(key=lambda s: (-self.environment_runs[s.fingerprint], s.fingerprint, s.unit, s.direction))
            charts.append(Chart(label, metric, chart_anchor(label, metric, taken), tuple(series)))
        jobs = tuple(job for _, job in sorted(self.jobs, key=lambda item: (item[0], item[1].job_id or ""),
                                              reverse=True))
        return SuiteHistory(suite, commits, tuple(charts), jobs,
                            {fp: env for fp, (_, env) in sorted(self.environments.items())},
                            dict(sorted(self.environment_runs.items(), key=lambda item: (-item[1], item[0]))))


#: the metrics a suite page shows first, in this order (what their users read first);
#: objectives' shares (``slo_*``) follow, then every other metric by name
_FIRST_CHARTS = ("latency_ms", "ttft_ms", "ttft_sched_ms", "tpot_ms", "itl_ms", "request_latency_ms", "throughput",
                 "output_throughput", "request_throughput", "goodput")


def chart_rank(metric: str) -> tuple[int, str]:
    """Where ``metric``'s chart goes among a benchmark's charts (a sort key)."""
    if metric in _FIRST_CHARTS:
        return _FIRST_CHARTS.index(metric), ""
    return len(_FIRST_CHARTS) + (0 if metric.startswith("slo_") else 1), metric


def build_histories(records: Iterable[Record]) -> dict[str, SuiteHistory]:
    """Every suite's history from ``records`` (any order), by suite name, sorted."""
    suites: dict[str, _Suite] = {}
    for record in records:
        found = suites.get(record.suite)
        if found is None:
            found = suites[record.suite] = _Suite()
        found.add(record)
    return {name: suites[name].finish(name) for name in sorted(suites)}
