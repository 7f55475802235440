"""How the rule reads merge requests just after a step landed on the target branch.

    python tools/perf/bench_post_step.py [--comparisons 2000] [--quick]

Histories of 20 records (1 or 3 process-runs each, log-normal run-to-run noise at CV 3 %,
2 % outlying runs 4x wider) whose last ``k`` records (k = 1..5) stepped up by +30 %: the
step landed ``k`` commits before the merge base. The merge request's runs are at the new
level (no change of its own: it must read "unchanged") or 20 % above it (a real slowdown:
it must read "regression"). And the other way round: one outlying record (+30 %) at the
merge base, the merge request at the old level (must read "unchanged").

Issue 11 asks: after a +30 % step, the next 5 no-change merge requests read "unchanged" in
at least 95 % of comparisons. Prints machine, command, the share of each verdict.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from histories import noisy_runs  # noqa: E402

RECORDS = 20
CV = 0.03
STEP = 1.30


def runs(rng: np.random.Generator, level: float, count: int) -> list[float]:
    return noisy_runs(rng, level, count, cv=CV)


def history(rng: np.random.Generator, per_record: int, tail: int, tail_level: float) -> list[list[float]]:
    return [runs(rng, tail_level if i >= RECORDS - tail else 1.0, per_record) for i in range(RECORDS)]


def share(verdicts: Counter[str], total: int) -> str:
    return ", ".join(f"{v} {n / total:.1%}" for v, n in verdicts.most_common())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="200 comparisons: a smoke run")
    args = parser.parse_args()
    total = 200 if args.quick else args.comparisons
    from benchtrail.compare.rule import decide

    print(f"Machine: {platform.processor() or platform.machine()}, {platform.platform()}")
    print(f"Command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    print(f"Histories: {RECORDS} records, CV {CV:.0%}, 2 % outlying runs 4x wider; {total} comparisons per row; "
          f"seed {args.seed}")
    rng = np.random.default_rng(args.seed)
    worst = 1.0
    for per_record in (1, 3):
        print(f"\n{per_record} run(s) per record and per merge request:")
        for tail in range(1, 6):
            quiet, slow = Counter[str](), Counter[str]()
            for _ in range(total):
                past = history(rng, per_record, tail, STEP)
                quiet[decide(past, runs(rng, STEP, per_record)).verdict] += 1
                slow[decide(past, runs(rng, STEP * 1.2, per_record)).verdict] += 1
            worst = min(worst, quiet["unchanged"] / total)
            print(f"  step +30 % {tail} commit(s) before the merge base: no change: {share(quiet, total)}")
            print(f"  {'':41} +20 % of its own: {share(slow, total)}")
        outlier = Counter[str]()
        for _ in range(total):
            outlier[decide(history(rng, per_record, 1, STEP), runs(rng, 1.0, per_record)).verdict] += 1
        print(f"  one outlying record (+30 %) at the merge base, no change: {share(outlier, total)}")
    print(f"\nGoal: no-change merge requests after a step read 'unchanged' >= 95 %: worst {worst:.1%} "
          f"({'PASS' if worst >= 0.95 else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
