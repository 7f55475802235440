#!/usr/bin/env python3
"""Measure benchtrail's regression rule next to its peers' rules on seeded CI-like histories.

Figures (issue 6), per benchmark x metric comparison, lower is better (a latency):

  A/A        no change, CV 1 %, 3 %, 5 %: the false-alarm rate, with 1 and 3 current runs
  A/B        a 5 %, 7 %, 10 % slowdown at CV 3 %: the detection rate, 1 and 3 current runs
  confirm    benchtrail's confirmation path: decide on 1 run; when it is suspect (a
             regression, inconclusive, or within one standard error of a regression of the
             minimum effect) draw 2 more runs and decide on the 3; alert only if that says
             "regression" (the extra runs are counted as a cost)
  oracle     the ceiling for one run: a rule that knows the true level and the noise model,
             its threshold set for 1 % false alarms; 10 % slower at CV 3 %, with and
             without 2 % outlying runs (issue 6 quotes ~84 % and ~76 %)

Peers, with their defaults (see peer_rules.py for the sources): github-action-benchmark
(current / previous entry > 105 %, 110 %, 120 %, 150 %, 200 %: its default), Bencher's t-test
Test (upper boundary 0.99) and Interquartile Range Test (2.0 x IQR), Apache Otava (change
point at the current point(s), its defaults). Every rule sees the same histories and runs.

Histories (tools/perf/histories.py): 20 records of 1 process-run each (a variant table, on
half as many comparisons, uses 3 process-runs per record), the run-to-run CV of the
condition, 2 % outlying runs 4x wider, a slow drift drawn in +-0.05 % per record, and in 30 %
of histories an older +-10 % step at records 1..10 (first half). The current runs are drawn
at the last true level x (1 + change). Each rate comes with its 95 % (Wilson) binomial
interval half-width.

    python tools/perf/bench_compare.py [--comparisons 10000] [--variant-comparisons 5000]
                                       [--seed 6] [--workers 2] [--alpha A] [--quick] [--check]

Goals for benchtrail: A/A at CV 3 % false alarms <= 1 % with 1 run and with 3 runs; A/B 10 %
at CV 3 % with 3 runs detected >= 95 %.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from histories import ci_history, noisy_runs  # noqa: E402
from peer_rules import (  # noqa: E402
    BENCHER_IQR_MULTIPLIER,
    BENCHER_T_BOUNDARY,
    GAB_THRESHOLDS,
    bencher_iqr_limit,
    bencher_t_limit,
    gab_ratio,
    oracle_detection,
    otava_regression,
)

from benchtrail.bench.fingerprint import cpu_model  # noqa: E402
from benchtrail.compare.rule import ALPHA, decide  # noqa: E402

RECORDS = 20
OUTLIER_RATE = 0.02
OUTLIER_SCALE = 4.0
DRIFT = 0.0005  # per record, drawn uniformly in [-DRIFT, DRIFT] per history
STEP_SHARE = 0.30
STEP_SIZES = (0.10, -0.10)
STEP_LAST_INDEX = RECORDS // 2  # the older step starts at a record in 1..10
CURRENT_RUNS = 3
CHUNK = 250  # comparisons per task; results do not depend on the number of workers

AA_CVS = (0.01, 0.03, 0.05)
AB_CV = 0.03
AB_CHANGES = (0.05, 0.07, 0.10)

GOAL_AA_FALSE_ALARMS = 0.01
GOAL_AB_DETECTION = 0.95

#: table rows: (key, label); each is shown with 1 and with 3 current runs
PEERS = (
    ("benchtrail", "benchtrail decide()"),
    *((f"gab-{t:.2f}", f"github-action-benchmark >{t:.0%}" + (" (default)" if t == 2.0 else ""))
      for t in GAB_THRESHOLDS),
    ("bencher-t", f"Bencher t-test, boundary {BENCHER_T_BOUNDARY}"),
    ("bencher-iqr", f"Bencher IQR, {BENCHER_IQR_MULTIPLIER:.1f} x IQR"),
    ("otava", "Apache Otava, defaults"),
)
HAVE_OTAVA = importlib.util.find_spec("otava") is not None
if not HAVE_OTAVA:
    PEERS = tuple(peer for peer in PEERS if peer[0] != "otava")
CONFIRM = ("benchtrail-confirm", "benchtrail confirmation 1 -> 3")
FAMILIES = ("benchtrail", "github-action-benchmark", "Bencher (both)", "Otava")


@dataclass(frozen=True)
class Scenario:
    kind: str  # "A/A" or "A/B"
    cv: float
    change: float

    @property
    def label(self) -> str:
        return f"CV {self.cv:.0%}" if self.kind == "A/A" else f"+{self.change:.0%}"


@dataclass
class Tally:
    """What a set of comparisons gave: alerts and trials per (peer, current runs), etc."""

    alerts: Counter = field(default_factory=Counter)
    trials: Counter = field(default_factory=Counter)
    verdicts: Counter = field(default_factory=Counter)  # (runs, verdict)
    reruns: int = 0
    bars: dict = field(default_factory=lambda: {1: [], 3: []})  # benchtrail's threshold per decision
    ns: Counter = field(default_factory=Counter)  # time per peer family
    chunk_ms: dict = field(default_factory=dict)  # family -> [ms per comparison, per chunk]

    def add(self, other: Tally) -> None:
        self.alerts.update(other.alerts)
        self.trials.update(other.trials)
        self.verdicts.update(other.verdicts)
        self.reruns += other.reruns
        for runs in self.bars:
            self.bars[runs].extend(other.bars[runs])
        self.ns.update(other.ns)
        for family, values in other.chunk_ms.items():
            self.chunk_ms.setdefault(family, []).extend(values)


def draw(rng: np.random.Generator, scenario: Scenario, runs_per_record: int) -> tuple[list[list[float]], list[float]]:
    """One CI-like history and its current runs."""
    drift = float(rng.uniform(-DRIFT, DRIFT))
    steps = []
    if rng.random() < STEP_SHARE:
        steps = [(int(rng.integers(1, STEP_LAST_INDEX + 1)), float(rng.choice(STEP_SIZES)))]
    history = ci_history(rng, RECORDS, cv=scenario.cv, runs=runs_per_record, outlier_rate=OUTLIER_RATE,
                         outlier_scale=OUTLIER_SCALE, drift=drift, steps=steps)
    current = noisy_runs(rng, history.levels[-1] * (1.0 + scenario.change), CURRENT_RUNS, cv=scenario.cv,
                         outlier_rate=OUTLIER_RATE, outlier_scale=OUTLIER_SCALE)
    return history.runs, current


def run_chunk(scenario: Scenario, runs_per_record: int, count: int, seed: int, spawn_key: tuple[int, ...],
              with_otava: bool, alpha: float | None = None) -> Tally:
    """``count`` comparisons of one condition, every peer on the same draws."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn_key))
    tally = Tally()
    clock = time.perf_counter_ns
    options = {} if alpha is None else {"alpha": alpha}
    for _ in range(count):
        records, current = draw(rng, scenario, runs_per_record)
        values = [statistics.median(r) for r in records]  # one value per record for the peers
        verdicts, suspect = {}, False
        for runs in (1, CURRENT_RUNS):
            now = current[:runs]
            value = statistics.median(now)
            t0 = clock()
            decision = decide(records, now, **options)
            t1 = clock()
            verdicts[runs] = decision.verdict
            suspect = suspect or (runs == 1 and decision.suspect)
            tally.verdicts[runs, decision.verdict] += 1
            if decision.threshold is not None:
                tally.bars[runs].append(decision.threshold)
            tally.alerts["benchtrail", runs] += decision.verdict == "regression"
            ratio = gab_ratio(values, value)
            for threshold in GAB_THRESHOLDS:
                tally.alerts[f"gab-{threshold:.2f}", runs] += ratio > threshold
            t2 = clock()
            tally.alerts["bencher-t", runs] += value > bencher_t_limit(values)
            tally.alerts["bencher-iqr", runs] += value > bencher_iqr_limit(values)
            t3 = clock()
            keys = ["benchtrail", *(f"gab-{t:.2f}" for t in GAB_THRESHOLDS), "bencher-t", "bencher-iqr"]
            if with_otava:
                tally.alerts["otava", runs] += otava_regression(values, now)
                keys.append("otava")
            t4 = clock()
            for key in keys:
                tally.trials[key, runs] += 1
            tally.ns.update({"benchtrail": t1 - t0, "github-action-benchmark": t2 - t1,
                             "Bencher (both)": t3 - t2, "Otava": t4 - t3})
        # the confirmation path (benchtrail.commands.confirm): a suspect first run gets 2 more,
        # current[1:3], drawn independently, and the decision is taken on the 3
        final = verdicts[1]
        if suspect:
            tally.reruns += 1
            final = verdicts[CURRENT_RUNS]
        tally.alerts[CONFIRM[0], "1+2"] += final == "regression"
        tally.trials[CONFIRM[0], "1+2"] += 1
    decisions = 2 * count
    tally.chunk_ms = {family: [tally.ns[family] / 1e6 / decisions] for family in FAMILIES}
    if not with_otava:
        del tally.chunk_ms["Otava"]
    return tally


