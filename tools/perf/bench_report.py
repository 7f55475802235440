"""Measure `benchtrail report` on a large history (issue 12), beside asv and github-action-benchmark.

    python tools/perf/bench_report.py [--results 100000] [--series 500] [--repeat 3] [--seed 1]
                                      [--no-asv] [--keep DIR] [--quick]

Smoke run (well under 30 s): ``python tools/perf/bench_report.py --quick``.

In a temporary folder (seeded, so every run builds the same bytes): a git repository whose
``main`` has C commits (fixed dates, 3 h apart) and whose results branch holds one record per
suite and commit, as the record job of each pipeline would leave it. A record is the golden
record's shape with 5 benchmarks (``mlp[batch_size=1..16]``) x 4 metrics, 3 process-runs each
at CV 2 %, so a suite is 20 series; at two thirds of the history the latency of every other
benchmark steps up 25 % (change points to find). ``--results`` values (series x commits) in
``--series`` series: 100,000 in 500 series is 25 suites x 200 commits, 5,000 records.

Timed, as the median (and spread) of ``--repeat`` runs each, wall and CPU (user + system of
the process and its chart workers, from ``getrusage``), with `benchtrail report --no-fetch`
run as a user runs it (interpreter start included):

  cold   no site and no chart cache: everything drawn and written
  warm   the same history again, site and cache kept (a pipeline that recorded nothing new)
  +1     one more record (a new commit of one suite: 20 new results), then the report

Beside it, on the same history:
  asv publish      ``asv publish`` (if asv is installed: ``pip install asv``; else that column
                   is skipped) on the same values written in asv's own results format:
                   ``results/<machine>/<commit>-<env>.json`` (api_version 2, one file per
                   commit with its 500 benchmarks), ``machine.json``, ``benchmarks.json`` and
                   ``asv.conf.json`` pointing at the same repository (asv orders by its
                   commits). asv rebuilds everything on each run: its warm and +1 are full
                   builds too.
  data.js          the size of github-action-benchmark's ``data.js`` for the same history
                   (``window.BENCHMARK_DATA = {...}``, an entry per suite and commit with a
                   bench per benchmark x metric, written as the action writes it: JSON with
                   2-space indents), the one file it rewrites and commits on every run.

Goals (issue 12): cold under 30 s (60 s at most) and +1 under 3 s (5 s at most) on this
2-core machine; the site under 100 MB and 20,000 files (GitLab Pages' limits). A goal line
judges the median wall time; on a loaded machine (load average above the core count, printed)
wall time is inflated, so CPU seconds are printed beside it as the load-independent figure.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "records" / "result-1.json"
BENCHMARKS = 5  # per record: mlp[batch_size=1], [2], [4], [8], [16]
METRICS = ("cpu_ms_per_item", "latency_ms", "peak_rss_mb", "throughput")
SERIES_PER_SUITE = BENCHMARKS * len(METRICS)
PROJECT_URL = "https://gitlab.example.com/ml/serving"
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
COLD_GOAL_S, COLD_MAX_S = 30.0, 60.0
PLUS_GOAL_S, PLUS_MAX_S = 3.0, 5.0
SIZE_GOAL_MB, FILES_GOAL = 100.0, 20_000


def git(*args: str, cwd: Path, input_bytes: bytes | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    done = subprocess.run(["git", *args], cwd=cwd, input=input_bytes, capture_output=True, check=True, env=env)
    return done.stdout.decode()


def stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class History:
    """The generated history, kept in memory for the peers' formats."""

    repo: Path
    suites: int
    commits: list[tuple[str, str, str]]  # (sha, time, title) on main, oldest first
    #: values[suite][commit index] -> {(benchmark, metric): (unit, direction, runs)}
    values: list[list[dict[tuple[int, str], tuple[str, str, list[float]]]]]
    levels: dict[tuple[int, int, str], float]
    rng: random.Random
    #: the commit index where the latency of every other benchmark steps up 25 %
    step_at: int


