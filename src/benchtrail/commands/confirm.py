"""Confirmation: run the benchmarks that look regressed again before failing a job.

A regression seen in one CI run is often an unlucky run, or a neighbour loading the
runner for the whole job; teams then re-run failed jobs by hand until they pass, and learn
to ignore the check. So the suspect benchmarks (regressed, inconclusive, or near a
regression) run again, in pairs: the merge base's code (a git worktree of it) and the
merge request's, in fresh processes that take turns in blocks of calls (``bench.lockstep``),
in this job and image. A neighbour slows both sides of a pair alike, and the pairs decide
(``compare.confirmation``).

Where the merge base cannot be run (no commit to pair with, no such suite or benchmark in
its tree, its code fails, an HTTP benchmark whose server the tree does not build), the
suspects run again on their own and are decided with the first runs against the
history, and the rows say why. Only runs on the machine class that measured the records
can confirm anything: a job that landed on other hardware says so and confirms nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchtrail.bench.suite import Suite
from benchtrail.commands.defaults import CONFIRM_ROUNDS, CONFIRM_TIMES
from benchtrail.compare.comparison import Comparison
from benchtrail.errors import StoreError, SuiteError
from benchtrail.results.gitrepo import RemoteAccess
from benchtrail.results.model import Image, Record

__all__ = ["ConfirmOptions", "confirm", "uses_gpu"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ConfirmOptions:
    suite_path: Path
    out_dir: Path
    #: runs per side
    times: int = CONFIRM_TIMES
    #: the commit to pair with: the merge base, else the baseline's latest commit
    against: str | None = None
    repo: Path = Path(".")
    access: RemoteAccess | None = None
    job_image: Image | None = None


def _tested_here(records: list[Record], job_image: Image | None) -> Record | None:
    """The record under test that this machine can add runs to: same environment
    fingerprint (hardware class and runner label) and, when both name one, same image."""
    from benchtrail.bench.runner import local_environment

    for label in sorted({r.environment.hardware.runner_label for r in records}):
        here = local_environment(label or None, job_image)
        for record in records:
            image = record.environment.image.reference if record.environment.image else None
            here_image = here.image.reference if here.image else None
            if record.fingerprint == here.fingerprint and (
                    image is None or here_image is None or image == here_image):
                return record
    return None


def _subset(suite: Suite, labels: Sequence[str], runs: int) -> Suite:
    """``suite`` with only the benchmarks ``labels``, ``runs`` processes each."""
    chosen = tuple(dataclasses.replace(spec, runs=runs) for spec in suite.benchmarks if spec.label in labels)
    return dataclasses.replace(suite, benchmarks=chosen)


def _in_tree(path: Path, root: Path, tree: Path) -> Path | None:
    """Where ``path`` (in the checkout at ``root``) lies in ``tree``; ``None`` when outside it."""
    try:
        return tree / path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


class _NoPairs(Exception):
    """Why the merge base cannot be run: the confirmation falls back to the same job."""


def confirm(comparison: Comparison, current: list[Record], options: ConfirmOptions,
            decide_again: Callable[[list[Record]], Comparison]) -> Comparison:
    """``comparison`` with its suspects of the suite at ``options.suite_path`` confirmed:
    decided on pairs with ``options.against`` where it can be run, else on ``times`` more
    runs of their own (``decide_again`` decides on the records under test plus those).
    Unchanged when nothing is suspect or this machine cannot confirm."""
    from benchtrail.bench import load_suite

    suite = load_suite(options.suite_path)
    tested_here = [r for r in current if r.suite == suite.name]
    if not tested_here:
        raise SuiteError(f"{options.suite_path}: suite {suite.name!r} is not among the records compared")
    tested = _tested_here(tested_here, options.job_image)
    if tested is None:
        if comparison.suspects(suite.name):
            log.warning("no confirmation runs: this job's machine or image is not the one that measured %s, "
                        "so its runs could confirm nothing", suite.name)
        return comparison
    labels = comparison.suspects(suite.name, tested.fingerprint)
    if not labels:
        return comparison
    missing = sorted(set(labels) - {spec.label for spec in suite.benchmarks})
    if missing:
        raise SuiteError(f"{options.suite_path}: no benchmark {missing[0]!r} in this suite: "
                         f"is it the suite that was run?")
    baseline = comparison.baselines.get((suite.name, tested.fingerprint))
    against = options.against or (baseline.anchor if baseline else None)
    try:
        return _paired(comparison, suite, tested, labels, against, options)
    except _NoPairs as why:
        reason = str(why)
    log.warning("confirming %s in this job alone: %s", ", ".join(labels), reason)
    more = _run_alone(suite, tested, labels, options)
    from benchtrail.compare.confirmation import mark_same_job

    return mark_same_job(decide_again(current + more), suite.name, tested.fingerprint, labels,
                         runs=options.times, reason=reason)


def _run_alone(suite: Suite, tested: Record, labels: Sequence[str], options: ConfirmOptions) -> list[Record]:
    """``times`` more runs of ``labels``, as many processes each as in the run under test."""
    from benchtrail.bench import run_suite
    from benchtrail.console import progress

    processes = {entry.label: entry.runs or 1 for entry in tested.benchmarks}
    chosen = tuple(dataclasses.replace(spec, runs=processes[spec.label])
                   for spec in suite.benchmarks if spec.label in labels)
    subset = dataclasses.replace(suite, benchmarks=chosen)
    machine = tested.environment.hardware.runner_label or None
    records = []
    with progress(sum(spec.runs for spec in chosen) * options.times,
                  f"Confirming {len(chosen)} benchmark(s) of {suite.name}") as bar:
        for n in range(1, options.times + 1):
            _, record = run_suite(subset, options.out_dir / f"confirm-{n}", machine=machine, progress=bar,
                                  source=tested.source, image=options.job_image)
            records.append(record)
    return records


def _paired(comparison: Comparison, suite: Suite, tested: Record, labels: list[str], against: str | None,
            options: ConfirmOptions) -> Comparison:
    """Run ``labels`` at ``against`` and here in turn; ``_NoPairs`` when the base cannot run."""
    from benchtrail.results.gitrepo import open_repo
    from benchtrail.results.worktree import commit_tree

    if not against or not re.fullmatch(r"[0-9a-f]{7,64}", against):
        raise _NoPairs("no merge base commit to measure beside it")
    if any(spec.endpoint for spec in suite.benchmarks if spec.label in labels):
        raise _NoPairs("an endpoint benchmark measures a running server, which the merge base's tree does not start")
    try:
        root = open_repo(options.repo).folder
    except StoreError as exc:
        raise _NoPairs(str(exc)) from None
    access = options.access or RemoteAccess("origin", "origin")
    try:
        with commit_tree(root, against, access) as tree:
            base_suite = _base_suite(options.suite_path, root, tree, suite, labels, against)
            cwd = _in_tree(Path(os.getcwd()), root, tree) or tree
            return _decide_in_pairs(comparison, base_suite, _subset(suite, labels, 1), tested, cwd, against,
                                    options)
    except StoreError as exc:
        raise _NoPairs(str(exc)) from None


def _decide_in_pairs(comparison: Comparison, base_suite: Suite, head_suite: Suite, tested: Record, cwd: Path,
                     against: str, options: ConfirmOptions) -> Comparison:
    """``times`` pairs of each suspect, and as many again for those still inconclusive, up
    to ``CONFIRM_ROUNDS`` rounds: more pairs only where the first could not tell, so a clear
    verdict costs no more (tools/perf/bench_template_path.py, bench_noisy_neighbour.py)."""
    from benchtrail.compare.confirmation import apply_pairs

    base, head = _run_pairs(base_suite, head_suite, tested, cwd, options)
    confirmed = apply_pairs(comparison, head_suite.name, tested.fingerprint, base, head, against=against)
    for round_ in range(2, CONFIRM_ROUNDS + 1):
        unsure = sorted({row.label for row in confirmed.rows
                         if row.confirmation is not None and row.suite == head_suite.name
                         and row.verdict == "inconclusive"})
        if not unsure:
            break
        log.info("%s still inconclusive after %d pairs: %d more", ", ".join(unsure), len(base), options.times)
        more_base, more_head = _run_pairs(_subset(base_suite, unsure, 1), _subset(head_suite, unsure, 1), tested,
                                          cwd, options, first=len(base) + 1)
        base, head = base + more_base, head + more_head
        confirmed = apply_pairs(comparison, head_suite.name, tested.fingerprint, base, head, against=against)
    return confirmed


def _base_suite(suite_path: Path, root: Path, tree: Path, suite: Suite, labels: list[str], against: str) -> Suite:
    """The merge base's suite, with only ``labels``; ``_NoPairs`` when it lacks any of them."""
    from benchtrail.bench import load_suite

    there = _in_tree(suite_path, root, tree)
    if there is None or not there.is_file():
        raise _NoPairs(f"the merge base {against[:12]} has no {suite_path}")
    try:
        base = load_suite(there)
    except SuiteError as exc:
        raise _NoPairs(f"the merge base's {suite_path} is not one this benchtrail runs: {exc}") from None
    lacking = sorted(set(labels) - {spec.label for spec in base.benchmarks})
    if lacking:
        raise _NoPairs(f"the merge base {against[:12]} has no benchmark {lacking[0]}")
    return _subset(base, labels, 1)


