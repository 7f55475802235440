"""Confirmation: run the benchmarks that look regressed again before failing a job.

A regression seen in one CI run is often an unlucky run; teams then re-run failed jobs by
hand until they pass, and learn to ignore the check. So the benchmarks that look
regressed (or inconclusive) run ``times`` more, in fresh processes, in the same job and
image, and the decision is taken again on all the runs together (three runs let the rule
set one outlying run aside; two do not). Only runs on the same kind of machine can
confirm anything: a job that landed on other hardware says so and confirms nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from benchtrail.commands.defaults import CONFIRM_TIMES
from benchtrail.compare.comparison import Comparison
from benchtrail.errors import SuiteError
from benchtrail.results.model import Image, Record

__all__ = ["confirm_runs"]

log = logging.getLogger(__name__)


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


def confirm_runs(
    suite_path: str | Path,
    comparison: Comparison,
    current: list[Record],
    *,
    out_dir: str | Path,
    times: int = CONFIRM_TIMES,
    job_image: Image | None = None,
) -> list[Record]:
    """Run the suspect benchmarks of the suite at ``suite_path`` ``times`` more (each a
    record in ``out_dir/confirm-N``) and return the new records; none when nothing is
    suspect. The machine label is the one of the records under test, so the new records
    share their environment fingerprint, and each benchmark runs in as many processes as
    there. ``job_image`` is the image this job runs in, when known."""
    from benchtrail.bench import load_suite, run_suite
    from benchtrail.console import progress

    suite = load_suite(suite_path)
    tested_here = [r for r in current if r.suite == suite.name]
    if not tested_here:
        raise SuiteError(f"{suite_path}: suite {suite.name!r} is not among the records compared")
    tested = _tested_here(tested_here, job_image)
    if tested is None:
        if comparison.suspects(suite.name):
            log.warning("no confirmation runs: this job's machine or image is not the one that measured %s, "
                        "so its runs could confirm nothing", suite.name)
        return []
    labels = comparison.suspects(suite.name, tested.fingerprint)
    if not labels:
        return []
    # each suspect runs in as many processes as it did in the run under test
    processes = {entry.label: entry.runs or 1 for entry in tested.benchmarks}
    chosen = tuple(dataclasses.replace(spec, runs=processes[spec.label])
                   for spec in suite.benchmarks if spec.label in labels)
    missing = sorted(set(labels) - {spec.label for spec in chosen})
    if missing:
        raise SuiteError(f"{suite_path}: no benchmark {missing[0]!r} in this suite: is it the suite that was run?")
    subset = dataclasses.replace(suite, benchmarks=chosen)
    machine = tested.environment.hardware.runner_label
    records = []
    total = sum(spec.runs for spec in chosen) * times
    with progress(total, f"Confirming {len(chosen)} benchmark(s) of {suite.name}") as bar:
        for n in range(1, times + 1):
            _, record = run_suite(subset, Path(out_dir) / f"confirm-{n}", machine=machine or None, progress=bar,
                                  source=tested.source, image=job_image)
            records.append(record)
    return records
