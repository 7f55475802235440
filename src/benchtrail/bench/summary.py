"""Distribution summaries: what a record keeps of a list of latencies."""

from __future__ import annotations

from typing import Any

from benchtrail.results.schema import SKETCH_QUANTILES

__all__ = ["summarize", "spread_warning"]

_PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
#: pyperf's threshold: a spread this large means the figures are unstable.
_LARGE_SPREAD = 0.10


def summarize(samples: Any, scale: float = 1.0) -> dict[str, Any]:
    """n, mean, stdev, min, p50, p90, p95, p99, max and the fixed-quantile sketch of
    ``samples`` (any non-empty sequence of numbers) multiplied by ``scale``.

    Quantiles interpolate linearly between order statistics; stdev is the sample
    standard deviation (0 for one sample).
    """
    import numpy as np

    values = np.asarray(samples, dtype=np.float64) * scale
    if values.size == 0:
        raise ValueError("cannot summarize an empty sample")
    quantiles = np.quantile(values, [*_PERCENTILES.values(), *SKETCH_QUANTILES])
    summary: dict[str, Any] = {
        "n": int(values.size),
        "mean": float(values.mean()),
        "stdev": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
    }
    for key, value in zip(_PERCENTILES, quantiles[: len(_PERCENTILES)]):
        summary[key] = float(value)
    summary["sketch"] = {
        "quantiles": list(SKETCH_QUANTILES),
        "values": [float(v) for v in quantiles[len(_PERCENTILES):]],
    }
    return summary


def spread_warning(run_values: list[float], what: str) -> str | None:
    """A warning when the worker runs' headline values differ by 10 % of their mean or
    more: the figures then depend on which process measured them."""
    import statistics

    if len(run_values) < 2:
        return None
    mean = statistics.fmean(run_values)
    stdev = statistics.stdev(run_values)
    if mean > 0 and stdev >= _LARGE_SPREAD * mean:
        return f"{what}: the runs differ by {stdev / mean:.0%} of their mean (stdev): the figures may be unstable"
    return None