def uses_gpu(tested: Record, labels: Sequence[str]) -> bool:
    """Whether any of ``labels`` ran with a GPU: then the two sides of a pair run one after
    the other, not in lockstep, as two copies of a model may not fit in its memory (and a
    GPU runner is seldom shared with a neighbour)."""
    return any("gpu_peak_memory_mb" in entry.metrics for entry in tested.benchmarks if entry.label in labels)


def _run_pairs(base_suite: Suite, head_suite: Suite, tested: Record, cwd: Path, options: ConfirmOptions,
               first: int = 1) -> tuple[list[Record], list[Record]]:
    """``times`` pairs, each side one process per benchmark, the two in lockstep
    (``bench.lockstep``); which side runs first alternates from pair to pair."""
    from benchtrail.bench.lockstep import Side, SideFailed, run_pair
    from benchtrail.bench.source import describe_source
    from benchtrail.console import progress

    machine = tested.environment.hardware.runner_label or None
    base_source = describe_source(cwd)
    sides = (Side(base_suite, base_source, cwd), Side(head_suite, tested.source))
    lockstep = not uses_gpu(tested, [spec.label for spec in head_suite.benchmarks])
    base: list[Record] = []
    head: list[Record] = []
    steps = len(head_suite.benchmarks) * 2 * options.times
    again = "more " if first > 1 else ""  # the second round, for what the first left inconclusive
    against = base_source.commit[:12] if base_source.commit else "the merge base"
    with progress(steps, f"Confirming {len(head_suite.benchmarks)} benchmark(s) of {head_suite.name} "
                         f"in {options.times} {again}pairs with {against}") as bar:
        for n in range(first, first + options.times):
            try:
                pair = run_pair(sides, (options.out_dir / f"base-{n}", options.out_dir / f"head-{n}"),
                                progress=bar, first=0 if n % 2 else 1, lockstep=lockstep, machine=machine,
                                image=options.job_image)
            except SideFailed as exc:
                if exc.side == 1:
                    raise SuiteError(*exc.problems) from None
                raise _NoPairs(f"the merge base's benchmark does not run: {exc}") from None
            base.append(pair[0])
            head.append(pair[1])
    return base, head
