"""Measure `benchtrail compare`: 50 metrics against a 1,000-run history (goal < 1 s).

A results branch (a local bare repository as the remote, like a CI clone sees it) holds
RUNS records of one suite on main, each with 10 benchmarks x 5 metrics and 3 process-runs
per metric; one new record of the same suite is compared with it at the merge base.
Figures, as medians over --repeat runs:
  decide     compare_records on records already in memory: the rule itself
  in-process commands.compare_runs.compare: read the branch (one ls-tree, one cat-file batch) and decide
  command    `benchtrail compare FILE --no-fetch` as a user runs it, interpreter start included

Usage: python tools/perf/bench_compare_speed.py [--runs 1000] [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "records" / "result-1.json"
BENCHMARKS, METRICS, PROCESS_RUNS = 10, 5, 3
GOAL_S = 1.0


def git(*args: str, cwd: Path, input_bytes: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=input_bytes, capture_output=True, check=True)
    return done.stdout.decode()


def make_record(template: dict, index: int, rng: random.Random, *, ref: str = "main") -> dict:
    """Run ``index`` of the suite: 10 benchmarks x 5 metrics at CV 3 %, an hour apart."""
    record = copy.deepcopy(template)
    record["suite"] = "speed"
    day, hour = divmod(index, 24)
    stamp = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T{hour:02d}:00:00Z"
    record["run"]["started_at"] = stamp
    record["source"].update(commit=f"{index + 1:040x}", commit_time=stamp, ref=ref, job_id=str(10_000 + index))
    metric = template["benchmarks"][0]["metrics"]["throughput"]
    record["benchmarks"] = [{
        **template["benchmarks"][0], "name": f"model{b}", "params": {"batch_size": 8},
        "metrics": {f"m{m}": {**metric, "direction": "lower", "unit": "ms",
                              "runs": [10.0 * (b + 1) * (1 + rng.gauss(0, 0.03)) for _ in range(PROCESS_RUNS)],
                              "value": 10.0 * (b + 1)} for m in range(METRICS)},
    } for b in range(BENCHMARKS)]
    return record


def build(where: Path, runs: int) -> tuple[Path, Path, str]:
    """(a clone whose origin holds the results branch, the record under test, merge base)."""
    from benchtrail.results.model import Record
    from benchtrail.results.record import dump_record

    template = json.loads(GOLDEN.read_text())
    rng = random.Random(1)
    remote = where / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=where)
    stream = [b"commit refs/heads/benchtrail-results\n", b"committer bench <b@localhost> 1700000000 +0000\n",
              b"data 7\nhistory\n"]
    for index in range(runs):
        record = make_record(template, index, rng)
        data = (json.dumps(record, sort_keys=True, indent=2) + "\n").encode()
        path = Record.from_json(record).branch_path()
        stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    git("fast-import", "--quiet", cwd=remote, input_bytes=b"".join(stream))
    clone = where / "clone"
    git("init", "-q", str(clone), cwd=where)
    git("remote", "add", "origin", str(remote), cwd=clone)
    git("fetch", "-q", "origin", "benchtrail-results", cwd=clone)
    current = dump_record(Record.from_json(make_record(template, runs, rng, ref="feature")),
                          where / "current.json")
    return clone, current, f"{runs:040x}"


def median_spread(values: list[float]) -> str:
    med = statistics.median(values)
    warn = "  (warning: large spread)" if max(values) > 1.5 * min(values) else ""
    return f"median {med:.3f} s (min {min(values):.3f}, max {max(values):.3f}, n={len(values)}){warn}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="records in the history (default 1000)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100 records, 2 repeats: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.repeat = 100, 2
    from benchtrail.commands.compare_runs import CompareOptions, compare, read_baseline_history
    from benchtrail.compare.comparison import compare_records
    from benchtrail.results.record import load_record

    print(f"Machine: {platform.node()} {platform.machine()}, {platform.processor() or '?'}")
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"Python: {platform.python_version()}")
    print(f"History: {args.runs} records x {BENCHMARKS * METRICS} metrics x {PROCESS_RUNS} process-runs")
    with tempfile.TemporaryDirectory() as scratch:
        clone, current, base = build(Path(scratch), args.runs)
        options = CompareOptions(files=[current], baseline_ref="main", repo=clone, branch="benchtrail-results", baseline_commit=base,
                                 fetch=False)
        history = read_baseline_history(["speed"], repo=clone, branch="benchtrail-results", fetch=False)
        records = [load_record(current)]
        decide, whole, command = [], [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            comparison = compare_records(records, history, target_ref="main", merge_base=base)
            decide.append(time.perf_counter() - start)
            start = time.perf_counter()
            compare(options)
            whole.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "benchtrail", "compare", str(current), "--repo", str(clone),
                            "--baseline-ref", "main", "--baseline-commit", base, "--no-fetch", "--format", "json"],
                           capture_output=True, check=True)
            command.append(time.perf_counter() - start)
    assert len(comparison.rows) == BENCHMARKS * METRICS
    print(f"decide     {median_spread(decide)}")
    print(f"in-process {median_spread(whole)}")
    print(f"command    {median_spread(command)}")
    verdict = "PASS" if statistics.median(command) < GOAL_S else "FAIL"
    print(f"Goal: compare {BENCHMARKS * METRICS} metrics against {args.runs} runs in < {GOAL_S:g} s "
          f"(the whole command): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
