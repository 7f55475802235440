"""Score change-point detectors on CI-like histories with known steps: F1, precision, recall, time.

Series come from ``histories.py`` (same folder): one value per record, run-to-run CV of 1, 2, 3
or 5 %, 2 % of values outlying (4x wider noise), 0 to 4 steps of +-5, 10, 20 or 30 % at least
``MIN_GAP`` records apart, and a slow drift of up to +-``MAX_DRIFT`` per record. A detection
within +-``MARGIN`` records of a true change point is a true positive; each true point is
matched at most once. Three detectors see the same series:

  benchtrail   ``benchtrail.compare.changepoints.detect_change_points`` with its defaults
  otava        Apache Otava's ``otava.analysis.compute_change_points`` with its defaults
               (window 50, max p-value 0.001, min magnitude 0), as ``otava analyze`` runs it
  binseg-bic   binary segmentation of a Gaussian mean shift, BIC penalty ``2 sigma^2 log n``
               per change (R changepoint's ``cpt.mean(method="BinSeg", penalty="BIC")``),
               sigma from the MAD of successive differences, segments of 2 records or more

The series are split into ``--repeat`` blocks of different seeds; F1 is given over all series
and as the median over the blocks with its min..max.

    python tools/perf/bench_changepoints.py [--series 800] [--records 200] [--repeat 5]
                                            [--seed 0] [--quick] [--check]

Goal: benchtrail's F1 over all series is above both otava's and binseg-bic's.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from histories import bimodal_history, ci_history, random_steps, wandering_history

from benchtrail.bench.fingerprint import cpu_model
from benchtrail.compare.changepoints import detect_change_points

CVS = (0.01, 0.02, 0.03, 0.05)
SIZES = (0.05, 0.10, 0.20, 0.30, -0.05, -0.10, -0.20, -0.30)
MAX_STEPS = 4
MIN_GAP = 20
MAX_DRIFT = 2e-4  # 4 % over 200 records at most
OUTLIER_RATE = 0.02
OUTLIER_SCALE = 4.0
MARGIN = 5
LARGE_SPREAD = 0.10

Detector = Callable[[Sequence[float]], list[int]]


@dataclass(frozen=True)
class Score:
    """True positives, false positives, false negatives and seconds per series, summed."""

    tp: int
    fp: int
    fn: int
    times_s: tuple[float, ...] = ()

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                     self.times_s + other.times_s)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def match(found: Sequence[int], truth: Sequence[int], margin: int = MARGIN) -> tuple[int, int, int]:
    """(tp, fp, fn): pairs within ``margin``, closest first, each point used at most once."""
    pairs = sorted((abs(f - t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)
                   if abs(f - t) <= margin)
    used_f: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in pairs:
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
    tp = len(used_f)
    return tp, len(found) - tp, len(truth) - tp


def otava_detect(values: Sequence[float]) -> list[int]:
    """Apache Otava's change points with its defaults."""
    from otava.analysis import compute_change_points

    change_points, _ = compute_change_points(list(values))
    return sorted(int(cp.index) for cp in change_points)


