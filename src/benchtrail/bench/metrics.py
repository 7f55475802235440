"""Turn the worker runs of one benchmark into the record's benchmark entry.

Latencies of all runs are pooled into one distribution; every metric also keeps
``runs``, each worker process's headline value (p50 for a latency, the value
otherwise), the unit that regression decisions are made on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchtrail.bench.suite import BenchmarkSpec
from benchtrail.bench.summary import spread_warning, summarize

__all__ = ["WorkerRun", "benchmark_entry", "tidy"]

_NS_PER_MS = 1e-6


@dataclass(frozen=True)
class WorkerRun:
    latencies_ns: Any  # numpy int64 array of the successful calls
    figures: dict[str, Any]  # what the worker wrote next to them


def tidy(value: Any) -> Any:
    """Drop float noise (0.000831 rather than 0.0008309999999999999): 10 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, list):
        return [tidy(item) for item in value]
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    return value


def _single(unit: str, direction: str, values: list[float], value: float) -> dict[str, Any]:
    return {"unit": unit, "direction": direction, "value": value, "runs": values}


def _per_item(runs: list[WorkerRun], key: str, scale: float) -> tuple[list[float], float] | None:
    pairs = [(r.figures[key], r.figures["items"]) for r in runs if r.figures.get(key) is not None and r.figures["items"]]
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


def benchmark_entry(spec: BenchmarkSpec, runs: list[WorkerRun]) -> dict[str, Any]:
    """The ``benchmarks[]`` entry for ``spec`` measured in ``runs``."""
    import numpy as np

    figures = [r.figures for r in runs]
    calls = sum(f["calls"] for f in figures)
    errors = sum(f["errors"] for f in figures)
    timeouts = sum(f["timeouts"] for f in figures)
    samples: list[str] = []
    for f in figures:
        for message in f.get("error_samples", []):
            if message not in samples:
                samples.append(message)
    metrics: dict[str, Any] = {}
    warnings: list[str] = []

    measured = [r for r in runs if len(r.latencies_ns)]
    if measured:
        pooled = np.concatenate([r.latencies_ns for r in measured])
        latency = summarize(pooled, _NS_PER_MS)
        if latency["min"] <= 0:
            warnings.append("latency_ms: a call measured zero time: the timer is too coarse for this target")
        latency.update(unit="ms", direction="lower",
                       runs=[float(np.median(r.latencies_ns)) * _NS_PER_MS for r in measured])
        metrics["latency_ms"] = latency
        if warning := spread_warning(latency["runs"], "latency_ms p50"):
            warnings.append(warning)
        wall = sum(f["wall_s"] for f in figures)
        items = sum(f["items"] for f in figures)
        metrics["throughput"] = _single("items/s", "higher", [f["items"] / f["wall_s"] for f in figures], items / wall)
    peaks = [f["peak_rss_mb"] for f in figures]
    metrics["peak_rss_mb"] = _single("MB", "lower", peaks, max(peaks))
    if cpu := _per_item(runs, "cpu_s", 1000.0):
        metrics["cpu_ms_per_item"] = _single("ms", "lower", *cpu)
    # A GPU figure is kept only when every run has it: a mean over some runs would
    # not be comparable with the next record's. Utilization and power are missing
    # where the board does not report them.
    if all(f.get("gpu_peak_memory_mb") is not None for f in figures):
        gpu_peaks = [f["gpu_peak_memory_mb"] for f in figures]
        metrics["gpu_peak_memory_mb"] = _single("MB", "lower", gpu_peaks, max(gpu_peaks))
        for key, unit in (("gpu_utilization_pct", "%"), ("gpu_power_w", "W")):
            values = [f.get(key) for f in figures]
            if any(value is None for value in values):
                continue
            direction = "higher" if key == "gpu_utilization_pct" else "lower"
            metrics[key] = _single(unit, direction, values, sum(values) / len(values))
        if all(f.get("gpu_energy_j") is not None for f in figures):
            if energy := _per_item(runs, "gpu_energy_j", 1.0):
                metrics["gpu_energy_j_per_item"] = _single("J", "lower", *energy)

    if errors or timeouts:
        warnings.append(f"{errors} errors and {timeouts} timeouts in {calls} calls")
    entry: dict[str, Any] = {
        "name": spec.name,
        "params": dict(spec.params),
        "kind": spec.kind,
        "target": spec.target if spec.kind == "callable" else _shown_url(spec.url or ""),
        "warmup": spec.warmup,
        "iterations": max(f["calls"] for f in figures),
        "runs": len(runs),
        "calls": calls,
        "errors": errors,
        "timeouts": timeouts,
        "metrics": metrics,
    }
    if spec.duration_s is not None:
        entry["duration_s"] = spec.duration_s
    entry["metrics"] = {name: {key: tidy(value) for key, value in metric.items()}
                        for name, metric in metrics.items()}
    if samples:
        entry["error_samples"] = samples[:5]
    if warnings:
        entry["warnings"] = warnings
    return entry
