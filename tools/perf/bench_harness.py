#!/usr/bin/env python3
"""Time benchtrail's harness next to pyperf and pytest-benchmark, on the same callables.

Two targets: ``noop`` (an empty call: the harness's own cost per call) and ``spin_1ms``
(a busy-wait of exactly 1 ms on ``perf_counter_ns``: the harness's accuracy). Each tool
runs in its own subprocess as a user would run it: ``benchtrail run`` on a generated
suite, a generated pyperf script, and pytest on a generated test file. The comparison
is repeated; each figure is the median over repeats, with its min..max.

    python tools/perf/bench_harness.py [--repeat 5] [--quick] [--json out.json] [--check]

Goals for benchtrail: noop p50 under 0.5 us; spin_1ms p50 within 1 % of 1.000 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchtrail.bench.fingerprint import cpu_model

TOOLS = ("benchtrail", "pyperf", "pytest-benchmark")
TARGETS = ("noop", "spin_1ms")
SPIN_NS = 1_000_000
NOOP_GOAL_NS = 500.0
SPIN_GOAL = 0.01  # relative error
LARGE_SPREAD = 0.10  # (max - min) / median over repeats, as pyperf's 10 % rule

WORKLOAD = '''"""The targets every tool times."""
import time


def noop(batch):
    pass


def spin_1ms(batch):
    read = time.perf_counter_ns
    start = read()
    while read() - start < 1_000_000:
        pass
'''

PYPERF_SCRIPT = '''import sys

sys.path.insert(0, {folder!r})
import pyperf  # noqa: E402
import workload  # noqa: E402

runner = pyperf.Runner()
batch = [0]
runner.bench_func("noop", workload.noop, batch)
runner.bench_func("spin_1ms", workload.spin_1ms, batch)
'''

PYTEST_FILE = '''import workload

BATCH = [0]


def test_noop(benchmark):
    benchmark(workload.noop, BATCH)


def test_spin_1ms(benchmark):
    benchmark(workload.spin_1ms, BATCH)
'''


@dataclass(frozen=True)
class Settings:
    """How long each tool measures: the full comparison or a few-second smoke run."""

    runs: int
    noop_iterations: int
    noop_warmup: int
    spin_iterations: int
    spin_warmup: int
    pyperf_args: tuple[str, ...]
    pytest_args: tuple[str, ...]


FULL = Settings(
    runs=3, noop_iterations=100_000, noop_warmup=1_000, spin_iterations=300, spin_warmup=10,
    pyperf_args=("--fast",),
    pytest_args=(),
)
QUICK = Settings(
    runs=1, noop_iterations=5_000, noop_warmup=100, spin_iterations=20, spin_warmup=2,
    pyperf_args=("--processes", "1", "--values", "3", "--warmups", "1", "--min-time", "0.005"),
    pytest_args=("--benchmark-max-time", "0.02", "--benchmark-min-rounds", "5"),
)


def render_suite(settings: Settings) -> str:
    """The benchtrail suite timing both targets."""
    return f"""[suite]
name = "harness"
runs = {settings.runs}

[[benchmark]]
name = "noop"
target = "workload:noop"
dataset = "data/rows.jsonl"
warmup = {settings.noop_warmup}
iterations = {settings.noop_iterations}