def add_commits(repo: Path, count: int, first: int) -> list[tuple[str, str, str]]:
    """``count`` commits on main (numbered from ``first``), made with git fast-import."""
    stream = []
    for n in range(first, first + count):
        when = START + dt.timedelta(hours=3 * n)
        title = f"Commit {n + 1}: tune the serving path"
        body = f"{n}\n".encode()
        stream.append(f"commit refs/heads/main\nmark :{n + 1}\n"
                      f"committer bench <bench@localhost> {int(when.timestamp())} +0000\n"
                      f"data {len(title)}\n{title}\n".encode())
        if n == first and first > 0:
            stream.append(b"from refs/heads/main^0\n")
        stream.append(f"M 100644 inline counter.txt\ndata {len(body)}\n".encode() + body + b"\n")
    marks = repo / ".git" / "bench-marks"
    git("fast-import", "--quiet", f"--export-marks={marks}", cwd=repo, input_bytes=b"".join(stream))
    shas = dict(line.split() for line in marks.read_text().splitlines())
    return [(shas[f":{n + 1}"], stamp(START + dt.timedelta(hours=3 * n)), f"Commit {n + 1}: tune the serving path")
            for n in range(first, first + count)]


def make_record(template: dict, history: History, suite: int, index: int) -> dict:
    """The record of ``suite`` at commit ``index``; its values go into ``history.values``."""
    sha, when, title = history.commits[index]
    record = copy.deepcopy(template)
    record["suite"] = f"suite-{suite:02d}"
    record["run"]["started_at"] = when
    record["source"].update(commit=sha, commit_time=when, commit_title=title, ref="main",
                            job_id=str(1_000_000 + suite * 100_000 + index), pipeline_id=str(50_000 + index),
                            pipeline_url=f"{PROJECT_URL}/-/pipelines/{50_000 + index}", project_url=PROJECT_URL)
    shape = template["benchmarks"][0]
    entries, seen = [], {}
    for b in range(BENCHMARKS):
        entry = copy.deepcopy(shape)
        entry["params"] = {"batch_size": 2 ** b}
        for name in METRICS:
            metric = entry["metrics"][name]
            level = history.levels.setdefault((suite, b, name), history.rng.uniform(0.05, 50.0))
            if name == "latency_ms" and b % 2 == 0 and index >= history.step_at:
                level *= 1.25
            runs = [level * (1 + history.rng.gauss(0, 0.02)) for _ in range(3)]
            metric["runs"] = runs
            middle = statistics.median(runs)
            if "p50" in metric:  # a distribution: scaled to the new level
                factor = middle / shape["metrics"][name]["p50"]
                for key in ("min", "max", "mean", "p50", "p90", "p95", "p99", "stdev"):
                    metric[key] = shape["metrics"][name][key] * factor
                metric["sketch"]["values"] = [v * factor for v in shape["metrics"][name]["sketch"]["values"]]
            else:
                metric["value"] = middle
            seen[(b, name)] = (metric["unit"], metric["direction"], runs)
        entries.append(entry)
    record["benchmarks"] = entries
    while len(history.values[suite]) <= index:
        history.values[suite].append({})
    history.values[suite][index] = seen
    return record


