"""Noisy neighbour, end to end: merge requests compared with confirmation while a CPU hog loads
every core for the whole job.

    python tools/perf/bench_noisy_neighbour.py [--trials 40] [--history 8] [--seed 11]
                                               [--arms paired,same_job] [--keep]

Smoke run (a minute or two): ``python tools/perf/bench_noisy_neighbour.py --trials 1 --history 3``.

Fully local, real processes, no network. In a temporary folder: a bare "remote" repository and a
clone of it holding ``bench/suite.toml`` and ``bench/workload.py``, two CPU-bound benchmarks
(``alpha`` and ``beta``, pure Python loops of about 1-2 ms a call; their amount of work is a
constant in ``workload.py``). ``--history`` commits on ``main`` (README edits) are each measured on
the quiet machine with ``benchtrail run`` and recorded with ``benchtrail record`` on the results
branch of the remote, as the record job of a GitLab pipeline would (CI variables in the
environment). Then, per trial, two merge requests from the tip of ``main`` (the merge base): one
commit that changes nothing measured (a README edit) and one that makes ``alpha`` 20 % slower (its
work constant +20 %). Each is one job per arm: a CPU hog starts (one busy loop per core,
``os.cpu_count()``), ``benchtrail run`` (1 run), ``benchtrail compare --confirm-suite
bench/suite.toml --confirm-times 5 --fail-on-regression --json``, and the hog stops.

Arms, everything else equal:

- ``paired``: ``--baseline-commit`` is the merge base: suspects are confirmed in pairs with its
  code, run in turn in this job.
- ``same_job``: ``--baseline-commit`` is a made-up sha that is not in the repository and cannot be
  fetched, so benchtrail falls back to today's confirmation (5 more runs of the head alone, decided
  against the history); the baseline is then the latest runs of ``main``, the merge base's here.

A failure is exit code 1; "naming it" is a ``regression`` row for ``alpha`` and none for ``beta``.
Issue 11 asks, for the paired arm: no-change merge requests at most 1 false failure in 40;
+20 % in one benchmark at least 38 of 40 fail, naming it. Prints machine, command, a table per
arm x case (failures, named, confirmation methods seen, the hog's slowdown of the first run,
seconds per job) and a Goal line per goal. It reports; it exits 0 unless the script itself fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SUITE = """\
[suite]
name = "noisy"
description = "Two CPU-bound loops, for tools/perf/bench_noisy_neighbour.py"
warmup = 10
iterations = 150
runs = 1

[[benchmark]]
name = "alpha"
target = "workload:alpha"

[[benchmark]]
name = "beta"
target = "workload:beta"
"""

WORKLOAD = """\
\"\"\"Two CPU-bound benchmarks: pure Python loops; their work is the constants below.\"\"\"

WORK_ALPHA = {alpha}
WORK_BETA = {beta}


def _spin(count):
    total = 0
    for i in range(count):
        total += i * i % 7
    return total


def alpha():
    return _spin(WORK_ALPHA)


def beta():
    return _spin(WORK_BETA)