def binseg_bic(values: Sequence[float], min_size: int = 2) -> list[int]:
    """Binary segmentation, Gaussian mean-shift cost, BIC penalty 2 sigma^2 log(n) per change."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    sigma = float(np.median(np.abs(np.diff(x)))) / (0.6745 * math.sqrt(2)) if n > 1 else 0.0
    if n < 2 * min_size or sigma == 0.0:
        return []
    penalty = 2.0 * sigma * sigma * math.log(n)
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])

    def cost(a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray:
        return (s2[b] - s2[a]) - (s1[b] - s1[a]) ** 2 / (b - a)

    found: list[int] = []
    todo = [(0, n)]
    while todo:
        a, b = todo.pop()
        if b - a < 2 * min_size:
            continue
        cuts = np.arange(a + min_size, b - min_size + 1)
        gain = cost(a, b) - cost(a, cuts) - cost(cuts, b)
        k = int(np.argmax(gain))
        if gain[k] > penalty:
            found.append(int(cuts[k]))
            todo += [(a, int(cuts[k])), (int(cuts[k]), b)]
    return sorted(found)


HAVE_OTAVA = importlib.util.find_spec("otava") is not None
DETECTORS: dict[str, Detector] = {
    "benchtrail": detect_change_points,
    **({"otava": otava_detect} if HAVE_OTAVA else {}),
    "binseg-bic": binseg_bic,
}


def make_series(seed: int, index: int, records: int) -> tuple[float, list[float], list[int]]:
    """Series ``index`` of the mix: (cv, values, true change points); its CV cycles over CVS."""
    rng = np.random.default_rng([seed, index])
    cv = CVS[index % len(CVS)]
    steps = random_steps(rng, records, count=int(rng.integers(0, MAX_STEPS + 1)), min_gap=MIN_GAP,
                         sizes=SIZES)
    history = ci_history(rng, records, cv=cv, outlier_rate=OUTLIER_RATE, outlier_scale=OUTLIER_SCALE,
                         drift=float(rng.uniform(-MAX_DRIFT, MAX_DRIFT)), steps=steps)
    return cv, history.medians, history.change_points


def score_all(seed: int, series: int, records: int, blocks: int) -> dict[str, dict[object, Score]]:
    """Per detector, a Score per CV, per block (``("block", k)``) and overall (``"all"``)."""
    scores: dict[str, dict[object, Score]] = {name: {} for name in DETECTORS}
    for detect in DETECTORS.values():
        detect([1.0, 2.0] * 20)  # warm up: imports, first calls
    for index in range(series):
        cv, values, truth = make_series(seed, index, records)
        for name, detect in DETECTORS.items():
            start = time.perf_counter()
            found = detect(values)
            elapsed = time.perf_counter() - start
            tp, fp, fn = match(found, truth)
            one = Score(tp, fp, fn, (elapsed,))
            for key in (cv, ("block", index * blocks // series), "all"):
                scores[name][key] = scores[name].get(key, Score(0, 0, 0)) + one
        if (index + 1) % max(1, series // 10) == 0:
            print(f"  {index + 1}/{series} series", file=sys.stderr, flush=True)
    return scores


#: series without a step: (label, AR(1) coefficient, trend per record as a largest |slope|)
NO_STEP = (("AR(1) phi 0.3", 0.3, 0.0), ("AR(1) phi 0.5", 0.5, 0.0), ("AR(1) phi 0.8", 0.8, 0.0),
           ("trend <= 0.1 %/record", 0.0, 1e-3), ("AR(1) 0.5 + trend", 0.5, 1e-3))


def false_alarms(seed: int, series: int, records: int) -> dict[str, float]:
    """Per detector, the share of pure-noise series (no step, no drift) with any detection."""
    hits = dict.fromkeys(DETECTORS, 0)
    for index in range(series):
        rng = np.random.default_rng([seed, 1_000_000 + index])
        values = ci_history(rng, records, cv=CVS[index % len(CVS)], outlier_rate=OUTLIER_RATE,
                            outlier_scale=OUTLIER_SCALE).medians
        for name, detect in DETECTORS.items():
            hits[name] += bool(detect(values))
    return {name: count / series for name, count in hits.items()}


def no_step_alarms(seed: int, series: int, records: int) -> dict[str, dict[str, float]]:
    """Per kind of series without a step (``NO_STEP``: noise that wanders, a slow trend), per
    detector, the share of series with any detection: every one is false."""
    shares: dict[str, dict[str, float]] = {}
    for number, (label, phi, max_slope) in enumerate(NO_STEP):
        hits = dict.fromkeys(DETECTORS, 0)
        for index in range(series):
            rng = np.random.default_rng([seed, 2_000_000 + 10_000 * number + index])
            values = wandering_history(rng, records, phi=phi, cv=CVS[index % len(CVS)],
                                       slope=float(rng.uniform(-max_slope, max_slope)))
            for name, detect in DETECTORS.items():
                hits[name] += bool(detect(values))
        shares[label] = {name: count / series for name, count in hits.items()}
    return shares


def bimodal_alarms(seed: int, series: int, records: int) -> dict[str, dict[str, float]]:
    """Per detector, on bimodal series (``bimodal_history``): the share of series whose mix
    alone changes that get any change point (all false), and the share of series with one
    real step of both modes (x1.3 or x0.7, in the middle half) where it is found within the
    margin, with nothing else."""
    false = dict.fromkeys(DETECTORS, 0)
    found = dict.fromkeys(DETECTORS, 0)
    for index in range(series):
        rng = np.random.default_rng([seed, 3_000_000 + index])
        mixed = bimodal_history(rng, records)
        at = int(rng.integers(records // 4, 3 * records // 4))
        stepped = bimodal_history(rng, records, step_at=at, step=1.3 if index % 2 else 0.7)
        for name, detect in DETECTORS.items():
            false[name] += bool(detect(mixed))
            cuts = detect(stepped)
            found[name] += len(cuts) == 1 and abs(cuts[0] - at) <= MARGIN
    return {"mix changes only: any change point": {name: count / series for name, count in false.items()},
            "one real step: found, nothing else": {name: count / series for name, count in found.items()}}


def describe_machine() -> list[str]:
    """Machine, Python, exact command and versions: the report's header lines."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"Machine: {cpu_model()}, {os.cpu_count()} cores ({usable} usable), {platform.platform()}",
        f"Python: {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"Command: {shlex.join([sys.executable, *sys.argv])}",
        f"Versions: numpy {np.__version__}, apache-otava "
        + (metadata.version("apache-otava") if HAVE_OTAVA else "not installed: pip install apache-otava"),
    ]


