"""Run a whole suite: every benchmark in fresh worker processes, then one record.

Runs are interleaved (run 1 of every benchmark, then run 2, ...), as pyperf spreads its
worker processes, so a slow minute on a shared runner touches every benchmark a little
instead of one benchmark a lot. The record is written only when every benchmark has
been measured: a failure leaves no partial file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchtrail import __version__
from benchtrail.bench.fingerprint import describe_environment
from benchtrail.bench.gpu import open_gpus
from benchtrail.bench.metrics import WorkerRun, benchmark_entry
from benchtrail.bench.source import describe_source
from benchtrail.bench.suite import BenchmarkSpec, Suite
from benchtrail.console import Progress
from benchtrail.errors import SuiteError
from benchtrail.results.record import dump_record
from benchtrail.results.schema import SCHEMA_ID

__all__ = ["local_environment", "record_filename", "run_suite"]

log = logging.getLogger(__name__)


class _NoProgress:
    def start(self, step: str) -> None:
        pass

    def tick(self) -> None:
        pass

    def advance(self, step: str) -> None:
        pass


def _worker(spec: BenchmarkSpec, stem: Path, progress: Progress) -> WorkerRun:
    import numpy as np

    spec_path = stem.with_suffix(".spec.json")
    spec_path.write_text(json.dumps(dataclasses.asdict(spec)), encoding="utf-8")
    # The target's own prints go to stderr: stdout carries only our data.
    process = subprocess.Popen(
        [sys.executable, "-m", "benchtrail.bench.worker", str(spec_path), str(stem)],
        stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None,
    )
    try:
        while True:
            try:
                returncode = process.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                progress.tick()
    finally:
        if process.poll() is None:  # interrupted: do not leave the worker running
            process.kill()
            process.wait()
    error_file = Path(f"{stem}.error.json")
    if error_file.exists():
        raise SuiteError(*json.loads(error_file.read_text(encoding="utf-8"))["problems"])
    if returncode != 0:
        how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        raise SuiteError(f"{spec.field_prefix}: the worker process for {spec.label} died ({how})")
    figures = json.loads(Path(f"{stem}.json").read_text(encoding="utf-8"))
    latencies = np.fromfile(f"{stem}.lat", dtype=np.int64)
    return WorkerRun(latencies, figures)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _dataset_block(path: str, suite_dir: Path, seen: dict[str, Any]) -> dict[str, Any]:
    """The record's dataset block: the path as the suite names it, and the sha256 and
    row count the worker saw when it loaded the data (the runner never reads it)."""
    try:
        shown = os.path.relpath(path, suite_dir)
    except ValueError:  # another drive on Windows
        shown = path
    return {"path": Path(shown).as_posix(), **seen}


def record_filename(record: dict[str, Any]) -> str:
    """``<suite>-<UTC timestamp>-<commit12>.json``: sortable, and unique per run."""
    started = dt.datetime.fromisoformat(record["run"]["started_at"].replace("Z", "+00:00"))
    commit = (record["source"]["commit"] or "nocommit")[:12]
    return f"{record['suite']}-{started:%Y%m%dT%H%M%SZ}-{commit}.json"


def local_environment(machine: str | None = None, image: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The ``environment`` block a run on this machine gets (its fingerprint included)."""
    gpus = open_gpus()
    gpu = gpus.describe() if gpus is not None else None
    if gpus is not None:
        gpus.close()
    return describe_environment(gpu, label=machine, image=image)


def run_suite(
    suite: Suite,
    out_dir: str | Path,
    *,
    machine: str | None = None,
    image: dict[str, str | None] | None = None,
    progress: Progress | None = None,
    source: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Measure every benchmark of ``suite`` and write the record into ``out_dir``;
    ``source`` replaces what the checkout and CI variables say (a confirmation run
    measures the very code of an earlier record).

    Returns the record's path and the record.
    """
    progress = progress or _NoProgress()
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    clock = time.monotonic()
    environment = local_environment(machine, image)

    runs: dict[str, list[WorkerRun]] = {spec.label: [] for spec in suite.benchmarks}
    most_runs = max(spec.runs for spec in suite.benchmarks)
    with tempfile.TemporaryDirectory(prefix="benchtrail-") as scratch:
        for run in range(most_runs):
            for position, spec in enumerate(suite.benchmarks):
                if run >= spec.runs:
                    continue
                step = f"{spec.label} run {run + 1}/{spec.runs}"
                progress.start(step)
                runs[spec.label].append(_worker(spec, Path(scratch) / f"{position}-{run}", progress))
                progress.advance(step)

    benchmarks = []
    for spec in suite.benchmarks:
        entry = benchmark_entry(spec, runs[spec.label])
        if spec.dataset:
            seen = runs[spec.label][0].figures["dataset"]
            entry["dataset"] = _dataset_block(spec.dataset, suite.path.parent, seen)
        for warning in entry.get("warnings", []):
            log.warning("%s: %s", spec.label, warning)
        benchmarks.append(entry)

    first = runs[suite.benchmarks[0].label][0].figures
    record = {
        "schema": SCHEMA_ID,
        "suite": suite.name,
        "benchmarks": benchmarks,
        "source": dict(source) if source is not None else describe_source(suite.path.parent),
        "environment": environment,
        "run": {
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "duration_s": round(time.monotonic() - clock, 3),
            "tool_version": __version__,
            "runs": most_runs,
            "warmup": sum(spec.warmup * spec.runs for spec in suite.benchmarks),
            "iterations": sum(entry["calls"] for entry in benchmarks),
            "timer": first["timer"],
        },
    }
    path = dump_record(record, Path(out_dir) / record_filename(record))
    return path, record
