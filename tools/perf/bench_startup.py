"""Measure start-up (issue 10): importing benchtrail.results, `benchtrail --help`, and duplicates.

Figures, each from fresh processes, as medians over --runs (one warm-up run first, not counted):
  import     `python -X importtime -c "import benchtrail.results"`: the cumulative import time
             of benchtrail.results as -X importtime reports it, and how many modules it loads
  help       `benchtrail --help` (the venv's console script): wall time, interpreter start included
  duplicates `duplicates --repo SRC --most 200` when the command is on PATH: pairs and the list

--src DIR measures another source tree (put first on PYTHONPATH, and the one duplicates reads),
e.g. the state before a change: git archive HEAD src | tar -x -C /tmp/before

Usage: python tools/perf/bench_startup.py [--runs 7] [--quick] [--no-duplicates] [--src DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LARGE_SPREAD = 0.10  # stdev at least 10 % of the mean, as pyperf's format_checks warns


HEAVY = ("click", "git", "gitlab", "docker", "jsonschema", "numpy", "matplotlib", "requests", "aiohttp",
         "psutil", "pynvml", "tabulate")


def import_time_us(module: str, env: dict[str, str]) -> tuple[int, list[str]]:
    """(cumulative import time of ``module`` in microseconds, the modules it imported) in a
    fresh process."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    rows = [line.split("|") for line in done.stderr.splitlines() if line.startswith("import time:")]
    rows = [row for row in rows if row[0].split(":")[1].strip().isdigit()]  # drop the header
    for _self, cumulative, name in rows:
        if name.strip() == module:
            return int(cumulative), [row[2].strip() for row in rows]
    raise SystemExit(f"-X importtime printed no line for {module}")


def wall_time_s(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def summary(values: list[float], unit: str, scale: float = 1.0) -> str:
    med = statistics.median(values)
    line = (f"median {med * scale:.1f} {unit} (min {min(values) * scale:.1f}, max {max(values) * scale:.1f}, "
            f"n={len(values)})")
    if len(values) > 1 and statistics.stdev(values) >= LARGE_SPREAD * statistics.mean(values):
        line += f"  warning: large spread (stdev >= {LARGE_SPREAD:.0%} of the mean)"
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 runs: a smoke run")
    parser.add_argument("--no-duplicates", action="store_true", help="skip the duplicates listing")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the source tree (default: %(default)s)")
    args = parser.parse_args()
    src = args.src.resolve()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    runs = 2 if args.quick else args.runs
    console_script = Path(sys.executable).parent / "benchtrail"
    help_command = [str(console_script), "--help"]
    import_command = [sys.executable, "-X", "importtime", "-c", "import benchtrail.results"]

    print(f"Machine: {platform.node()} {platform.machine()}, {platform.processor() or '?'}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"Python: {platform.python_version()} ({sys.executable})")
    print(f"Command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    # Before anything imports from src: outside a git checkout duplicates would read __pycache__.
    duplicates = None if args.no_duplicates else list_duplicates(src)
    check = subprocess.run([sys.executable, "-c", "import benchtrail; print(benchtrail.__file__)"],
                           capture_output=True, text=True, check=True, env=env)
    print(f"Source: {check.stdout.strip()}")

    import_time_us("benchtrail.results", env)  # warm-up: .pyc files written, page cache filled
    samples = [import_time_us("benchtrail.results", env) for _ in range(runs)]
    print(f"import     {shlex.join(import_command)}")
    print(f"           benchtrail.results cumulative: {summary([us for us, _ in samples], 'ms', 1e-3)}")
    heavy = sorted({name for name in samples[0][1] if name.split(".")[0] in HEAVY and "." not in name})
    print(f"           {len(samples[0][1])} modules imported; heavy packages loaded: {', '.join(heavy) or 'none'}")

    wall_time_s(help_command, env)
    times = [wall_time_s(help_command, env) for _ in range(runs)]
    print(f"help       {shlex.join(help_command)}")
    print(f"           wall: {summary(times, 'ms', 1e3)}")

    if duplicates:
        print(duplicates)
    return 0


def list_duplicates(src: Path) -> str:
    if shutil.which("duplicates") is None:
        return "duplicates not on PATH: skipped"
    command = ["duplicates", "--repo", str(src), "--most", "200"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    return f"duplicates {shlex.join(command)}\n" + textwrap.indent((done.stdout + done.stderr).rstrip(), " " * 11)


if __name__ == "__main__":
    sys.exit(main())