def wilson(k: int, n: int) -> tuple[float, float]:
    """The rate and the half-width of its 95 % Wilson score interval."""
    if n == 0:
        return math.nan, math.nan
    z = 1.959964
    p = k / n
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, half


def cell(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    p, half = wilson(k, n)
    return f"{p:7.2%} ±{half * 100:.2f}"


def scenarios() -> list[Scenario]:
    return [*(Scenario("A/A", cv, 0.0) for cv in AA_CVS), *(Scenario("A/B", AB_CV, c) for c in AB_CHANGES)]


def table(title: str, group: list[Scenario], tallies: dict[Scenario, Tally]) -> list[str]:
    head = f"  {'peer':<40}{'runs':>6}" + "".join(f"{s.label:>17}" for s in group)
    lines = [title, head]
    for key, label in PEERS:
        for runs in (1, CURRENT_RUNS):
            row = f"  {label if runs == 1 else '':<40}{runs:>6}"
            row += "".join(f"{cell(tallies[s].alerts[key, runs], tallies[s].trials[key, runs]):>17}" for s in group)
            lines.append(row)
    row = f"  {CONFIRM[1]:<40}{'1(+2)':>6}"
    row += "".join(f"{cell(tallies[s].alerts[CONFIRM[0], '1+2'], tallies[s].trials[CONFIRM[0], '1+2']):>17}"
                   for s in group)
    lines.append(row)
    return lines


def benchtrail_mix(group: list[Scenario], tallies: dict[Scenario, Tally]) -> list[str]:
    """benchtrail's verdict mix, its re-run share and the median bar it set."""
    lines = []
    for s in group:
        t = tallies[s]
        parts = []
        for runs in (1, CURRENT_RUNS):
            total = sum(v for (r, _), v in t.verdicts.items() if r == runs)
            mix = ", ".join(f"{verdict} {count / total:.1%}" for (r, verdict), count in sorted(
                t.verdicts.items(), key=lambda item: -item[1]) if r == runs)
            bar = statistics.median(t.bars[runs]) if t.bars[runs] else math.nan
            parts.append(f"{runs} run{'s' if runs > 1 else ''}: {mix}; median bar +{bar:.1%}")
        reruns = t.reruns / t.trials[CONFIRM[0], "1+2"]
        lines.append(f"  {s.kind} {s.label}: " + " | ".join(parts) + f" | confirmation re-runs {reruns:.1%}")
    return lines


def oracle_lines(rng: np.random.Generator, draws: int) -> list[str]:
    """The one-run ceiling (exact, and measured on the generator), and the median-of-3 one."""
    lines = [(f"Oracle (knows the true level and the noise; threshold for 1 % A/A false alarms), CV {AB_CV:.0%}, "
              f"exact and measured on {draws:,} generator draws:")]
    for outliers in (0.0, OUTLIER_RATE):
        for name, log_change in (("+10.0 %", math.log1p(0.10)), ("exp(0.1) = +10.5 %", 0.1)):
            exact = oracle_detection(AB_CV, log_change, outlier_rate=outliers, outlier_scale=OUTLIER_SCALE)
            measured = []
            for runs in (1, CURRENT_RUNS):
                base = np.log(np.array(noisy_runs(rng, 100.0, draws * runs, cv=AB_CV, outlier_rate=outliers,
                                                  outlier_scale=OUTLIER_SCALE)) / 100.0).reshape(draws, runs)
                slow = np.log(np.array(noisy_runs(rng, 100.0 * math.exp(log_change), draws * runs, cv=AB_CV,
                                                  outlier_rate=outliers, outlier_scale=OUTLIER_SCALE))
                              / 100.0).reshape(draws, runs)
                threshold = np.quantile(np.median(base, axis=1), 0.99)
                hits = int(np.sum(np.median(slow, axis=1) > threshold))
                measured.append(cell(hits, draws))
            lines.append(f"  {name:<19} {outliers:.0%} outliers: 1 run exact {exact:6.2%}, measured {measured[0]}; "
                         f"median of 3 runs, measured {measured[1]}")
    return lines


def describe_machine(workers: int) -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    versions = ", ".join(f"{name} {version(name)}" for name in ("benchtrail", "numpy", "scipy", "apache-otava"))
    return [
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({usable} usable), {platform.platform()}",
        f"Load average at start: {load}",
        f"Python: {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"Command: {shlex.join([sys.executable, *sys.argv])}",
        f"Versions: {versions}; {workers} worker process(es)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comparisons", type=int, default=None,
                        help="comparisons per condition (default 10,000; 300 with --quick)")
    parser.add_argument("--otava-comparisons", type=int, default=None,
                        help="run Otava on only this many comparisons per condition (default: all)")
    parser.add_argument("--seed", type=int, default=6, help="seed of every draw (default 6)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--variant-comparisons", type=int, default=None,
                        help="comparisons per condition in the variant with 3 process-runs per history "
                             "record (default half of --comparisons; 0 skips it; skipped with --quick)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="call benchtrail's decide() with this alpha instead of its default (for tuning)")
    parser.add_argument("--quick", action="store_true",
                        help="300 comparisons per condition and no variant table: a smoke run")
    parser.add_argument("--check", action="store_true", help="exit 1 when benchtrail misses a goal")
    args = parser.parse_args(argv)
    count = args.comparisons if args.comparisons is not None else (300 if args.quick else 10_000)
    otava_count = count if args.otava_comparisons is None else min(count, args.otava_comparisons)
    if count < 1 or args.workers < 1 or otava_count < 0 or (args.variant_comparisons or 0) < 0:
        parser.error("--comparisons and --workers must be >= 1, --otava-comparisons and "
                     "--variant-comparisons >= 0")
    chunk = min(CHUNK, max(1, math.ceil(count / 2)))
    variant_count = 0 if args.quick else (count // 2 if args.variant_comparisons is None
                                           else args.variant_comparisons)

    for line in describe_machine(args.workers):
        print(line)
    print(f"Mode: {'quick' if args.quick else 'full'}, {count:,} comparisons per condition "
          f"({f'Otava on {otava_count:,}' if HAVE_OTAVA else 'Otava not installed'}; {variant_count:,} in the "
          f"variant with 3 process-runs per record), "
          f"seed {args.seed}; benchtrail's decide() with alpha "
          f"{ALPHA if args.alpha is None else args.alpha}{'' if args.alpha is None else ' (not its default)'}")
    print(f"Histories: {RECORDS} records; run-to-run CV per condition; {OUTLIER_RATE:.0%} outlying runs "
          f"{OUTLIER_SCALE:.0f}x wider; drift uniform in ±{DRIFT:.2%}/record; {STEP_SHARE:.0%} with an older "
          f"±{STEP_SIZES[0]:.0%} step at records 1..{STEP_LAST_INDEX}; current runs at the last true level × "
          f"(1 + change). Lower is better.")
    print("benchtrail gets every run; the peers one value per record (its median) and the median of the "
          "current runs, except Otava, which gets the current runs appended as separate points.")

    counts = {1: count, 3: variant_count}
    variants = [rpr for rpr, n in counts.items() if n > 0]
    tasks = []
    for rpr in variants:
        for s_index, scenario in enumerate(scenarios()):
            for c_index, start in enumerate(range(0, counts[rpr], chunk)):
                size = min(chunk, counts[rpr] - start)
                with_otava = HAVE_OTAVA and start < min(otava_count, counts[rpr])
                tasks.append(((rpr, scenario), (scenario, rpr, size, args.seed, (rpr, s_index, c_index),
                                                with_otava, args.alpha)))
    tallies: dict[tuple[int, Scenario], Tally] = {key: Tally() for key, _ in tasks}
    started = time.perf_counter()
    if args.workers == 1:
        for key, task in tasks:
            tallies[key].add(run_chunk(*task))
    else:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(run_chunk, *task): key for key, task in tasks}
            for future in as_completed(futures):
                tallies[futures[future]].add(future.result())
    wall = time.perf_counter() - started

    groups = (("A/A, no change: false-alarm rate", [s for s in scenarios() if s.kind == "A/A"]),
              (f"A/B at CV {AB_CV:.0%}: detection rate", [s for s in scenarios() if s.kind == "A/B"]))
    for rpr in variants:
        by_scenario = {s: tallies[rpr, s] for s in scenarios()}
        print()
        print(f"=== {rpr} process-run{'s' if rpr > 1 else ''} per history record "
              f"(95 % interval half-width in points after ±) ===")
        for title, group in groups:
            print()
            for line in table(f"{title}, {counts[rpr]:,} comparisons each:", group, by_scenario):
                print(line)
        print()
        print("benchtrail's verdicts (share of comparisons), the median bar a change had to pass, and how often "
              "the confirmation path re-ran:")
        for _, group in groups:
            for line in benchtrail_mix(group, by_scenario):
                print(line)

    print()
    oracle_draws = 20_000 if args.quick else 200_000
    for line in oracle_lines(np.random.default_rng(np.random.SeedSequence(args.seed, spawn_key=(99,))),
                             oracle_draws):
        print(line)

    print()
    total = Tally()
    for t in tallies.values():
        total.add(t)
    print(f"Cost per decision (one history, one current side), median over {len(tasks)} tasks [min..max]:")
    for family in FAMILIES:
        values = total.chunk_ms.get(family, [])
        if values:
            print(f"  {family:<26}{statistics.median(values):8.3f} ms  [{min(values):.3f} .. {max(values):.3f}]")
    print(f"Wall time: {wall:.1f} s for {len(tasks)} tasks on {args.workers} worker(s)")
    if not HAVE_OTAVA:
        print("Warning: apache-otava is not installed, so Otava is left out: pip install apache-otava")

    main_tallies = {s: tallies[1, s] for s in scenarios()}
    aa3 = main_tallies[Scenario("A/A", 0.03, 0.0)]
    ab10 = main_tallies[Scenario("A/B", AB_CV, 0.10)]
    checks = [
        (f"A/A CV 3 %, 1 run: false alarms <= {GOAL_AA_FALSE_ALARMS:.0%}", aa3, ("benchtrail", 1), "<="),
        (f"A/A CV 3 %, 3 runs: false alarms <= {GOAL_AA_FALSE_ALARMS:.0%}", aa3, ("benchtrail", 3), "<="),
        (f"A/B +10 % at CV 3 %, 3 runs: detected >= {GOAL_AB_DETECTION:.0%}", ab10, ("benchtrail", 3), ">="),
    ]
    print()
    print("Goals for benchtrail (1 process-run per record):")
    ok = True
    for text, tally, key, op in checks:
        k, n = tally.alerts[key], tally.trials[key]
        p, half = wilson(k, n)
        met = p <= GOAL_AA_FALSE_ALARMS if op == "<=" else p >= GOAL_AB_DETECTION
        ok &= met
        print(f"  {text}: {p:.2%} ±{half * 100:.2f} -> {'PASS' if met else 'FAIL'}")
    confirm = CONFIRM[0], "1+2"
    for label, tally in (("A/A CV 3 % false alarms", aa3), ("A/B +10 % detected", ab10)):
        p, half = wilson(tally.alerts[confirm], tally.trials[confirm])
        print(f"  (info) confirmation path 1 -> 3, {label}: {p:.2%} ±{half * 100:.2f}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