"""

WORK = 20_000  # loop iterations per call: about 1 ms on a 2020s x86 core
SLOWDOWN = 1.20
CONFIRM_TIMES = 5
CASES = ("no_change", "slowdown")
ARMS = ("paired", "same_job")
FAKE_SHA = "0123456789abcdef0123456789abcdef01234567"  # made up: not in the repository, cannot be fetched
MAIN_BRANCH = "main"
RESULTS_BRANCH = "benchtrail-results"


@dataclass
class Tally:
    """What the jobs of one arm x case gave."""

    jobs: int = 0
    failed: int = 0
    named: int = 0
    other_exit: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # first run's beta p50 / quiet history's


class Project:
    """The temporary remote, clone and environment, and the commands run in them."""

    def __init__(self, root: Path, cores: int) -> None:
        self.root = root
        self.remote = root / "remote.git"
        self.work = root / "work"
        self.cores = cores
        gitconfig = root / "gitconfig"
        gitconfig.write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CI_", "GITLAB_", "BENCHTRAIL_", "GIT_"))}
        env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0",
                   GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
                   GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com",
                   PYTHONDONTWRITEBYTECODE="1")
        self.env = env
        self.clock = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=2)
        self.ids = 1000

    def next_id(self) -> str:
        self.ids += 1
        return str(self.ids)

    def git(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=cwd or self.work, env=env or self.env, capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def benchtrail(self, *args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "benchtrail", *args], cwd=self.work, env=env,
                              capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"benchtrail {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    def commit(self, message: str, files: dict[str, str]) -> str:
        """Write ``files`` and commit them, a minute after the previous commit; the new sha."""
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.git("add", *files)
        self.clock += dt.timedelta(minutes=1)
        stamp = self.clock.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        self.git("commit", "-q", "-m", message, env={**self.env, "GIT_AUTHOR_DATE": stamp,
                                                      "GIT_COMMITTER_DATE": stamp})
        return self.git("rev-parse", "HEAD")

    def ci_env(self, sha: str, ref: str, mr_iid: str | None = None) -> dict[str, str]:
        """The job's environment: GitLab's predefined variables for ``sha`` on ``ref``."""
        pipeline = self.next_id()
        env = {**self.env, "CI": "true", "GITLAB_CI": "true", "CI_COMMIT_SHA": sha, "CI_COMMIT_REF_NAME": ref,
               "CI_COMMIT_TIMESTAMP": self.git("log", "-1", "--format=%cI", sha),
               "CI_COMMIT_TITLE": self.git("log", "-1", "--format=%s", sha),
               "CI_PIPELINE_ID": pipeline, "CI_JOB_ID": self.next_id(), "CI_DEFAULT_BRANCH": MAIN_BRANCH}
        if mr_iid is not None:
            env.update(CI_MERGE_REQUEST_IID=mr_iid, CI_MERGE_REQUEST_TARGET_BRANCH_NAME=MAIN_BRANCH,
                       CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=ref, CI_PIPELINE_SOURCE="merge_request_event")
        return env

    def run_suite(self, out: Path, env: dict[str, str]) -> Path:
        self.benchtrail("run", "bench/suite.toml", "--out", str(out), env=env)
        (record,) = out.glob("*.json")
        return record


def workload(alpha: int = WORK, beta: int = WORK) -> str:
    return WORKLOAD.format(alpha=alpha, beta=beta)


def p50(record: Path, benchmark: str) -> float:
    data = json.loads(record.read_text())
    entry = next(b for b in data["benchmarks"] if b["name"] == benchmark)
    return float(entry["metrics"]["latency_ms"]["p50"])


#: a busy loop that ends itself when this script is gone (even killed with SIGKILL)
HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    for _ in range(10**6): pass\n"


def start_hog(cores: int) -> list[subprocess.Popen[bytes]]:
    """One busy loop per core, started before the job."""
    return [subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.DEVNULL) for _ in range(cores)]


def stop_hog(hog: list[subprocess.Popen[bytes]]) -> None:
    for process in hog:
        process.kill()
    for process in hog:
        process.wait()


def setup(project: Project, history: int) -> list[float]:
    """The remote, the clone and the quiet history; the history's beta p50s."""
    project.git("init", "-q", "--bare", "-b", MAIN_BRANCH, str(project.remote), cwd=project.root)
    project.git("clone", "-q", str(project.remote), str(project.work), cwd=project.root)
    project.commit("benchmarks", {"bench/suite.toml": SUITE, "bench/workload.py": workload(),
                                  "README.md": "project\n", ".gitignore": "__pycache__/\n"})
    project.git("push", "-q", "origin", MAIN_BRANCH)
    quiet = []
    for n in range(1, history + 1):
        started = time.perf_counter()
        sha = project.commit(f"docs {n}", {"README.md": f"project\n\nrevision {n}\n"})
        project.git("push", "-q", "origin", MAIN_BRANCH)
        env = project.ci_env(sha, MAIN_BRANCH)
        record = project.run_suite(project.root / "history" / str(n), env)
        project.benchtrail("record", str(record), "--branch", RESULTS_BRANCH, env=env)
        quiet.append(p50(record, "beta"))
        print(f"history {n}/{history}: {sha[:12]} alpha {p50(record, 'alpha'):.3f} ms, "
              f"beta {quiet[-1]:.3f} ms, {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return quiet


def job(project: Project, arm: str, merge_base: str, sha: str, branch: str, mr_iid: str, folder: Path,
        quiet_beta: float, tally: Tally, label: str) -> None:
    """One merge request job under the hog: run, compare with confirmation; counted in ``tally``."""
    env = project.ci_env(sha, branch, mr_iid)
    document = folder / "comparison.json"
    started = time.perf_counter()
    hog = start_hog(project.cores)
    try:
        try:
            record = project.run_suite(folder / "out", env)
        except RuntimeError as exc:  # counted, not fatal: one job of a long measurement
            tally.jobs += 1
            tally.other_exit += 1
            print(f"{label}: {exc}", file=sys.stderr)
            return
        done = project.benchtrail(
            "compare", str(record), "--baseline-ref", MAIN_BRANCH,
            "--baseline-commit", merge_base if arm == "paired" else FAKE_SHA,
            "--confirm-suite", "bench/suite.toml", "--confirm-times", str(CONFIRM_TIMES),
            "--confirm-out", str(folder / "confirm"), "--fail-on-regression", "--json", str(document),
            env=env, check=False)
    finally:
        stop_hog(hog)
    (folder / "compare.err").write_text(done.stderr)
    seconds = time.perf_counter() - started
    tally.jobs += 1
    tally.seconds.append(seconds)
    tally.load.append(p50(record, "beta") / quiet_beta)
    if done.returncode not in (0, 1) or not document.is_file():
        tally.other_exit += 1
        print(f"{label}: compare exited {done.returncode}:\n{done.stderr[-3000:]}", file=sys.stderr)
        return
    results = json.loads(document.read_text())["results"]
    regressed = {row["benchmark"] for row in results if row["verdict"] == "regression"}
    methods = {(row.get("confirmation") or {}).get("method") or "none" for row in results}
    tally.methods.update(methods)
    failed = done.returncode == 1
    tally.failed += failed
    tally.named += failed and regressed == {"alpha"}
    print(f"{label}: exit {done.returncode}, regression rows for {', '.join(sorted(regressed)) or 'nothing'}, "
          f"confirmed {'/'.join(sorted(methods))}, beta x{tally.load[-1]:.2f} under load, {seconds:.1f} s",
          file=sys.stderr)


def trial(project: Project, n: int, arms: list[str], rng: random.Random, quiet_beta: float,
          tallies: dict[tuple[str, str], Tally], trials: int) -> None:
    merge_base = project.git("rev-parse", MAIN_BRANCH)
    for case in rng.sample(CASES, len(CASES)):
        branch = f"mr-{n}-{case.replace('_', '-')}"
        project.git("checkout", "-q", "-b", branch, merge_base)
        if case == "slowdown":
            sha = project.commit("alpha +20 % work", {"bench/workload.py": workload(alpha=round(WORK * SLOWDOWN))})
        else:
            sha = project.commit("docs only", {"README.md": f"project\n\nmerge request {n}\n"})
        for arm in rng.sample(arms, len(arms)):
            folder = project.root / "trials" / f"{n}-{case}-{arm}"
            job(project, arm, merge_base, sha, branch, str(n), folder, quiet_beta, tallies[arm, case],
                f"trial {n}/{trials} {case} {arm}")
        project.git("checkout", "-q", MAIN_BRANCH)


def rate(count: int, total: int) -> str:
    return f"{count}/{total} ({count / total:.1%})" if total else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="merge requests per case (default 40)")
    parser.add_argument("--history", type=int, default=8, help="quiet commits on main (default 8)")
    parser.add_argument("--seed", type=int, default=11, help="the order of cases and arms in a trial")
    parser.add_argument("--arms", default=",".join(ARMS), help="paired, same_job or both (default)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and say where")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that ``finally`` stops the hog
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or any(a not in ARMS for a in arms) or args.trials < 1 or args.history < 1:
        parser.error(f"--arms takes {', '.join(ARMS)}; --trials and --history at least 1")
    cores = os.cpu_count() or 1
    from benchtrail.bench.fingerprint import cpu_model

    print(f"Machine: {cpu_model()}, {cores} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"Command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    print(f"Load average before the start: {', '.join(f'{v:.2f}' for v in os.getloadavg())} (a quiet machine: near 0)")
    print(f"Suite: alpha and beta, pure Python loops of {WORK} steps (about 1 ms a call), warmup 10, "
          f"150 calls, 1 run; {args.history} quiet history commits; per merge request job a hog of {cores} "
          f"busy processes, 1 run, confirmation {CONFIRM_TIMES} times; seed {args.seed}")
    root = Path(tempfile.mkdtemp(prefix="benchtrail-noisy-"))
    tallies = {(arm, case): Tally() for arm in arms for case in CASES}
    started = time.perf_counter()
    try:
        project = Project(root, cores)
        quiet = setup(project, args.history)
        quiet_beta = statistics.median(quiet)
        rng = random.Random(args.seed)
        begun = time.perf_counter()
        for n in range(1, args.trials + 1):
            trial(project, n, arms, rng, quiet_beta, tallies, args.trials)
            spent = time.perf_counter() - begun
            print(f"trial {n}/{args.trials} done: {spent / n:.0f} s a trial, about {spent / n * (args.trials - n) / 60:.0f} "
                  f"min left", file=sys.stderr)
    finally:
        if args.keep:
            print(f"Kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"Quiet history: beta p50 {quiet_beta:.3f} ms (median of {len(quiet)}, {min(quiet):.3f}-{max(quiet):.3f}); "
          f"{time.perf_counter() - started:.0f} s in all\n")
    print(f"{'arm':<9} {'case':<10} {'jobs':>4} {'failed (exit 1)':>17} {'failed naming alpha':>20} "
          f"{'exit 2/3':>8} {'load':>6} {'s/job':>6}  confirmation rows")
    for (arm, case), t in tallies.items():
        load = f"x{statistics.median(t.load):.2f}" if t.load else "-"
        seconds = f"{statistics.median(t.seconds):.1f}" if t.seconds else "-"
        methods = ", ".join(f"{m} {c}" for m, c in sorted(t.methods.items()))
        print(f"{arm:<9} {case:<10} {t.jobs:>4} {rate(t.failed, t.jobs):>17} {rate(t.named, t.jobs):>20} "
              f"{t.other_exit:>8} {load:>6} {seconds:>6}  {methods}")
    print("(load: the first run's beta p50 under the hog over the quiet history's, median; confirmation "
          "rows: jobs whose rows were confirmed that way, 'none' where a row was not confirmed)\n")
    for arm in arms:
        quiet_jobs, slow_jobs = tallies[arm, "no_change"], tallies[arm, "slowdown"]
        allowed, needed = quiet_jobs.jobs / 40, slow_jobs.jobs * 38 / 40
        goal = "Goal" if arm == "paired" else "Beside (today's same-job confirmation)"
        print(f"{goal}: {arm}: no-change merge requests fail at most 1 in 40: {rate(quiet_jobs.failed, quiet_jobs.jobs)} "
              f"({'PASS' if quiet_jobs.failed <= allowed and not quiet_jobs.other_exit else 'MISS'})")
        print(f"{goal}: {arm}: +20 % in alpha fails naming it at least 38 in 40: {rate(slow_jobs.named, slow_jobs.jobs)} "
              f"({'PASS' if slow_jobs.named >= needed else 'MISS'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