def build(where: Path, suites: int, commits: int, seed: int) -> History:
    """The repository: ``commits`` commits on main and the results branch of ``suites`` suites."""
    from benchtrail.results.model import Record
    from benchtrail.results.record import record_bytes

    repo = where / "project"
    git("init", "-q", "-b", "main", str(repo), cwd=where)
    history = History(repo, suites, add_commits(repo, commits, 0), [[] for _ in range(suites)], {},
                      random.Random(seed), commits * 2 // 3)
    template = json.loads(GOLDEN.read_text(encoding="utf-8"))
    stream = [b"commit refs/heads/benchtrail-results\n", b"committer bench <bench@localhost> 1767225600 +0000\n",
              b"data 8\nhistory\n"]
    for suite in range(suites):
        for index in range(commits):
            typed = Record.from_json(make_record(template, history, suite, index))
            data = record_bytes(typed)
            stream.append(f"M 100644 inline {typed.branch_path()}\ndata {len(data)}\n".encode() + data + b"\n")
    git("fast-import", "--quiet", cwd=repo, input_bytes=b"".join(stream))
    return history


def add_one_record(history: History, where: Path) -> None:
    """One more pipeline of suite-00: a new commit on main and its record, with ``benchtrail.record``."""
    from benchtrail.results.gitrepo import identity_env
    from benchtrail.results.model import Record
    from benchtrail.results.record import dump_record
    from benchtrail.results.store import record

    history.commits += add_commits(history.repo, 1, len(history.commits))
    template = json.loads(GOLDEN.read_text(encoding="utf-8"))
    new = make_record(template, history, 0, len(history.commits) - 1)
    path = dump_record(Record.from_json(new), where / f"new-{len(history.commits)}.json")
    record([path], repo=history.repo, push=False, identity=identity_env("bench", "bench@localhost"))


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Timing:
    wall_s: float
    cpu_s: float


def timed(command: list[str], cwd: Path, label: str) -> Timing:
    """Run ``command``; its wall time and the CPU time of it and its children (and a line on
    stderr: a full run takes minutes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    found = Timing(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    print(f"{label}: {found.wall_s:.2f} s wall, {found.cpu_s:.2f} s CPU", file=sys.stderr, flush=True)
    return found


def report_command(history: History, site: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "benchtrail", "-q", "report", "--repo", str(history.repo), "--no-fetch",
            "--out", str(site), "--chart-cache", str(cache), "--title", "Bench", "--project-url", PROJECT_URL]


def median_of(runs: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall_s for t in runs), statistics.median(t.cpu_s for t in runs))


def cells(runs: list[Timing]) -> tuple[str, str]:
    """(median wall with its range, median CPU) of ``runs``, as table cells."""
    if not runs:
        return "-", "-"
    med = median_of(runs)
    walls = [t.wall_s for t in runs]
    spread = f" ({min(walls):.2f}-{max(walls):.2f})" if len(runs) > 1 else ""
    warn = " !" if len(runs) > 1 and max(walls) > 1.5 * min(walls) else ""
    return f"{med.wall_s:.2f}{spread}{warn}", f"{med.cpu_s:.2f}"


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


# --- the peers' formats -----------------------------------------------------------------------


def asv_benchmark(suite: int, bench: int, metric: str) -> str:
    return f"suite_{suite:02d}.mlp_batch_size_{2 ** bench}.track_{metric}"


def asv_write(history: History, folder: Path, first: int = 0) -> Path:
    """asv's results (commits ``first`` on), machine.json, benchmarks.json and asv.conf.json."""
    machine = {"arch": "x86_64", "cpu": "AMD EPYC 7B13", "machine": "runner", "num_cpu": "4", "os": "Linux",
               "ram": "16000000", "version": 1}
    results = folder / "results"
    (results / "runner").mkdir(parents=True, exist_ok=True)
    (results / "runner" / "machine.json").write_text(json.dumps(machine, indent=4, sort_keys=True))
    env = "existing-py_3.11"
    params = {key: machine[key] for key in ("arch", "cpu", "machine", "num_cpu", "os", "ram")}
    params["python"] = "3.11"
    columns = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
               "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples"]
    benchmarks = {}
    for index in range(first, len(history.commits)):
        sha, when, _ = history.commits[index]
        millis = int(dt.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)
        rows = {}
        for suite in range(history.suites):
            if index >= len(history.values[suite]) or not history.values[suite][index]:
                continue
            for (bench, metric), (unit, _, runs) in history.values[suite][index].items():
                name = asv_benchmark(suite, bench, metric)
                ordered = sorted(runs)
                rows[name] = [[statistics.median(runs)], [], "1", millis, 1.0, [ordered[0]], [ordered[-1]],
                              [statistics.quantiles(runs, n=4)[0]], [statistics.quantiles(runs, n=4)[2]], [1],
                              [len(runs)], [runs]]
                benchmarks[name] = {"code": "", "name": name, "param_names": [], "params": [], "timeout": 60.0,
                                    "type": "track", "unit": unit, "version": "1"}
        data = {"commit_hash": sha, "env_name": env, "date": millis, "params": params, "python": "3.11",
                "requirements": {}, "env_vars": {}, "result_columns": columns, "results": rows, "durations": {},
                "version": 2}
        (results / "runner" / f"{sha[:8]}-{env}.json").write_text(json.dumps(data, separators=(",", ":")))
    listed = results / "benchmarks.json"
    if listed.exists():
        benchmarks = {**json.loads(listed.read_text()), **benchmarks}
    benchmarks["version"] = 2
    listed.write_text(json.dumps(benchmarks, indent=4, sort_keys=True))
    conf = folder / "asv.conf.json"
    conf.write_text(json.dumps({"version": 1, "project": "serving", "project_url": PROJECT_URL,
                                "repo": str(history.repo), "dvcs": "git", "branches": ["main"],
                                "environment_type": "existing", "results_dir": str(results),
                                "html_dir": str(folder / "html")}, indent=4))
    return conf


