"""Pair noise: how far apart the two sides of a confirmation pair come out when both run the
same code, in lockstep and one after the other, while a CPU hog loads every core.

    python tools/perf/bench_pair_noise.py [--jobs 4] [--pairs 6] [--no-hog] [--modes lockstep,sequential]
                                          [--quick]

Smoke run (under a minute): ``python tools/perf/bench_pair_noise.py --quick`` (1 job of 2 pairs).

Per job: two folders with identical copies of ``tools/perf/bench_noisy_neighbour.py``'s suite
(``alpha`` and ``beta``, pure Python loops of about 1 ms a call, 150 calls, warmup 10) at
paths of different lengths, as the merge base's worktree and the checkout are. Each pair runs
both, with the code confirmation uses:

  lockstep     ``bench.lockstep.run_pair``: one worker per side, both alive, taking turns
               in blocks of calls (what ``compare --confirm-suite`` does);
  sequential   ``bench.run_suite`` for one side, then the other (the first version), the
               order alternating from pair to pair.

Since the code is the same, every difference is noise: printed per job and benchmark as the
mean and standard deviation of log(side B / side A) of their p50 latency, and over all pairs of
each of four summaries of a side's calls (p50; the smoothed median that confirmation decides
on; the mean; p10). A lower
standard deviation is a confirmation that tells a real 10-20 % change from a neighbour with
fewer pairs. Prints machine, command and load. It reports; it exits 0 unless it fails itself.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_noisy_neighbour import SUITE, start_hog, stop_hog, workload

from benchtrail.bench import load_suite, run_suite
from benchtrail.bench.lockstep import Side, run_pair
from benchtrail.bench.suite import Suite
from benchtrail.results.model import Record
from benchtrail.results.schema import SKETCH_QUANTILES

BENCHMARKS = ("alpha", "beta")
MODES = ("lockstep", "sequential")


def make_side(folder: Path) -> Suite:
    (folder / "bench").mkdir(parents=True)
    (folder / "bench" / "suite.toml").write_text(SUITE)
    (folder / "bench" / "workload.py").write_text(workload())
    return load_suite(folder / "bench" / "suite.toml")


#: what a side's latency is summarized by: the median, the smoothed median confirmation
#: decides on (``compare.confirmation.central_value``), the mean and the 10th percentile
STATISTICS = ("p50", "mean", "p25", "p10", "p5")


def statistic(record: Record, name: str, which: str) -> float:
    entry = next(b for b in record.benchmarks if b.name == name)
    distribution = entry.metrics["latency_ms"].distribution
    assert distribution is not None
    if which.startswith("p") and which != "p50":
        return distribution.sketch[SKETCH_QUANTILES.index(int(which[1:]) / 100)]
    return float(getattr(distribution, which))


def one_pair(mode: str, n: int, sides: tuple[Side, Side], root: Path) -> tuple[Record, Record]:
    outs = (root / f"a-{n}", root / f"b-{n}")
    if mode == "lockstep":
        return run_pair(sides, outs, first=n % 2)
    found: dict[int, Record] = {}
    for side in ((0, 1) if n % 2 == 0 else (1, 0)):
        found[side] = run_suite(sides[side].suite, outs[side], cwd=sides[side].cwd)[1]
    return found[0], found[1]


def job(mode: str, pairs: int, rng: random.Random) -> dict[tuple[str, str], list[float]]:
    root = Path(tempfile.mkdtemp(prefix="benchtrail-pairs-"))
    try:
        folders = (root / "a" / ("x" * rng.randint(1, 30)), root / "b" / ("y" * rng.randint(1, 30)))
        sides = (Side(make_side(folders[0]), cwd=folders[0]), Side(make_side(folders[1]), cwd=folders[1]))
        ratios: dict[tuple[str, str], list[float]] = {(n, w): [] for n in BENCHMARKS for w in STATISTICS}
        for n in range(pairs):
            a, b = one_pair(mode, n, sides, root)
            for name, which in ratios:
                ratios[name, which].append(math.log(statistic(b, name, which) / statistic(a, name, which)))
        return ratios
    finally:
        shutil.rmtree(root, ignore_errors=True)


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"mean {statistics.mean(values) * 100:+5.1f} %, sd {sd * 100:4.1f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="jobs per mode, each with fresh folders (default 4)")
    parser.add_argument("--pairs", type=int, default=6, help="pairs per job (default 6)")
    parser.add_argument("--modes", default=",".join(MODES), help="lockstep, sequential or both (default)")
    parser.add_argument("--no-hog", action="store_true", help="no CPU hog (the machine as it is)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 job of 2 pairs per mode: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.pairs = 1, 2
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes) or args.jobs < 1 or args.pairs < 2:
        parser.error(f"--modes takes {', '.join(MODES)}; --jobs at least 1, --pairs at least 2")
    cores = os.cpu_count() or 1
    print(f"Machine: {platform.machine()}, {cores} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"Command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    print(f"Load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{'no hog' if args.no_hog else f'a hog of {cores} busy processes'} while measuring")
    hog = [] if args.no_hog else start_hog(cores)
    everything: dict[str, dict[tuple[str, str], list[float]]] = {}
    try:
        for mode in modes:
            rng = random.Random(args.seed)
            everything[mode] = {}
            for number in range(1, args.jobs + 1):
                ratios = job(mode, args.pairs, rng)
                for key, values in ratios.items():
                    everything[mode].setdefault(key, []).extend(values)
                print(f"{mode:<10} job {number} (p50): " + " | ".join(f"{name} {spread(ratios[name, 'p50'])}"
                                                                     for name in BENCHMARKS), flush=True)
    finally:
        stop_hog(hog)
    print(f"\nlog(B/A) of latency, same code on both sides, {args.jobs} jobs x {args.pairs} pairs per mode:")
    for mode, found in everything.items():
        for which in STATISTICS:
            print(f"{mode:<10} {which:<9}" + " | ".join(f"{name} {spread(found[name, which])}" for name in BENCHMARKS))
    print(f"Load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
