"""The rule on a real history nobody here wrote: tokio's continuous benchmarks.

``../shared/data/tokio/data.js`` (github-action-benchmark's gh-pages history of
tokio-rs/tokio: 24 series, ~446 points each, several commits measured two to four times)
is imported as ``benchtrail import gab-data-js`` does. For each of the last ``--points``
commits, its records become the merge request under test (their values ×1.00, ×1.10 and
×1.25, every series at once) and the commits before it the target branch's history; the
rule (``compare.comparison.compare_records``, the default window and minimum effect)
decides each series. Printed: the verdicts per factor, and the thresholds the noise set.
Without confirmation: a history is all there is here, nothing can run again.

Usage: python tools/perf/bench_tokio.py [--data ../shared/data/tokio/data.js] [--points 10] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

from benchtrail.compare.comparison import compare_records
from benchtrail.importers import read_records
from benchtrail.results.model import Record

FACTORS = (1.00, 1.10, 1.25)
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tokio" / "data.js"


def scaled(record: Record, factor: float) -> Record:
    """``record`` as a merge request's run with every value ``factor`` times larger (slower)."""
    benchmarks = tuple(dataclasses.replace(entry, metrics={
        name: dataclasses.replace(metric, value=metric.value * factor,
                                  runs=tuple(v * factor for v in metric.runs or ()) or None)
        for name, metric in entry.metrics.items()}) for entry in record.benchmarks)
    return dataclasses.replace(record, benchmarks=benchmarks, source=dataclasses.replace(record.source, ref="feature"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--points", type=int, default=10, help="how many of the last commits to test, one by one")
    parser.add_argument("--quick", action="store_true", help="the last commit alone: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.points = 1
    records = [dataclasses.replace(r, source=dataclasses.replace(r.source, ref="master"))
               for r in read_records("gab-data-js", [args.data], suite="tokio")]
    commits = list(dict.fromkeys(r.commit_key for r in sorted(records, key=lambda r: r.started)))
    repeated = sum(1 for n in collections.Counter(r.commit_key for r in records).values() if n > 4)
    print(f"Machine: {platform.machine()}, {platform.platform()}")
    print(f"Command: python tools/perf/bench_tokio.py --points {args.points}")
    print(f"{len(records)} records of {len(commits)} commits ({repeated} measured more than once per series)")
    verdicts: dict[float, collections.Counter[str]] = {f: collections.Counter() for f in FACTORS}
    thresholds: list[float] = []
    for commit in commits[-args.points:]:
        before = set(commits[:commits.index(commit)])
        history = [r for r in records if r.commit_key in before]
        current = [r for r in records if r.commit_key == commit]
        for factor in FACTORS:
            comparison = compare_records([scaled(r, factor) for r in current], history, target_ref="master")
            verdicts[factor].update(row.verdict for row in comparison.rows)
            if factor == 1.0:
                thresholds += [row.decision.threshold for row in comparison.rows if row.decision.threshold]
    for factor in FACTORS:
        total = sum(verdicts[factor].values())
        shares = ", ".join(f"{verdict} {count / total:.1%}" for verdict, count in verdicts[factor].most_common())
        print(f"last point x{factor:.2f}: {total} series x points: {shares}")
    if thresholds:
        low, high = np.percentile(thresholds, [10, 90])
        print(f"regression thresholds (x1.00): median {statistics.median(thresholds):.0%}, "
              f"10-90 % range {low:.0%}-{high:.0%}, max {max(thresholds):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
