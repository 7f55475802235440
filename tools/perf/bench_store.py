"""Measure the results branch: record and read with 100,000 results, transfers, growth.

Figures (issue 4), all against local bare repositories as remotes:
  record     recording one result into a branch holding N results (goal < 1 s)
  read       reading all N records through the API (goal < 5 s)
  fresh      from a fresh CI-like clone over a remote that serves filters: recording one
             result (goal < 5 MB transferred), reading one suite's last month (~1,000 runs),
             and the same read again with the cache after 10 new records
  growth     packed repository growth per recorded result, ours vs one history file
             rewritten on every run (github-action-benchmark's data.js way), for 1,000 runs

Usage: python tools/perf/bench_store.py [--results 100000] [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "records" / "result-1.json"
SUITES = 5


def git(*args: str, cwd: Path, input_bytes: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, input=input_bytes, capture_output=True, check=True)
    return done.stdout.decode()


def make_record(template: dict, index: int, suite: str, month: int, day_second: int) -> dict:
    record = copy.deepcopy(template)
    record["suite"] = suite
    year = 2025 + (month - 1) // 12
    mm = (month - 1) % 12 + 1
    day = 1 + day_second // 86400 % 28
    hh, rest = divmod(day_second % 86400, 3600)
    mi, ss = divmod(rest, 60)
    record["run"]["started_at"] = f"{year:04d}-{mm:02d}-{day:02d}T{hh:02d}:{mi:02d}:{ss:02d}Z"
    record["source"]["commit"] = f"{index:040x}"
    record["source"]["job_id"] = str(1_000_000 + index)
    for entry in record["benchmarks"]:
        entry["metrics"]["latency_ms"]["p50"] *= 1 + (index % 97) / 1000
    return record


def record_file(record: dict) -> bytes:
    return (json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def build_remote(path: Path, count: int) -> dict:
    """A bare repository whose results branch holds ``count`` records (one commit, built
    with git fast-import), with filters served. Returns the template record."""
    from benchtrail.results.model import Record

    template = json.loads(GOLDEN.read_text())
    git("init", "-q", "--bare", str(path), cwd=path.parent)
    git("config", "uploadpack.allowFilter", "true", cwd=path)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=path)
    per_suite = count // SUITES
    months = 20
    stream = [b"commit refs/heads/benchtrail-results\n",
              b"committer bench <bench@localhost> 1700000000 +0000\n",
              b"data 14\ninitial import\n"]
    for index in range(count):
        suite = f"s{index % SUITES}"
        k = index // SUITES
        month = 1 + k * months // per_suite
        rec = make_record(template, index, suite, month, (k * 1000) % (28 * 86400))
        data = record_file(rec)
        where = Record.from_json(rec).branch_path()
        stream.append(f"M 100644 inline {where}\ndata {len(data)}\n".encode() + data + b"\n")
    git("fast-import", "--quiet", cwd=path, input_bytes=b"".join(stream))
    git("gc", "-q", cwd=path)
    return template


def pack_bytes(repo: Path) -> int:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    return sum(p.stat().st_size for p in (git_dir / "objects").rglob("*") if p.is_file())


def fresh_clone(remote: Path, where: Path) -> Path:
    """A GitLab-CI-like checkout: the default branch only, shallow, detached HEAD."""
    seed = where / "seed"
    if not seed.exists():
        git("init", "-q", str(seed), cwd=where)
        git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "--allow-empty", "-m", "main", cwd=seed)
        git("push", "-q", str(remote), "HEAD:refs/heads/main", cwd=seed)
    clone = where / f"clone-{time.monotonic_ns()}"
    git("clone", "-q", "--depth", "1", "--branch", "main", f"file://{remote}", str(clone), cwd=where)
    git("checkout", "-q", "--detach", cwd=clone)
    return clone


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"median {med:.3f} (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 results, 2 repeats: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.results, args.repeat = 1000, 2
    from benchtrail.results.history import read_records
    from benchtrail.results.model import Record
    from benchtrail.results.record import dump_record
    from benchtrail.results.store import record

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    with tempfile.TemporaryDirectory(prefix="benchtrail-perf-") as scratch:
        work = Path(scratch)
        remote = work / "remote.git"
        seconds, template = timed(lambda: build_remote(remote, args.results))
        print(f"built a remote with {args.results:,} results in {seconds:.1f} s "
              f"({pack_bytes(remote) / 1e6:.1f} MB packed)")

        counter = [args.results]

        def new_record_file(month: int = 20) -> Path:
            counter[0] += 1
            rec = make_record(template, counter[0], "s0", month, counter[0] % 86400)
            path = work / "new" / f"{counter[0]}.json"
            dump_record(Record.from_json(rec), path)
            return path

        # record: a working repository that already fetched the branch once
        clone = fresh_clone(remote, work)
        record([new_record_file()], repo=clone)
        times = [timed(lambda: record([new_record_file()], repo=clone))[0] for _ in range(args.repeat)]
        print(f"record one result, warm clone:          {median_spread(times)} s   goal < 1 s")

        # fresh CI-like clones: record one result, transfer measured as bytes received
        times, sizes = [], []
        for _ in range(args.repeat):
            fresh = fresh_clone(remote, work)
            before = pack_bytes(fresh)
            seconds, _ = timed(lambda: record([new_record_file()], repo=fresh))
            times.append(seconds)
            sizes.append((pack_bytes(fresh) - before) / 1e6)
            shutil.rmtree(fresh)
        print(f"record one result, fresh CI clone:      {median_spread(times)} s, "
              f"received {median_spread(sizes)} MB   goal < 5 MB")

        # read everything through the API (the warm clone has fetched all blobs once)
        read_records(clone)
        times = [timed(lambda: read_records(clone, fetch=False))[0] for _ in range(args.repeat)]
        count = len(read_records(clone, fetch=False))
        print(f"read all {count:,} records:               {median_spread(times)} s   goal < 5 s")

        # one suite's last month (~1,000 runs) from a fresh clone, then with a cache
        times, sizes, counts, cached_times, cached_sizes = [], [], [], [], []
        for _ in range(args.repeat):
            fresh = fresh_clone(remote, work)
            before = pack_bytes(fresh)
            seconds, got = timed(lambda: read_records(fresh, suite="s0", months=["2026/08"]))
            times.append(seconds)
            counts.append(len(got))
            sizes.append((pack_bytes(fresh) - before) / 1e6)
            cache = work / f"cache-{time.monotonic_ns()}"
            read_records(fresh, suite="s0", months=["2026/08"], cache=cache)
            record([new_record_file() for _ in range(10)], repo=clone)
            before = pack_bytes(cache)
            seconds, got = timed(lambda: read_records(fresh, suite="s0", months=["2026/08"], cache=cache))
            cached_times.append(seconds)
            cached_sizes.append((pack_bytes(cache) - before) / 1e6)
            shutil.rmtree(fresh)
            shutil.rmtree(cache)
        print(f"read one suite's last month ({statistics.median(counts):.0f} runs), fresh clone: "
              f"{median_spread(times)} s, received {median_spread(sizes)} MB")
        print(f"the same read again with --cache after 10 new records: {median_spread(cached_times)} s, "
              f"received {median_spread(cached_sizes)} MB")

        growth(work, template, 200 if args.quick else 1000)
    return 0


def growth(work: Path, template: dict, runs: int) -> None:
    """Packed bytes per result: one file per result (ours) vs one history file rewritten."""
    from benchtrail.results.model import Record
    from benchtrail.results.record import dump_record
    from benchtrail.results.store import record

    ours = work / "growth-ours"
    git("init", "-q", str(ours), cwd=work)
    for index in range(runs):
        rec = make_record(template, index, "g", 1 + index * 12 // runs, index * 37)
        path = work / "growth-files" / f"{index}.json"
        dump_record(Record.from_json(rec), path)
        record([path], repo=ours, push=False)
    git("repack", "-adq", cwd=ours)
    git("prune-packed", cwd=ours)

    single = work / "growth-single"
    git("init", "-q", str(single), cwd=work)
    entries = []
    for index in range(runs):
        rec = make_record(template, index, "g", 1, index * 37)
        entries.append({"commit": {"id": rec["source"]["commit"], "timestamp": rec["run"]["started_at"]},
                        "benches": [{"name": b["name"], "value": b["metrics"]["latency_ms"]["p50"], "unit": "ms"}
                                    for b in rec["benchmarks"]]})
        (single / "data.js").write_text("window.BENCHMARK_DATA = " + json.dumps({"entries": {"g": entries}}, indent=2))
        git("add", "data.js", cwd=single)
        git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", f"run {index}", cwd=single)
    git("repack", "-adq", cwd=single)
    git("prune-packed", cwd=single)
    ours_bytes, single_bytes = pack_bytes(ours), pack_bytes(single)
    print(f"growth over {runs} runs, packed: one file per result {ours_bytes / runs:,.0f} B/result "
          f"({ours_bytes / 1e6:.2f} MB); one rewritten history file {single_bytes / runs:,.0f} B/result "
          f"({single_bytes / 1e6:.2f} MB) — the latter keeps far less per run (only a headline value "
          f"per benchmark, no distribution, environment or source)")


if __name__ == "__main__":
    sys.exit(main())
