"""Turn the worker runs of one benchmark into the record's benchmark entry.

Latencies of all runs are pooled into one distribution; every metric also keeps
``runs``, each worker process's value (p50 for a latency, the robust rate for the
throughput, the value otherwise), the unit that regression decisions are made on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchtrail.bench.serving import serving_figures
from benchtrail.bench.suite import BenchmarkSpec
from benchtrail.bench.summary import spread_warning
from benchtrail.results.model import Benchmark, Distribution, Metric, Threads, Timer, tidy

__all__ = ["WorkerFigures", "WorkerRun", "benchmark_entry", "robust_rate"]

_NS_PER_MS = 1e-6
#: slices of a run's calls; the throughput is the rate over the middle ones
_SLICES = 10


@dataclass(frozen=True)
class WorkerFigures:
    """What one worker process hands the runner besides the latencies (its JSON file)."""

    calls: int
    errors: int
    timeouts: int
    error_samples: tuple[str, ...]
    #: items processed by successful calls
    items: int
    wall_s: float
    cpu_s: float | None
    timer: Timer
    peak_rss_mb: float
    #: the dataset's content hash and rows, when the benchmark read one
    dataset_sha256: str | None = None
    dataset_rows: int | None = None
    gpu_peak_memory_mb: float | None = None
    gpu_utilization_pct: float | None = None
    gpu_power_w: float | None = None
    gpu_energy_j: float | None = None
    #: the BLAS/OpenMP thread settings after warm-up (``None``: not read, e.g. an HTTP benchmark)
    threads: Threads | None = None
    #: failed calls by kind, where the load names them (``Tally.kinds``)
    error_kinds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkerFigures:
        fields = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        threads = Threads.from_json(data["threads"]) if data.get("threads") is not None else None
        return cls(**{**fields, "error_samples": tuple(data["error_samples"]), "timer": Timer(**data["timer"]),
                      "threads": threads})

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "threads": self.threads.to_json() if self.threads is not None else None}


@dataclass(frozen=True)
class WorkerRun:
    latencies_ns: Any  # numpy int64 array of the successful calls
    figures: WorkerFigures
    #: numpy int64 array: when each successful call completed, ns from the measured start
    #: (None where unknown: the throughput is then items over wall time)
    completions_ns: Any = None
    #: an ``openai`` run's per-request token timings (``bench.serving``), else None
    streams: dict[str, Any] | None = None


def robust_rate(completions_ns: Any, items: int, concurrency: int = 1) -> float | None:
    """Items/s of one run that a stall or two cannot move: the rate over the middle six of
    ten slices of consecutive completions (``completions_ns``: ns from the measured start,
    any order), the two slowest and the two fastest slices set aside.

    Slices hold (nearly) equal numbers of calls, not equal time: a stall then inflates one
    slice, however long it lasts, while a change in every call (or in most slices) moves
    the rate. Six slices of ten, not the median one, keep most of the run's precision (a
    busy runner's scheduling makes single slices noisy). Slice ends fall on multiples of
    ``concurrency`` calls, so that threads finishing together are not split; with fewer
    than ten calls per thread there are fewer slices (under five, the middle one or two
    count). ``items`` are shared evenly by the completions. None without a full slice
    (fewer calls than ``concurrency``) or without items.
    """
    import numpy as np

    done = np.sort(np.asarray(completions_ns, dtype=np.int64))
    rounds = len(done) // concurrency
    slices = min(_SLICES, rounds)
    if not slices or not items:
        return None
    bounds = np.arange(1, slices + 1) * rounds // slices * concurrency  # calls done at each slice's end
    durations_ns = np.maximum(np.diff(done[bounds - 1], prepend=0), 1)  # a zero would be an infinite rate
    calls = np.diff(bounds, prepend=0)
    # set aside from each end: two of ten; of fewer than five, all but the middle
    trim = slices // 5 if slices >= 5 else (slices - 1) // 2
    middle = np.argsort(calls / durations_ns)[trim:slices - trim]
    return float(calls[middle].sum() / durations_ns[middle].sum()) * 1e9 * items / len(done)


def _run_throughput(run: WorkerRun, spec: BenchmarkSpec) -> float:
    """The run's robust rate; items over wall time for an open loop, whose arrivals are
    fixed in advance (a stall is caught up afterwards, and slicing would only add the
    arrivals' noise), and where completion times are unknown."""
    figures = run.figures
    if spec.rate is None and run.completions_ns is not None:
        rate = robust_rate(run.completions_ns, figures.items, spec.concurrency)
        if rate is not None:
            return rate
    return figures.items / figures.wall_s


def _single(unit: str, direction: str, values: list[float], value: float) -> Metric:
    return Metric(unit, direction, tidy(value), runs=tuple(tidy(values)))


def _per_item(runs: list[WorkerRun], key: str, scale: float) -> tuple[list[float], float] | None:
    pairs = [(getattr(r.figures, key), r.figures.items) for r in runs
             if getattr(r.figures, key) is not None and r.figures.items]
    if not pairs:
        return None
    per_run = [amount * scale / items for amount, items in pairs]
    total = sum(a for a, _ in pairs) * scale / sum(i for _, i in pairs)
    return per_run, total


def _shown_url(url: str) -> str:
    """``url`` without user:password, query string and fragment: a record is public."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _requested(spec: BenchmarkSpec) -> str:
    """The URL the requests went to: a KServe model's infer endpoint under the server's root."""
    if spec.kind == "kserve-v2":
        from benchtrail.bench.kserve import infer_url

        return infer_url(spec.url or "", spec.model or "", spec.model_version)
    return spec.url or ""


def benchmark_entry(spec: BenchmarkSpec, runs: list[WorkerRun]) -> Benchmark:
    """The record's benchmark for ``spec`` measured in ``runs`` (its dataset is added by
    the runner, which knows where the suite file is)."""
    import numpy as np

    figures = [r.figures for r in runs]
    calls = sum(f.calls for f in figures)
    errors = sum(f.errors for f in figures)
    timeouts = sum(f.timeouts for f in figures)
    samples: list[str] = []
    for f in figures:
        for message in f.error_samples:
            if message not in samples:
                samples.append(message)
    metrics: dict[str, Metric] = {}
    warnings: list[str] = []

    measured = [r for r in runs if len(r.latencies_ns)]
    serving = None
    if spec.kind == "openai" and all(r.streams is not None for r in runs):
        serving = serving_figures([(r.streams, r.figures.calls) for r in runs], spec.slo)  # type: ignore[misc]
        metrics.update(serving.metrics)
        warnings += serving.warnings
    elif measured:
        pooled = np.concatenate([r.latencies_ns for r in measured])
        distribution = Distribution.of(pooled, _NS_PER_MS)
        if distribution.min <= 0:
            warnings.append("latency_ms: a call measured zero time: the timer is too coarse for this target")
        run_p50s = [float(np.median(r.latencies_ns)) * _NS_PER_MS for r in measured]
        metrics["latency_ms"] = Metric("ms", "lower", distribution=distribution, runs=tuple(tidy(run_p50s)))
        if warning := spread_warning(run_p50s, "latency_ms p50"):
            warnings.append(warning)
        wall = sum(f.wall_s for f in figures)
        items = sum(f.items for f in figures)
        # The value is what the runs achieved over their whole wall time, stalls included;
        # each run's entry (what is decided on) is its robust rate.
        metrics["throughput"] = _single("items/s", "higher", [_run_throughput(r, spec) for r in runs],
                                        items / wall)
    peaks = [f.peak_rss_mb for f in figures]
    metrics["peak_rss_mb"] = _single("MB", "lower", peaks, max(peaks))
    if cpu := _per_item(runs, "cpu_s", 1000.0):
        metrics["cpu_ms_per_item"] = _single("ms", "lower", *cpu)
    # A GPU figure is kept only when every run has it: a mean over some runs would
    # not be comparable with the next record's. Utilization and power are missing
    # where the board does not report them.
    if all(f.gpu_peak_memory_mb is not None for f in figures):
        gpu_peaks = [float(f.gpu_peak_memory_mb or 0.0) for f in figures]
        metrics["gpu_peak_memory_mb"] = _single("MB", "lower", gpu_peaks, max(gpu_peaks))
        for key, unit in (("gpu_utilization_pct", "%"), ("gpu_power_w", "W")):
            values = [getattr(f, key) for f in figures]
            if any(value is None for value in values):
                continue
            direction = "higher" if key == "gpu_utilization_pct" else "lower"
            metrics[key] = _single(unit, direction, values, sum(values) / len(values))
        if all(f.gpu_energy_j is not None for f in figures):
            if energy := _per_item(runs, "gpu_energy_j", 1.0):
                metrics["gpu_energy_j_per_item"] = _single("J", "lower", *energy)

    if errors or timeouts:
        first = f"; the first: {samples[0]}" if samples else ""
        if errors + timeouts == calls:
            warnings.append(f"every call failed ({errors} errors and {timeouts} timeouts in {calls} calls){first}")
        else:
            warnings.append(f"{errors} errors and {timeouts} timeouts in {calls} calls{first}")
    kinds: dict[str, int] = {}
    for f in figures:
        for kind, count in f.error_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    return Benchmark(
        error_kinds=kinds or None, client=(serving.client or None) if serving else None,
        tokens=serving.tokens if serving else None,
        name=spec.name, kind=spec.kind, metrics=metrics, calls=calls, errors=errors, timeouts=timeouts,
        params=dict(spec.params), target=spec.target if spec.kind == "callable" else _shown_url(_requested(spec)),
        warmup=spec.warmup, iterations=max(f.calls for f in figures), duration_s=spec.duration_s, runs=len(runs),
        error_samples=tuple(samples[:5]) or None, warnings=tuple(warnings) or None)