def data_js(history: History) -> bytes:
    """github-action-benchmark's data.js for the history (``JSON.stringify(data, null, 2)``)."""
    entries = {}
    for suite in range(history.suites):
        rows = []
        for index, seen in enumerate(history.values[suite]):
            sha, when, title = history.commits[index]
            person = {"email": "dev@example.com", "name": "Dev", "username": "dev"}
            millis = int(dt.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)
            rows.append({"commit": {"author": person, "committer": person, "distinct": True, "id": sha,
                                    "message": title, "timestamp": when, "tree_id": sha[::-1],
                                    "url": f"{PROJECT_URL}/-/commit/{sha}"},
                         "date": millis, "tool": "customSmallerIsBetter",
                         "benches": [{"name": f"mlp[batch_size={2 ** b}] {metric}", "value": statistics.median(runs),
                                      "range": f"± {max(runs) - min(runs):.4g}", "unit": unit}
                                     for (b, metric), (unit, _, runs) in seen.items()]})
        entries[f"suite-{suite:02d}"] = rows
    text = json.dumps({"lastUpdate": 1767225600000, "repoUrl": PROJECT_URL, "entries": entries}, indent=2,
                      ensure_ascii=False)
    return ("window.BENCHMARK_DATA = " + text).encode("utf-8")


# --- main -------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "?"
    return f"{one:.1f} (5 min: {five:.1f})"


