"""Confirmation: what a suspect's second measurement decides, and how the rows say it.

Paired (the default): the merge request's code against the merge base's, in turn, in one job.

A suspect seen against the history may be this job's bad luck: a neighbour that loads the
runner slows every run of the job, and more runs in the same job only confirm it. Measured
in turn (base, head, head, base, ... in fresh processes, as ``asv continuous`` does), the
merge base and the merge request share the neighbour, and the ratio of each pair cancels
it. The decision is taken on the log ratios of the pairs, with the rule's own parts:

- the change is their mean within ``WINSOR`` sigmas of their median (``robust_level``: a
  pair that one stall hit is set aside);
- their noise is the rule's winsorized spread (``run_noise``), n - 1 degrees of freedom;
- a change beyond the minimum effect and beyond ``t × se`` (one-sided, ``ALPHA``) is a
  regression or an improvement; within the minimum effect it is unchanged; else inconclusive.

When pairs are not possible (the merge base lacks the suite or the benchmark, or its code
does not run), the suspects run again in the same job alone and are decided with their first
runs against the history; the rows say that too, and why.

Pure: records in, rows out. Running them is ``commands.confirm``'s job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from benchtrail.compare.comparison import Comparison, Confirmation, Row
from benchtrail.compare.rule import (
    ALPHA,
    Decision,
    relative_change,
    robust_level,
    run_noise,
    t_quantile,
    verdict_of,
)
from benchtrail.results.model import Record

__all__ = ["MIN_PAIRS", "apply_pairs", "decide_paired", "mark_same_job", "paired_values"]

#: fewer pairs than this say nothing about their own noise: their verdict is at most inconclusive
MIN_PAIRS = 3


def decide_paired(pairs: Sequence[tuple[float, float]], *, direction: str, min_effect: float,
                  alpha: float = ALPHA) -> Decision:
    """The verdict on (baseline, current) run values measured in pairs (positive values;
    pairs with a value <= 0 say nothing and are left out)."""
    usable = [(b, h) for b, h in pairs if b > 0 and h > 0]
    if not usable:
        return Decision("inconclusive", None, None, baseline_runs=len(pairs), current_runs=len(pairs))
    base = math.exp(float(np.mean(np.log([b for b, _ in usable]))))
    ratios = [h / b for b, h in usable]
    sigma, dof = run_noise([ratios])
    log_change, variance = robust_level(ratios, sigma)
    counts = {"baseline_runs": len(usable), "current_runs": len(usable)}
    floor = math.log1p(min_effect)
    bad = log_change if direction == "lower" else -log_change
    if sigma is None or len(usable) < MIN_PAIRS:
        bar = math.inf
    else:
        bar = max(floor, t_quantile(alpha, dof) * sigma * math.sqrt(variance))
    change = relative_change(log_change)
    return Decision(verdict_of(bad, floor, bar), base, base * (1 + change), change=change, noise=sigma,
                    threshold=relative_change(bar) if math.isfinite(bar) else None, **counts)


def paired_values(base: Sequence[Record], head: Sequence[Record]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(benchmark label, metric) -> the (base, head) run values of each pair of records,
    ``base[i]`` with ``head[i]``; a metric measured in another unit or direction at the
    base is not paired."""
    found: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for then, now in zip(base, head, strict=True):
        earlier = {entry.label: entry for entry in then.benchmarks}
        for entry in now.benchmarks:
            before = earlier.get(entry.label)
            if before is None:
                continue
            for name, metric in entry.metrics.items():
                old = before.metrics.get(name)
                if old is None or (old.unit, old.direction) != (metric.unit, metric.direction):
                    continue
                found.setdefault((entry.label, name), []).extend(
                    zip(old.run_values, metric.run_values))  # one process-run per side, in order
    return found


def apply_pairs(comparison: Comparison, suite: str, fingerprint: str, base: Sequence[Record],
                head: Sequence[Record], *, against: str) -> Comparison:
    """``comparison`` with each suspect row of ``suite`` × ``fingerprint`` that the pairs
    measured decided on its pairs instead, and saying so."""
    pairs = paired_values(base, head)
    rows: list[Row] = []
    for row in comparison.rows:
        measured = pairs.get((row.label, row.metric))
        if (row.suite, row.fingerprint) != (suite, fingerprint) or not row.decision.suspect or not measured:
            rows.append(row)
            continue
        decision = decide_paired(measured, direction=row.direction, min_effect=comparison.min_effect)
        confirmation = Confirmation("paired", len(measured), against=against, pairs=tuple(measured))
        rows.append(replace(row, decision=decision, confirmation=confirmation))
    return comparison.with_rows(rows)


def mark_same_job(comparison: Comparison, suite: str, fingerprint: str, labels: Sequence[str], *, runs: int,
                  reason: str) -> Comparison:
    """``comparison`` (decided on the first runs and ``runs`` more of ``labels``) with
    those rows saying they were confirmed in the same job, and ``reason`` why not in pairs."""
    chosen = set(labels)
    confirmation = Confirmation("same_job", runs, reason=reason)
    return comparison.with_rows(
        replace(row, confirmation=confirmation)
        if (row.suite, row.fingerprint) == (suite, fingerprint) and row.label in chosen and row.current_values
        else row for row in comparison.rows)
