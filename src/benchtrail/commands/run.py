"""``benchtrail run``: measure a suite, here or in a container of an image, into one record."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from benchtrail.commands.defaults import OUT_DIR
from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.model import Record

__all__ = ["RunOptions", "RunOutcome", "run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What to run and where; ``None`` means the default (see ``benchtrail run --help``)."""

    suite: Path | None = None
    out_dir: Path = OUT_DIR
    runs: int | None = None
    #: the machine-class label; default: ``BENCHTRAIL_MACHINE``, else the runner's tags
    machine: str | None = None
    image: str | None = None
    gpus: str | None = None
    pull: str | None = None
    #: with ``image``: more variables to pass into the container by name (``--env``)
    env: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutcome:
    path: Path
    record: Record
    #: the table of what was measured, for stdout
    summary: str


def run(options: RunOptions, ci: CiContext | None = None) -> RunOutcome:
    """Run the suite of ``options`` and write its record into ``options.out_dir``."""
    from benchtrail.bench.table import summary_table

    ci = ci if ci is not None else read_ci()
    machine = options.machine or ci.machine
    if options.image is not None:
        from benchtrail.bench.container import run_in_image

        named = {name: os.environ[name] for name in options.env if name in os.environ}
        for name in sorted(set(options.env) - set(named)):
            log.warning("--env %s: not set here, so not passed to the container", name)
        path, record = run_in_image(options.suite, options.out_dir, options.image, gpus=options.gpus,
                                    pull=options.pull or "missing", runs=options.runs, machine=machine,
                                    variables=ci.variables, named=named)
    else:
        from benchtrail.bench import DEFAULT_SUITE, load_suite, run_suite
        from benchtrail.bench.fingerprint import job_image
        from benchtrail.bench.source import describe_source
        from benchtrail.console import progress

        loaded = load_suite(options.suite or Path(DEFAULT_SUITE), runs=options.runs)
        total = sum(spec.runs for spec in loaded.benchmarks)
        image = job_image(ci.job_image) if ci.job_image else None
        source = describe_source(loaded.path.parent, ci.source)
        with progress(total, f"Running {loaded.name}") as bar:
            path, record = run_suite(loaded, options.out_dir, machine=machine, image=image, progress=bar,
                                     source=source)
    return RunOutcome(path, record, summary_table(record.benchmarks))
