"""Import and record a whole history from another tool (issue 13): an asv results folder and
github-action-benchmark's tokio ``data.js``, timed, and every point counted on the branch.

    python tools/perf/bench_import.py [--files 4339] [--benchmarks 42] [--data-js PATH] [--quick]

Smoke run (seconds): ``python tools/perf/bench_import.py --quick``.

In a temporary folder, seeded:

  asv      an asv results folder (format version 2) shaped like django's: ``--files`` result
           files of one machine, two environments (Python 3.12 and 3.13, alternating by
           commit), ``--benchmarks`` benchmarks each (every fourth one parameterized over 3
           values), a ``benchmarks.json`` listing their versions, and 1 % of the results
           measured with an older benchmark version (left out, as asv hides them).
  tokio    ``--data-js`` (default ``../shared/data/tokio/data.js``, read in place).

Each is run as a user runs it: ``benchtrail import`` into a folder, then ``benchtrail record``
of every file into a fresh git repository (``--no-push``), each timed (wall and CPU, the
interpreter's start included). Then the results branch is read back and its points counted:
every benchmark x metric value of every record, against what the input holds.

Goals (issue 13): asv import + record of about 4,000 files under 60 s; tokio's data.js under
5 s; every point on the branch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_JS = ROOT.parent / "shared" / "data" / "tokio" / "data.js"
ASV_GOAL_S, TOKIO_GOAL_S = 60.0, 5.0
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_number", "stats_repeat"]
START_MS = 1_700_000_000_000


def benchtrail(*args: str, cwd: Path) -> tuple[float, float, str]:
    """Run ``benchtrail ARGS``: wall and CPU seconds (with children), and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchtrail", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"benchtrail {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def write_asv(folder: Path, files: int, benchmarks: int, seed: int) -> int:
    """The asv results folder; how many benchmark values its current versions hold."""
    rng = random.Random(seed)
    names = [f"bench_{k // 10}.Suite{k % 10}.time_case_{k}" for k in range(benchmarks)]
    infos = {name: {"name": name, "type": "time", "unit": "seconds", "version": f"v{k}",
                    "param_names": ["size"] if k % 4 == 0 else []} for k, name in enumerate(names)}
    infos["version"] = 2
    folder.mkdir(parents=True)
    (folder / "benchmarks.json").write_text(json.dumps(infos))
    machine = folder / "django-bench"
    machine.mkdir()
    (machine / "machine.json").write_text(json.dumps({"machine": "django-bench", "cpu": "Intel Xeon", "num_cpu": "8",
                                                      "os": "Linux", "arch": "x86_64", "version": 1}))
    points = 0
    for n in range(files):
        commit = f"{rng.getrandbits(160):040x}"
        python = "3.12" if n % 2 else "3.13"
        results = {}
        for k, name in enumerate(names):
            stale = rng.random() < 0.01
            sizes = (1, 10, 100) if k % 4 == 0 else (1,)
            values = [1e-3 * (1 + k % 7) * size * rng.lognormvariate(0, 0.05) for size in sizes]
            points += 0 if stale else len(values)
            results[name] = [values, [["1", "10", "100"]] if len(sizes) > 1 else [], "old" if stale else f"v{k}",
                             START_MS + n * 3_600_000, 1.5, [10] * len(sizes), [5] * len(sizes)]
        document = {"version": 2, "commit_hash": commit, "date": START_MS + n * 3_600_000, "env_name":
                    f"virtualenv-py{python}", "python": python, "requirements": {"numpy": "2.1"},
                    "result_columns": COLUMNS, "results": results, "durations": {}, "params": {}}
        (machine / f"{commit[:8]}-virtualenv-py{python}.json").write_text(json.dumps(document))
    return points


def data_js_points(path: Path) -> int:
    """The number of bench values in a github-action-benchmark ``data.js``."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text[text.index("{"):])
    return sum(len(entry["benches"]) for entries in data["entries"].values() for entry in entries)


def branch_points(repo: Path) -> tuple[int, int]:
    """(records, benchmark x metric values) on the repository's results branch."""
    sys.path.insert(0, str(ROOT / "src"))
    from benchtrail.results.history import read_records

    stored = read_records(repo, fetch=False)
    return len(stored), sum(len(b.metrics) for s in stored for b in s.record.benchmarks)


def import_and_record(fmt: str, source: Path, suite: str, where: Path) -> tuple[float, float, float, float, int]:
    """Import ``source`` and record every file into a fresh repository at ``where``: the
    import's and the record's wall and CPU seconds, and how many records were written."""
    where.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(where / "repo")], check=True)
    import_wall, import_cpu, out = benchtrail("import", fmt, str(source), "--suite", suite, "--out",
                                              str(where / "records"), "--ref", "main", cwd=where)
    files = [line for line in out.splitlines() if line.strip()]
    listing = where / "files.txt"
    listing.write_text("\n".join(files))
    record_wall, record_cpu, _ = benchtrail("record", *files, "--no-push", "--repo", str(where / "repo"), cwd=where)
    return import_wall, import_cpu, record_wall, record_cpu, len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4339, help="asv result files (default 4,339: django's)")
    parser.add_argument("--benchmarks", type=int, default=42, help="benchmarks per file (default 42)")
    parser.add_argument("--data-js", type=Path, default=DATA_JS, help="github-action-benchmark data.js")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="40 asv files; a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.files = 40
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    print(f"Command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="benchtrail-import-") as scratch:
        root = Path(scratch)
        expected = write_asv(root / "asv", args.files, args.benchmarks, args.seed)
        found = import_and_record("asv", root / "asv", "django", root / "asv-run")
        rows.append(("asv", args.files, expected, found, branch_points(root / "asv-run" / "repo"), ASV_GOAL_S))
        if args.data_js.is_file():
            found = import_and_record("gab-data-js", args.data_js, "tokio", root / "tokio-run")
            rows.append(("tokio data.js", None, data_js_points(args.data_js), found,
                         branch_points(root / "tokio-run" / "repo"), TOKIO_GOAL_S))
        else:
            print(f"tokio: {args.data_js} not found, left out")
    print(f"\n{'input':<14}{'files':>7}{'points in':>11}{'records':>9}{'on branch':>11}"
          f"{'import s (CPU)':>17}{'record s (CPU)':>17}{'total s':>9}")
    for name, files, expected, (iw, ic, rw, rc, written), (records, points), goal in rows:
        total = iw + rw
        print(f"{name:<14}{files or '-':>7}{expected:>11,}{written:>9,}{points:>11,}"
              f"{f'{iw:.1f} ({ic:.1f})':>17}{f'{rw:.1f} ({rc:.1f})':>17}{total:>9.1f}")
    print()
    for name, files, expected, (iw, _, rw, _, written), (records, points), goal in rows:
        total = iw + rw
        print(f"Goal: {name} import + record under {goal:.0f} s: {total:.1f} s -> {'PASS' if total < goal else 'MISS'}")
        print(f"Goal: {name} every point on the branch: {points:,} of {expected:,}, {records:,} records of "
              f"{written:,} files -> {'PASS' if points == expected and records == written else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
