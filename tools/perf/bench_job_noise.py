"""Measure the regression rule when whole CI jobs are noisy, not just their runs.

On shared runners a job lands on another machine, next to other neighbours: every run of
that job is off by the same factor, and repeating runs inside the job cannot average it
out. The rule tells the two noises apart when records hold several runs each (the
default suite's 3). This script draws histories of 20 records x 3 process-runs with a job
noise of CV 3 % over a run noise of CV 1 % (2 % outlying runs 4x wider, a slow drift, in
30 % of them an older +-10 % step), and compares the current job's 3 runs and the 9 of a
confirmation (2 more runs of the suite in the same job). Side by side: github-action-
benchmark (105 %, 110 %) and Bencher's t-test on the records' medians, as in
bench_compare.py. Goal: benchtrail's false alarms stay <= 1 % here too.

Usage: python tools/perf/bench_job_noise.py [--comparisons 5000] [--seed 7] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from histories import ci_history, noisy_runs  # noqa: E402
from peer_rules import bencher_t_limit, gab_ratio  # noqa: E402

from benchtrail.compare.rule import decide  # noqa: E402

RECORDS, RUNS_PER_RECORD, RUN_CV, JOB_CV = 20, 3, 0.01, 0.03
RULES = ("benchtrail", "github-action-benchmark >105%", "github-action-benchmark >110%",
         "Bencher t-test, boundary 0.99")


def alerts(rng: np.random.Generator, change: float, runs: int) -> dict[str, bool]:
    """One history and one current job of ``runs`` runs: which rules alert."""
    steps = [(int(rng.integers(1, 11)), float(rng.choice([-0.1, 0.1])))] if rng.random() < 0.3 else []
    history = ci_history(rng, RECORDS, cv=RUN_CV, runs=RUNS_PER_RECORD, drift=float(rng.uniform(-5e-4, 5e-4)),
                         steps=steps, job_cv=JOB_CV)
    current = noisy_runs(rng, history.levels[-1] * (1 + change), runs, cv=RUN_CV, job_cv=JOB_CV)
    medians = [statistics.median(r) for r in history.runs]
    now = statistics.median(current)
    return {
        RULES[0]: decide(history.runs, current, current_jobs=1).verdict == "regression",
        RULES[1]: gab_ratio(medians, now) > 1.05,
        RULES[2]: gab_ratio(medians, now) > 1.10,
        RULES[3]: now > bencher_t_limit(medians),
    }


def rates(change: float, runs: int, count: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    found = dict.fromkeys(RULES, 0)
    for _ in range(count):
        for rule, alerted in alerts(rng, change, runs).items():
            found[rule] += alerted
    return {rule: hits / count for rule, hits in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comparisons", type=int, default=5000, help="per condition (default 5000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 comparisons per condition: a smoke run")
    args = parser.parse_args()
    count = 200 if args.quick else args.comparisons
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"Python: {platform.python_version()}")
    print(f"Histories: {RECORDS} records x {RUNS_PER_RECORD} runs; job CV {JOB_CV:.0%}, run CV {RUN_CV:.0%}; "
          f"{count:,} comparisons per condition, seed {args.seed}")
    start = time.perf_counter()
    table = {(change, runs): rates(change, runs, count, args.seed + 10 * runs + int(change * 100))
             for change in (0.0, 0.10) for runs in (3, 9)}
    half = 1.96 * (0.01 * 0.99 / count) ** 0.5
    print(f"{'rule':34} {'A/A 3 runs':>11} {'A/A 9 runs':>11} {'+10% 3 runs':>12} {'+10% 9 runs':>12}")
    for rule in RULES:
        cells = [f"{table[change, runs][rule]:.2%}" for change in (0.0, 0.10) for runs in (3, 9)]
        print(f"{rule:34} {cells[0]:>11} {cells[1]:>11} {cells[2]:>12} {cells[3]:>12}")
    print(f"(a rate near 1 % is known to about ±{half:.2%}; {time.perf_counter() - start:.0f} s)")
    worst = max(table[0.0, runs][RULES[0]] for runs in (3, 9))
    print(f"Goal: benchtrail false alarms <= 1% under job noise: {worst:.2%} -> {'PASS' if worst <= 0.01 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