[[benchmark]]
name = "spin_1ms"
target = "workload:spin_1ms"
dataset = "data/rows.jsonl"
warmup = {settings.spin_warmup}
iterations = {settings.spin_iterations}
"""


def write_files(folder: Path, settings: Settings) -> None:
    """Workload module, dataset, suite, pyperf script and pytest file, all in ``folder``."""
    (folder / "workload.py").write_text(WORKLOAD, encoding="utf-8")
    (folder / "data").mkdir()
    (folder / "data" / "rows.jsonl").write_text("".join(f"{i}\n" for i in range(8)), encoding="utf-8")
    (folder / "suite.toml").write_text(render_suite(settings), encoding="utf-8")
    (folder / "pyperf_targets.py").write_text(PYPERF_SCRIPT.format(folder=str(folder)), encoding="utf-8")
    (folder / "test_targets.py").write_text(PYTEST_FILE, encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\naddopts =\n", encoding="utf-8")


def build_commands(folder: Path, settings: Settings, tag: str) -> dict[str, list[str]]:
    """Each tool's command line, writing its JSON under ``folder/out-<tag>``."""
    out = folder / f"out-{tag}"
    python = sys.executable
    return {
        "benchtrail": [python, "-m", "benchtrail", "-q", "run", "suite.toml", "--out", str(out / "benchtrail")],
        "pyperf": [python, "pyperf_targets.py", "--quiet", *settings.pyperf_args, "-o", str(out / "pyperf.json")],
        "pytest-benchmark": [python, "-m", "pytest", "test_targets.py", "-q", "-p", "no:cacheprovider",
                             *settings.pytest_args, "--benchmark-json", str(out / "pytest-benchmark.json")],
    }


def read_medians(tool: str, folder: Path, tag: str) -> tuple[dict[str, float], float | None]:
    """Per target, the tool's reported p50/median per call (ns); and benchtrail's timer floor."""
    out = folder / f"out-{tag}"
    if tool == "benchtrail":
        (path,) = (out / "benchtrail").glob("*.json")
        record = json.loads(path.read_text(encoding="utf-8"))
        medians = {b["name"]: b["metrics"]["latency_ms"]["p50"] * 1e6 for b in record["benchmarks"]}
        return medians, float(record["run"]["timer"]["overhead_ns"])
    if tool == "pyperf":
        import pyperf

        suite = pyperf.BenchmarkSuite.load(str(out / "pyperf.json"))
        return {name: suite.get_benchmark(name).median() * 1e9 for name in TARGETS}, None
    data = json.loads((out / "pytest-benchmark.json").read_text(encoding="utf-8"))
    return {b["name"].removeprefix("test_"): b["stats"]["median"] * 1e9 for b in data["benchmarks"]}, None


def run_tool(argv: list[str], folder: Path, tag: str) -> float:
    """Run one tool's command in ``folder``; its wall time in seconds. Exits on failure."""
    (folder / f"out-{tag}").mkdir(exist_ok=True)
    # No BENCHTRAIL_RUNS & co. or PYTEST_ADDOPTS of the caller changes what a tool does.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHTRAIL_") and k != "PYTEST_ADDOPTS"}
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(f"error: {shlex.join(argv)} exited {done.returncode}\n")
        sys.stderr.write((done.stdout + done.stderr)[-3000:] + "\n")
        sys.exit(2)
    return time.perf_counter() - start




