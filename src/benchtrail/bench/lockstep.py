"""Measure two versions of a suite side by side, in lockstep: a confirmation's pair.

For each benchmark, one worker process per side, both alive at once, taking turns in
blocks of calls (``bench.baton``): whatever loads the machine while they run falls on both
alike, and only one of them runs at a time. ``first`` says which side runs the first
block, so that a confirmation can alternate it from pair to pair. A benchmark that calls
from several threads, or any when ``lockstep`` is off (two copies of a model may not fit
in a GPU's memory), runs its two sides one after the other instead. A worker that keeps the
turn past its time (``runner.worker_deadline_s``, counting only its own turns) is killed and
its side named, as is one that fails.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchtrail.bench.baton import ENV
from benchtrail.bench.metrics import WorkerRun
from benchtrail.bench.runner import (
    NoProgress,
    Progress,
    build_record,
    collect_worker,
    local_environment,
    spawn_worker,
    stop_worker,
    worker_deadline_s,
    worker_hung,
    worker_timeout_s,
)
from benchtrail.bench.suite import BenchmarkSpec, Suite
from benchtrail.errors import SuiteError
from benchtrail.results.model import Image, Record, Source
from benchtrail.results.record import dump_record

__all__ = ["Side", "SideFailed", "run_pair"]


class SideFailed(SuiteError):
    """A side's benchmark failed (``side``: 0 or 1; the problems are the worker's)."""

    def __init__(self, side: int, error: SuiteError) -> None:
        super().__init__(*error.problems)
        self.side = side


@dataclass(frozen=True)
class Side:
    """One side of a pair: its suite (the same benchmarks as the other's), which code it
    is (``None``: the checkout says), and the folder its workers run in (``None``: here)."""

    suite: Suite
    source: Source | None = None
    cwd: Path | None = None


class _Stalled(Exception):
    """The worker on channel ``number`` said nothing within its ``limit_s`` seconds."""

    def __init__(self, number: int, limit_s: float) -> None:
        super().__init__(number, limit_s)
        self.number, self.limit_s = number, limit_s


class _Channel:
    """The relay's end of one worker's baton pipes: the worker is ``number`` of its run, and
    may take ``limit_s`` seconds of turns (waiting for the baton is not its time)."""

    def __init__(self, read_fd: int, write_fd: int, number: int, limit_s: float) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.number, self.limit_s, self.left_s = number, limit_s, limit_s

    def asks(self, progress: Progress) -> bool:
        """Wait for the worker's next word: whether it asks for the baton (it may be done,
        or gone); ``_Stalled`` once its time is spent."""
        since = time.monotonic()
        while not select.select([self.read_fd], [], [], 1.0)[0]:
            if time.monotonic() - since >= self.left_s:
                raise _Stalled(self.number, self.limit_s)
            progress.tick()
        self.left_s -= time.monotonic() - since
        try:
            return os.read(self.read_fd, 1) == b"?"
        except OSError:
            return False

    def hand_over(self, progress: Progress) -> bool:
        """Give the worker the baton and wait until it asks again (or is done)."""
        try:
            os.write(self.write_fd, b"g")
        except OSError:  # the worker is gone
            return False
        return self.asks(progress)

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _relay(channels: Sequence[_Channel], progress: Progress) -> None:
    """Hand the baton to each worker that asks, in turn, until none asks any more."""
    asking = [channel.asks(progress) for channel in channels]
    while any(asking):
        for number, channel in enumerate(channels):
            if asking[number]:
                asking[number] = channel.hand_over(progress)


def _in_lockstep(specs: Sequence[BenchmarkSpec], stems: Sequence[Path], cwds: Sequence[Path | None],
                 floor_s: float, progress: Progress) -> list[subprocess.Popen[bytes]]:
    """The workers of one run of each spec, started together, taking turns (the first
    spec's first) until each is done; ``_Stalled`` names one that ran past its time."""
    channels: list[_Channel] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for number, (spec, stem, cwd) in enumerate(zip(specs, stems, cwds)):
            to_worker, from_worker = os.pipe(), os.pipe()
            channels.append(_Channel(from_worker[0], to_worker[1], number, worker_deadline_s(spec, floor_s)))
            env = {**os.environ, ENV: f"{to_worker[0]},{from_worker[1]}"}
            try:
                processes.append(spawn_worker(spec, stem, cwd, env=env, pass_fds=(to_worker[0], from_worker[1])))
            finally:
                os.close(to_worker[0])
                os.close(from_worker[1])
        _relay(channels, progress)
    except BaseException:
        for process in processes:
            stop_worker(process)
        raise
    finally:
        for channel in channels:
            channel.close()
    return processes


def _measure_both(specs: Sequence[BenchmarkSpec], stems: Sequence[Path], cwds: Sequence[Path | None],
                  order: tuple[int, int], together: bool, floor_s: float, step: str,
                  progress: Progress) -> dict[int, WorkerRun]:
    """One run of each side's spec, side ``order[0]`` first: in lockstep when ``together``,
    else one after the other. A side that fails is named (``SideFailed``), and no worker
    is left running, whatever ends this."""
    workers: dict[int, subprocess.Popen[bytes]] = {}
    measured: dict[int, WorkerRun] = {}
    try:
        if together:
            try:
                started = _in_lockstep([specs[n] for n in order], [stems[n] for n in order],
                                       [cwds[n] for n in order], floor_s, progress)
            except _Stalled as stalled:
                side = order[stalled.number]
                raise SideFailed(side, worker_hung(specs[side], stalled.limit_s)) from None
            workers.update(zip(order, started))
        for side in order:
            if side not in workers:  # one after the other: started once the previous is collected
                workers[side] = spawn_worker(specs[side], stems[side], cwds[side])
            try:
                measured[side] = collect_worker(workers[side], specs[side], stems[side], progress, floor_s)
            except SuiteError as exc:
                raise SideFailed(side, exc) from None
            progress.advance(step)
    finally:
        for worker in workers.values():
            stop_worker(worker)
    return measured


def run_pair(sides: tuple[Side, Side], out_dirs: tuple[Path, Path], *, progress: Progress | None = None,
             first: int = 0, lockstep: bool = True, machine: str | None = None,
             image: Image | None = None) -> tuple[Record, Record]:
    """One run of every benchmark of ``sides[0].suite`` on each side, in lockstep, side
    ``first`` first; each side's record is written into its ``out_dirs`` folder."""
    progress = progress or NoProgress()
    floor_s = worker_timeout_s()
    started, clock = dt.datetime.now(dt.timezone.utc), time.monotonic()
    environment = local_environment(machine, image)
    order = (first, 1 - first)
    runs: tuple[dict[str, list[WorkerRun]], ...] = ({}, {})
    with tempfile.TemporaryDirectory(prefix="benchtrail-pair-") as scratch:
        for position, spec in enumerate(sides[0].suite.benchmarks):
            specs = (spec, next(s for s in sides[1].suite.benchmarks if s.label == spec.label))
            stems = [Path(scratch) / f"{position}-{side}" for side in (0, 1)]
            step = f"{spec.label}, both sides in turn"
            progress.start(step)
            together = lockstep and all(s.concurrency == 1 for s in specs)
            measured = _measure_both(specs, stems, [side.cwd for side in sides], order, together, floor_s, step,
                                     progress)
            for side, run in measured.items():
                runs[side][spec.label] = [run]
    records = tuple(build_record(side.suite, runs[n], environment, side.source, started, clock)
                    for n, side in enumerate(sides))
    for record, out_dir in zip(records, out_dirs):
        dump_record(record, Path(out_dir) / record.filename())
    return records[0], records[1]
