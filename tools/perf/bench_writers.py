"""Many jobs recording at once: every record lands once, no call fails, with the default retries.

    python tools/perf/bench_writers.py [--writers 32] [--records 10] [--mode calls|batch|both]

Smoke run (seconds): ``python tools/perf/bench_writers.py --quick`` (4 writers x 2 records).

A bare repository plays the project's remote (``file://``); each writer is a clone of it, as
a CI job's checkout is, and runs real ``benchtrail record`` processes, all writers at once:

  calls   each writer records its ``--records`` result files one ``benchtrail record`` call
          at a time (``--writers`` x ``--records`` pushes in all: the hard case);
  batch   each writer records all its files in one call (one push per writer).

Printed per mode: records on the branch against records given, duplicates, failed calls, and
the slowest call's seconds. Goal (issue 14): 32 writers x 10 records with default settings,
320 of 320 recorded, 0 duplicates, 0 failed calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "records" / "result-1.json"
BRANCH = "benchtrail-results"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def write_record(folder: Path, n: int) -> Path:
    """Record ``n``: the golden record with its own commit, job and start second."""
    record = json.loads(GOLDEN.read_text(encoding="utf-8"))
    record["run"]["started_at"] = f"2026-03-{1 + n // 86400 % 28:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
    record["source"]["commit"] = f"{n + 1:040x}"
    record["source"]["job_id"] = str(100000 + n)
    path = folder / f"r{n}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def writer(remote: Path, folder: Path, numbers: list[int], batch: bool) -> list[tuple[int, float, str]]:
    """Clone ``remote`` into ``folder`` and record ``numbers``: (exit code, seconds, stderr) per call."""
    git(folder.parent, "clone", "-q", f"file://{remote}", str(folder / "checkout"))
    files = [str(write_record(folder, n)) for n in numbers]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "BENCHTRAIL_"))}
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="bench@example.com")
    calls = [files] if batch else [[file] for file in files]
    done = []
    for given in calls:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "benchtrail", "record", *given, "--repo",
                                 str(folder / "checkout")], env=env, capture_output=True, text=True, check=False)
        done.append((result.returncode, time.monotonic() - started, result.stderr.strip()))
    return done


def one_mode(writers: int, records: int, batch: bool) -> str:
    with tempfile.TemporaryDirectory(prefix="benchtrail-writers-") as scratch:
        root = Path(scratch)
        remote = root / "remote.git"
        git(root, "init", "-q", "--bare", str(remote))
        seed = root / "seed"
        git(root, "clone", "-q", f"file://{remote}", str(seed))
        (seed / "README").write_text("project\n")
        git(seed, "add", "README")
        git(seed, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", "start")
        git(seed, "push", "-q", "origin", "HEAD:main")
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=writers) as pool:
            futures = [pool.submit(writer, remote, root / f"w{w}", list(range(w * records, (w + 1) * records)), batch)
                       for w in range(writers)]
            calls = [call for future in futures for call in future.result()]
        elapsed = time.monotonic() - started
        listing = git(remote, "ls-tree", "-r", "--name-only", BRANCH).split()
        failed = [err.splitlines()[-1] if err else f"exit {code}" for code, _, err in calls if code != 0]
        slowest = max(seconds for _, seconds, _ in calls)
        mode = "batch" if batch else "calls"
        line = (f"{mode:<6} {writers} writers x {records} records: {len(set(listing))} of {writers * records} on the "
                f"branch, {len(listing) - len(set(listing))} duplicates, {len(failed)} of {len(calls)} calls failed; "
                f"slowest call {slowest:.1f} s, all done in {elapsed:.1f} s")
        return line + "".join(f"\n  failed: {reason}" for reason in failed[:5])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=None, help="writers at once (default 32; --quick 4)")
    parser.add_argument("--records", type=int, default=None, help="records per writer (default 10; --quick 2)")
    parser.add_argument("--mode", choices=["calls", "batch", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    args.writers = args.writers or (4 if args.quick else 32)
    args.records = args.records or (2 if args.quick else 10)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    print(f"Command: {Path(sys.executable).name} {' '.join(sys.argv)}")
    for batch in ([False, True] if args.mode == "both" else [args.mode == "batch"]):
        print(one_mode(args.writers, args.records, batch), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