def describe_machine() -> list[str]:
    """Machine, Python, exact command and tool versions: the report's header lines."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in TOOLS)
    return [
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({usable} usable), {platform.platform()}",
        f"Load average at start: {load}",
        f"Python: {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"Command: {shlex.join([sys.executable, *sys.argv])}",
        f"Versions: {versions}",
    ]


def format_ns(ns: float) -> str:
    """A duration in ns, us or ms."""
    if ns < 10_000:
        return f"{ns:.1f} ns"
    if ns < 10_000_000:
        return f"{ns / 1e3:.2f} us"
    return f"{ns / 1e6:.3f} ms"


def spread_of(values: list[float]) -> float:
    """(max - min) / median."""
    return (max(values) - min(values)) / statistics.median(values)


def format_report(
    figures: dict[str, dict[str, list[float]]], floors: list[float], repeats: int
) -> tuple[list[str], list[str], bool]:
    """The result table lines, the warnings, and whether benchtrail met both goals."""
    lines: list[str] = []
    warnings: list[str] = []
    for target in TARGETS:
        what = "the call's own cost" if target == "noop" else "error vs 1.000 ms"
        lines.append("")
        lines.append(f"{target}: reported p50/median per call, median over {repeats} repeat(s) [min..max] ({what})")
        header = f"  {'tool':<18}{'median':>12}   {'min..max':<26}{'spread':>9}"
        lines.append(header + ("   error" if target == "spin_1ms" else ""))
        for tool in TOOLS:
            values = figures[tool][target]
            median = statistics.median(values)
            span = f"{format_ns(min(values))} .. {format_ns(max(values))}"
            line = f"  {tool:<18}{format_ns(median):>12}   {span:<26}{spread_of(values):>8.2%}"
            if target == "spin_1ms":
                line += f"   {(median - SPIN_NS) / SPIN_NS:+.3%}"
            lines.append(line)
            if len(values) > 1 and spread_of(values) > LARGE_SPREAD:
                warnings.append(f"{tool} {target}: the repeats spread {spread_of(values):.0%} of their median "
                                f"(> {LARGE_SPREAD:.0%}): the machine is noisy, trust ratios more than absolutes")
    noop = statistics.median(figures["benchtrail"]["noop"])
    spin_error = (statistics.median(figures["benchtrail"]["spin_1ms"]) - SPIN_NS) / SPIN_NS
    noop_ok = noop < NOOP_GOAL_NS
    spin_ok = abs(spin_error) <= SPIN_GOAL
    lines += [
        "",
        f"benchtrail's timer floor (two back-to-back reads, from its record): {format_ns(statistics.median(floors))}",
        "Note: benchtrail's p50 is over single timed calls (two timer reads each); pyperf and",
        "pytest-benchmark time a loop of calls and divide, so their noop figure has no timer cost in it.",
        "",
        "Goals for benchtrail:",
        f"  noop p50 < {format_ns(NOOP_GOAL_NS)}: {format_ns(noop)} -> {'met' if noop_ok else 'MISSED'}",
        f"  spin_1ms p50 within {SPIN_GOAL:.0%} of 1.000 ms: {spin_error:+.3%} -> {'met' if spin_ok else 'MISSED'}",
    ]
    return lines, warnings, noop_ok and spin_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=None,
                        help="repeat the whole comparison N times (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="tiny runs, a few seconds in all: for a smoke test")
    parser.add_argument("--json", dest="json_out", type=Path, help="also write every figure (ns) into this JSON file")
    parser.add_argument("--check", action="store_true", help="exit 1 when benchtrail misses a goal")
    args = parser.parse_args(argv)
    repeats = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    if repeats < 1:
        parser.error("--repeat must be >= 1")
    for module in ("pyperf", "pytest_benchmark", "benchtrail"):
        if importlib.util.find_spec(module) is None:
            print(f"error: {module} is not installed (pip install -e '.[test,perf]')", file=sys.stderr)
            return 2
    settings = QUICK if args.quick else FULL

    for line in describe_machine():
        print(line)
    print(f"Mode: {'quick' if args.quick else 'full'}, {repeats} repeat(s); "
          "the tools run in this order, rotated each repeat:")
    figures: dict[str, dict[str, list[float]]] = {tool: {t: [] for t in TARGETS} for tool in TOOLS}
    floors: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-harness-") as scratch:
        folder = Path(scratch)
        write_files(folder, settings)
        for tool, argv in build_commands(folder, settings, "N").items():
            print(f"  {tool}: (cd {folder} && {shlex.join(argv)})")
        for repeat in range(repeats):
            tag = str(repeat + 1)
            argvs = build_commands(folder, settings, tag)
            order = TOOLS[repeat % len(TOOLS):] + TOOLS[:repeat % len(TOOLS)]
            walls = []
            for tool in order:
                wall = run_tool(argvs[tool], folder, tag)
                medians, floor = read_medians(tool, folder, tag)
                for target in TARGETS:
                    figures[tool][target].append(medians[target])
                if floor is not None:
                    floors.append(floor)
                walls.append(f"{tool} {wall:.1f} s")
            print(f"repeat {tag}/{repeats}: " + ", ".join(walls), flush=True)

    lines, warnings, ok = format_report(figures, floors, repeats)
    for line in lines:
        print(line)
    for warning in warnings:
        print(f"Warning: {warning}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"repeats": repeats, "quick": args.quick, "timer_floor_ns": floors,
                                             "p50_ns": figures}, indent=2), encoding="utf-8")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