def format_report(scores: dict[str, dict[object, Score]], blocks: int) -> tuple[list[str], list[str]]:
    """The table lines (per CV, overall, per-block median F1, time) and the warnings."""
    lines = [f"  {'detector':<12}{'CV':>6}{'F1':>8}{'prec':>8}{'recall':>8}{'tp':>6}{'fp':>6}{'fn':>6}"]
    for name, by_key in scores.items():
        for key in [*CVS, "all"]:
            s = by_key[key]
            label = f"{key:.0%}" if isinstance(key, float) else key
            lines.append(f"  {name:<12}{label:>6}{s.f1:>8.3f}{s.precision:>8.3f}{s.recall:>8.3f}"
                         f"{s.tp:>6}{s.fp:>6}{s.fn:>6}")
    lines += ["", f"F1 per block of seeds, median [min..max] over {blocks}; time per series, median [max]:"]
    warnings = []
    for name, by_key in scores.items():
        f1s = [by_key[("block", k)].f1 for k in range(blocks) if ("block", k) in by_key]
        times_ms = [1e3 * t for t in by_key["all"].times_s]
        median_f1 = statistics.median(f1s)
        lines.append(f"  {name:<12} F1 {median_f1:.3f} [{min(f1s):.3f}..{max(f1s):.3f}]"
                     f"   {statistics.median(times_ms):8.2f} ms [{max(times_ms):.2f}]")
        if len(f1s) > 1 and median_f1 and (max(f1s) - min(f1s)) / median_f1 > LARGE_SPREAD:
            warnings.append(f"{name}: F1 spreads {(max(f1s) - min(f1s)) / median_f1:.0%} over the "
                            "blocks: use more series for a firm ranking")
    return lines, warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=None, help="step series (default 800; 24 with --quick)")
    parser.add_argument("--records", type=int, default=None, help="records per series (default 200; 120 quick)")
    parser.add_argument("--repeat", type=int, default=None, help="blocks of seeds (default 5; 2 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the series (default 0)")
    parser.add_argument("--quick", action="store_true", help="a few seconds in all: for a smoke test")
    parser.add_argument("--check", action="store_true", help="exit 1 when benchtrail's F1 is not the best")
    args = parser.parse_args(argv)
    series = args.series or (24 if args.quick else 800)
    records = args.records or (120 if args.quick else 200)
    blocks = args.repeat or (2 if args.quick else 5)
    for line in describe_machine():
        print(line)
    print(f"Series: {series} x {records} records, CV {', '.join(f'{c:.0%}' for c in CVS)}, "
          f"{OUTLIER_RATE:.0%} outliers x{OUTLIER_SCALE:g}, 0-{MAX_STEPS} steps of "
          f"+-5/10/20/30 % >= {MIN_GAP} apart, drift <= +-{MAX_DRIFT:g}/record, seed {args.seed}")
    print(f"Margin: +-{MARGIN} records")
    print()
    scores = score_all(args.seed, series, records, blocks)
    lines, warnings = format_report(scores, blocks)
    for line in lines:
        print(line)
    noise = false_alarms(args.seed, max(series // 2, 8), records)
    print()
    print(f"Pure noise ({max(series // 2, 8)} series, no step, no drift): share with any detection")
    for name, share in noise.items():
        print(f"  {name:<12}{share:>8.1%}")
    no_step_series = max(series // 4, 8)
    wandering = no_step_alarms(args.seed, no_step_series, records)
    print()
    print(f"No step, but noise that wanders or a slow trend ({no_step_series} series each, CV 1-5 %): "
          "share with any detection (all false)")
    print(f"  {'series':<24}" + "".join(f"{name:>12}" for name in DETECTORS))
    for label, shares in wandering.items():
        print(f"  {label:<24}" + "".join(f"{shares[name]:>12.1%}" for name in DETECTORS))
    worst = max(shares["benchtrail"] for shares in wandering.values())
    print(f"Goal: benchtrail finds a change point in at most 5 % of them, each kind: worst {worst:.1%} -> "
          f"{'met' if worst <= 0.05 else 'MISSED'}")
    bimodal_series = max(series // 4, 8)
    bimodal = bimodal_alarms(args.seed, bimodal_series, records)
    print()
    print(f"Bimodal series ({bimodal_series} each; modes 25 and 60, the share of the high one drawn anew "
          "every 5-60 records):")
    print(f"  {'series':<40}" + "".join(f"{name:>12}" for name in DETECTORS))
    for label, shares in bimodal.items():
        print(f"  {label:<40}" + "".join(f"{shares[name]:>12.1%}" for name in DETECTORS))
    ours = scores["benchtrail"]["all"].f1
    others = {name: by_key["all"].f1 for name, by_key in scores.items() if name != "benchtrail"}
    ok = all(ours > f1 for f1 in others.values())
    verdict = "met" if ok else "MISSED"
    if args.quick:
        verdict += " (quick runs are too small to judge)"
    print()
    print(f"Goal: benchtrail F1 {ours:.3f} above " + ", ".join(f"{k} {v:.3f}" for k, v in others.items())
          + f" -> {verdict}")
    if not HAVE_OTAVA:
        warnings.append("apache-otava is not installed, so otava is left out: pip install apache-otava")
    for warning in warnings:
        print(f"Warning: {warning}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
