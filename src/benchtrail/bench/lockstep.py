"""Measure two versions of a suite side by side, in lockstep: a confirmation's pair.

For each benchmark, one worker process per side, both alive at once, taking turns in
blocks of calls (``bench.baton``): whatever loads the machine while they run falls on both
alike, and only one of them runs at a time. ``first`` says which side runs the first
block, so that a confirmation can alternate it from pair to pair. A benchmark that calls
from several threads, or any when ``lockstep`` is off (two copies of a model may not fit
in a GPU's memory), runs its two sides one after the other instead.
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


class _Channel:
    """The relay's end of one worker's baton pipes."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd

    def asks(self, progress: Progress) -> bool:
        """Wait for the worker's next word: whether it asks for the baton (it may be done,
        or gone)."""
        while not select.select([self.read_fd], [], [], 1.0)[0]:
            progress.tick()
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
                 progress: Progress) -> list[subprocess.Popen[bytes]]:
    """The workers of one run of each spec, started together, taking turns (the first
    spec's first) until each is done."""
    channels: list[_Channel] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for spec, stem, cwd in zip(specs, stems, cwds):
            to_worker, from_worker = os.pipe(), os.pipe()
            channels.append(_Channel(from_worker[0], to_worker[1]))
            env = {**os.environ, ENV: f"{to_worker[0]},{from_worker[1]}"}
            try:
                processes.append(spawn_worker(spec, stem, cwd, env=env, pass_fds=(to_worker[0], from_worker[1])))
            finally:
                os.close(to_worker[0])
                os.close(from_worker[1])
        _relay(channels, progress)
    except BaseException:
        for process in processes:
            process.kill()
            process.wait()
        raise
    finally:
        for channel in channels:
            channel.close()
    return processes


def run_pair(sides: tuple[Side, Side], out_dirs: tuple[Path, Path], *, progress: Progress | None = None,
             first: int = 0, lockstep: bool = True, machine: str | None = None,
             image: Image | None = None) -> tuple[Record, Record]:
    """One run of every benchmark of ``sides[0].suite`` on each side, in lockstep, side
    ``first`` first; each side's record is written into its ``out_dirs`` folder."""
    progress = progress or NoProgress()
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
            if lockstep and all(s.concurrency == 1 for s in specs):
                started_workers = _in_lockstep([specs[n] for n in order], [stems[n] for n in order],
                                               [sides[n].cwd for n in order], progress)
                workers = dict(zip(order, started_workers))
            else:  # one after the other: each started once the previous is collected
                workers = {}
            for side in order:
                worker = workers.get(side) or spawn_worker(specs[side], stems[side], sides[side].cwd)
                try:
                    runs[side][spec.label] = [collect_worker(worker, specs[side], stems[side], progress)]
                except SuiteError as exc:
                    for other in workers.values():
                        other.kill()
                        other.wait()
                    raise SideFailed(side, exc) from None
                progress.advance(step)
    records = tuple(build_record(side.suite, runs[n], environment, side.source, started, clock)
                    for n, side in enumerate(sides))
    for record, out_dir in zip(records, out_dirs):
        dump_record(record, Path(out_dir) / record.filename())
    return records[0], records[1]
