"""Run a whole suite: every benchmark in fresh worker processes, then one record.

Runs are interleaved (run 1 of every benchmark, then run 2, ...), as pyperf spreads its
worker processes, so a slow minute on a shared runner touches every benchmark a little
instead of one benchmark a lot. The record is written only when every benchmark has
been measured: a failure leaves no partial file.

A worker that gives no result in its time (``worker_deadline_s``: a target, setup or module
import that never returns) is killed, with whatever it started, and named. Workers die with
the runner, whatever stops it (``bench.worker``), and an interruption (Ctrl-C, or SIGTERM
turned into an exception by the CLI) kills them and removes the scratch folder on its way out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from benchtrail import __version__
from benchtrail.bench.fingerprint import describe_environment
from benchtrail.bench.gpu import open_gpus
from benchtrail.bench.metrics import WorkerFigures, WorkerRun, benchmark_entry
from benchtrail.bench.serving import load_streams
from benchtrail.bench.source import describe_source
from benchtrail.bench.suite import BenchmarkSpec, Suite
from benchtrail.deadlines import seconds_from
from benchtrail.errors import EXIT_BUG, SuiteError
from benchtrail.results.model import DatasetRef, Environment, Image, Record, Run, Source
from benchtrail.results.record import dump_record
from benchtrail.results.threads import merge_threads

__all__ = ["WORKER_TIMEOUT_ENV", "WORKER_TIMEOUT_S", "NoProgress", "Progress", "WorkerCrash", "build_record",
           "collect_worker", "local_environment", "run_suite", "spawn_worker", "stop_worker", "worker_deadline_s",
           "worker_hung", "worker_timeout_s"]

log = logging.getLogger(__name__)

#: the least time a worker process gets, in seconds: for its module's import, setup, data,
#: warm-up, and the calls of a benchmark counted in iterations (nothing foretells their length)
WORKER_TIMEOUT_S = 600.0
#: the environment variable that sets another ``WORKER_TIMEOUT_S``
WORKER_TIMEOUT_ENV = "BENCHTRAIL_WORKER_TIMEOUT_S"


class WorkerCrash(RuntimeError):
    """benchtrail's own code failed inside a worker process: a bug, reported as one."""


class Progress(Protocol):
    """What the runner tells of its progress (``benchtrail.console.progress`` shows it)."""

    def start(self, step: str) -> None:
        """A step named ``step`` begins."""

    def tick(self) -> None:
        """Called now and then while a step runs: keeps the display alive."""

    def advance(self, step: str) -> None:
        """Mark one step as finished; ``step`` names it."""


class NoProgress:
    """Progress that shows nothing: the default of ``run_suite`` and ``run_pair``."""

    def start(self, step: str) -> None:
        pass

    def tick(self) -> None:
        pass

    def advance(self, step: str) -> None:
        pass


def worker_timeout_s() -> float:
    """The least time a worker gets: ``BENCHTRAIL_WORKER_TIMEOUT_S`` when set, else ``WORKER_TIMEOUT_S``."""
    seconds = seconds_from(WORKER_TIMEOUT_ENV, WORKER_TIMEOUT_S)
    if seconds is None:
        text = os.environ.get(WORKER_TIMEOUT_ENV, "").strip()
        raise SuiteError(f"{WORKER_TIMEOUT_ENV}: expected a number of seconds > 0, found {text!r}")
    return seconds


def worker_deadline_s(spec: BenchmarkSpec, floor_s: float) -> float:
    """How long the worker measuring ``spec`` may run before it counts as hung: ``floor_s``
    (``worker_timeout_s``), plus twice its ``duration_s``, plus for an HTTP benchmark every
    request taking its whole ``timeout_s`` one after another, at the pace of its ``rate``, after
    waiting for its server to be ready."""
    limit_s = floor_s + 2 * (spec.duration_s or 0.0)
    if spec.endpoint:
        limit_s += spec.ready_timeout_s if spec.kind in ("openai", "kserve-v2") else 0.0
        requests = spec.warmup + (spec.iterations or 0) + 1  # +1: the one in flight when a duration ends
        limit_s += requests * spec.timeout_s
        if spec.rate and spec.iterations:
            limit_s += spec.iterations / spec.rate
    return limit_s


def worker_hung(spec: BenchmarkSpec, limit_s: float) -> SuiteError:
    """The error of a worker for ``spec`` killed after ``limit_s`` seconds without a result."""
    return SuiteError(f"{spec.field_prefix}: the worker process for {spec.label} gave no result within "
                      f"{limit_s:g} s and was stopped (a target, setup or module import that never returns?); "
                      f"{WORKER_TIMEOUT_ENV} gives it more time")