def goal(label: str, value: float, target: float, limit: float, unit: str = "s") -> str:
    verdict = "PASS" if value < target else ("PASS (within the limit)" if value <= limit else "MISS")
    return f"Goal: {label} < {target:g} {unit} ({limit:g} {unit} at most): {value:.2f} {unit} -> {verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=100_000, help="series x commits (default 100,000)")
    parser.add_argument("--series", type=int, default=500, help="a multiple of 20 (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-asv", action="store_true", help="leave asv publish out")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument("--quick", action="store_true", help="500 results in 20 series, 1 run each: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.results, args.series, args.repeat = 500, 20, 1
    if args.series % SERIES_PER_SUITE or args.series <= 0:
        parser.error(f"--series: a multiple of {SERIES_PER_SUITE} (a suite is {BENCHMARKS} benchmarks x "
                     f"{len(METRICS)} metrics)")
    suites, commits = args.series // SERIES_PER_SUITE, max(2, args.results // args.series)
    has_asv = importlib.util.find_spec("asv") is not None and not args.no_asv

    import benchtrail

    print(f"Machine: {platform.node()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"load average {load_average()}")
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"Python: {platform.python_version()}, benchtrail {benchtrail.__version__}"
          + (f", asv {_asv_version()}" if has_asv else ""))
    print(f"History: {commits * args.series:,} results in {args.series} series: {suites} suites x "
          f"{SERIES_PER_SUITE} series x {commits} commits = {suites * commits:,} records, 1 environment")
    if not has_asv:
        print("asv: " + ("left out (--no-asv)" if args.no_asv else "not installed (pip install asv): "
                         "its column is skipped"))
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="benchtrail-report-perf-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        history = build(scratch, suites, commits, args.seed)
        print(f"Built the repository in {time.perf_counter() - started:.1f} s")
        site, cache = scratch / "public", scratch / ".benchtrail-report-cache"
        command = report_command(history, site, cache)
        print(f"Report command: benchtrail {' '.join(command[4:])}".replace(str(scratch), "$TMP"))
        ours: dict[str, list[Timing]] = {"cold": [], "warm": [], "plus": []}
        for _ in range(args.repeat):
            shutil.rmtree(site, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
            ours["cold"].append(timed(command, scratch, "benchtrail report, cold"))
        size_bytes, files = folder_size(site)
        for _ in range(args.repeat):
            ours["warm"].append(timed(command, scratch, "benchtrail report, warm"))

        theirs: dict[str, list[Timing]] = {"cold": [], "warm": [], "plus": []}
        asv_size: tuple[int, int] | None = None
        asv_folder = scratch / "asv"
        if has_asv:
            conf = asv_write(history, asv_folder)
            asv_command = [sys.executable, "-m", "asv", "publish", "--config", str(conf), "--no-pull"]
            theirs["cold"].append(timed(asv_command, scratch, "asv publish"))
            asv_size = folder_size(asv_folder / "html")
            for _ in range(args.repeat - 1):
                theirs["cold"].append(timed(asv_command, scratch, "asv publish"))
            theirs["warm"] = theirs["cold"]  # no incremental mode: the same full build
        gab_bytes = len(data_js(history))

        for _ in range(args.repeat):
            add_one_record(history, scratch)
            ours["plus"].append(timed(command, scratch, "benchtrail report, +1 record"))
            if has_asv:
                asv_write(history, asv_folder, first=len(history.commits) - 1)
                theirs["plus"].append(timed(asv_command, scratch, "asv publish, +1 record"))
        after_bytes, after_files = folder_size(site)
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)

    print()
    row = "{:<24}{:>22} {:>8}   {:>22} {:>8}"
    print(row.format("", "benchtrail report", "", "asv publish" if has_asv else "", ""))
    print(row.format("seconds, median of runs", "wall (min-max)", "CPU", *(("wall (min-max)", "CPU") if has_asv
                                                                       else ("", ""))))
    for key, label in (("cold", "cold"), ("warm", "warm (nothing new)"), ("plus", "+1 record (20 results)")):
        theirs_cells = cells(theirs[key]) if has_asv else ("", "")
        if has_asv and key == "warm":
            theirs_cells = ("= cold (full rebuild)", "")
        print(row.format(label, *cells(ours[key]), *theirs_cells))
    asv_text = f"{asv_size[0] / 1e6:.1f} MB, {asv_size[1]:,} files" if asv_size else ""
    print(row.format("site", f"{size_bytes / 1e6:.1f} MB, {files:,} files", "", asv_text, ""))
    print(row.format("site after the +1 runs", f"{after_bytes / 1e6:.1f} MB, {after_files:,} files", "", "", ""))
    print(f"github-action-benchmark's data.js for the same history: {gab_bytes / 1e6:.1f} MB, one file that its "
          f"action rewrites and commits on every run and its page draws whole in the browser")
    print("(! = the slowest run took over 1.5x the fastest; CPU = user + system of the command and its workers)")
    print(f"Load average at the end: {load_average()} on {os.cpu_count()} cores"
          + (": wall times are inflated, CPU seconds are the load-independent figure"
             if os.getloadavg()[0] > (os.cpu_count() or 1) else ""))
    if args.quick:
        print("(--quick: a smoke run of the script; the goals are for 100,000 results in 500 series)")
    print()
    cold, plus = median_of(ours["cold"]), median_of(ours["plus"])
    print(goal(f"cold build of {commits * args.series:,} results, wall", cold.wall_s, COLD_GOAL_S, COLD_MAX_S)
          + f" (CPU {cold.cpu_s:.1f} s)")
    print(goal("after one more record, wall", plus.wall_s, PLUS_GOAL_S, PLUS_MAX_S) + f" (CPU {plus.cpu_s:.1f} s)")
    fits = size_bytes / 1e6 < SIZE_GOAL_MB and files < FILES_GOAL
    print(f"Goal: site < {SIZE_GOAL_MB:g} MB and < {FILES_GOAL:,} files: {size_bytes / 1e6:.1f} MB, {files:,} files "
          f"-> {'PASS' if fits else 'MISS'}")
    return 0


def _asv_version() -> str:
    from importlib.metadata import version

    return version("asv")


if __name__ == "__main__":
    sys.exit(main())