def spawn_worker(spec: BenchmarkSpec, stem: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """Start the worker process that measures ``spec`` once, its files at ``stem``: in a
    session (and process group) of its own, which ``stop_worker`` kills whole, and told this
    process's id, so that it dies with this process (``bench.worker``)."""
    spec_path = stem.with_suffix(".spec.json")
    spec_path.write_text(json.dumps(dataclasses.asdict(spec)), encoding="utf-8")
    # The target's own prints go to stderr: stdout carries only our data.
    return subprocess.Popen(
        [sys.executable, "-m", "benchtrail.bench.worker", str(spec_path), str(stem), str(os.getpid())],
        stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None,
        cwd=cwd, env=env, pass_fds=pass_fds, start_new_session=True,
    )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Kill the worker if it still runs, with whatever it started (its process group), and reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (AttributeError, OSError):  # no process groups (Windows)
            process.kill()
    process.wait()


def _wait(process: subprocess.Popen[bytes], until: float, progress: Progress) -> int | None:
    """The worker's exit code, or ``None`` while it still runs at ``until`` (``time.monotonic``)."""
    while True:
        try:
            return process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            if time.monotonic() >= until:
                return None
            progress.tick()


def collect_worker(process: subprocess.Popen[bytes], spec: BenchmarkSpec, stem: Path, progress: Progress,
                   floor_s: float) -> WorkerRun:
    """Wait for the worker (a tick a second) and read what it measured; a worker still
    running past its deadline (``worker_deadline_s`` with ``floor_s``), or when the wait is
    interrupted, is killed."""
    import numpy as np

    limit_s = worker_deadline_s(spec, floor_s)
    try:
        returncode = _wait(process, time.monotonic() + limit_s, progress)
    finally:
        stop_worker(process)
    if returncode is None:
        raise worker_hung(spec, limit_s)
    error_file, bug_file = Path(f"{stem}.error.json"), Path(f"{stem}.bug.json")
    if error_file.exists():
        raise SuiteError(*json.loads(error_file.read_text(encoding="utf-8"))["problems"])
    if bug_file.exists() or returncode == EXIT_BUG:  # benchtrail's own code failed: a bug, not the user's
        error = json.loads(bug_file.read_text(encoding="utf-8"))["error"] if bug_file.exists() else "exit code 3"
        raise WorkerCrash(f"the worker process for {spec.label} failed in benchtrail's code: {error} "
                          f"(its traceback is above)")
    if returncode != 0:
        how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        raise SuiteError(f"{spec.field_prefix}: the worker process for {spec.label} died ({how})")
    if not Path(f"{stem}.json").exists():  # written last: the user's code ended the worker before
        raise SuiteError(f"{spec.field_prefix}: the worker process for {spec.label} ended without a result: "
                         f"the target, its setup or its module ended the process (os._exit?)")
    figures = WorkerFigures.from_json(json.loads(Path(f"{stem}.json").read_text(encoding="utf-8")))
    latencies = np.fromfile(f"{stem}.lat", dtype=np.int64)
    streams = load_streams(f"{stem}.streams.npz") if Path(f"{stem}.streams.npz").exists() else None
    return WorkerRun(latencies, figures, np.fromfile(f"{stem}.done", dtype=np.int64), streams)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _dataset(path: str, suite_dir: Path, seen: WorkerFigures) -> DatasetRef:
    """The record's dataset: the path as the suite names it, and the sha256 and row count
    the worker saw when it loaded the data (the runner never reads it)."""
    try:
        shown = os.path.relpath(path, suite_dir)
    except ValueError:  # another drive on Windows
        shown = path
    return DatasetRef(Path(shown).as_posix(), str(seen.dataset_sha256), int(seen.dataset_rows or 0))


def local_environment(machine: str | None = None, image: Image | None = None) -> Environment:
    """The environment a run on this machine gets (its fingerprint included)."""
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
    image: Image | None = None,
    progress: Progress | None = None,
    source: Source | None = None,
    cwd: Path | None = None,
) -> tuple[Path, Record]:
    """Measure every benchmark of ``suite`` and write the record into ``out_dir``;
    ``source`` says which code this is (GitLab's variables, or the very code of an
    earlier record for a confirmation run); without it, the checkout says. The workers run
    in ``cwd`` (default: this process's): another tree's code imports from there.

    Returns the record's path and the record.
    """
    progress = progress or NoProgress()
    floor_s = worker_timeout_s()
    started, clock = dt.datetime.now(dt.timezone.utc), time.monotonic()
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
                stem = Path(scratch) / f"{position}-{run}"
                worker = spawn_worker(spec, stem, cwd)
                runs[spec.label].append(collect_worker(worker, spec, stem, progress, floor_s))
                progress.advance(step)

    record = build_record(suite, runs, environment, source, started, clock)
    path = dump_record(record, Path(out_dir) / record.filename())
    return path, record


def build_record(suite: Suite, runs: dict[str, list[WorkerRun]], environment: Environment, source: Source | None,
                 started: dt.datetime, clock: float) -> Record:
    """The record of ``suite`` from each benchmark's worker runs, measured from ``started``
    (``clock``: ``time.monotonic()`` then); without ``source``, the checkout says which code."""
    benchmarks = []
    for spec in suite.benchmarks:
        entry = benchmark_entry(spec, runs[spec.label])
        if spec.dataset:
            entry = dataclasses.replace(entry, dataset=_dataset(spec.dataset, suite.path.parent,
                                                                runs[spec.label][0].figures))
        for warning in entry.warnings or ():
            log.warning("%s: %s", spec.label, warning)
        benchmarks.append(entry)
    # The thread settings of every worker process, merged: a change is what a comparison names.
    threads = merge_threads(r.figures.threads for spec in suite.benchmarks for r in runs[spec.label])
    return Record(
        suite=suite.name,
        benchmarks=tuple(benchmarks),
        source=source if source is not None else describe_source(suite.path.parent),
        environment=dataclasses.replace(environment, threads=threads),
        run=Run(
            started_at=started.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            duration_s=round(time.monotonic() - clock, 3),
            tool_version=__version__,
            runs=max(spec.runs for spec in suite.benchmarks),
            warmup=sum(spec.warmup * spec.runs for spec in suite.benchmarks),
            iterations=sum(entry.calls for entry in benchmarks),
            timer=runs[suite.benchmarks[0].label][0].figures.timer,
        ),
    )
