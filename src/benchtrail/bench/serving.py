"""An LLM server's figures: token latencies, token and request rates, goodput.

An ``openai`` benchmark's worker keeps, per successful request, its time to first token,
its end-to-end latency, its output tokens and content chunks, and pools the gaps between
chunks and its own event loop's lag (``bench.openai``); this module carries those arrays
from the worker to the runner (one ``.npz`` file) and turns the runs into the record's
metrics, with vLLM's names and definitions (``docs/suite-file.md`` lists the other tools'
names for each):

- ``ttft_ms``: first content-bearing chunk minus the request's send time; in open loop also
  ``ttft_sched_ms``, from its *scheduled* start, so a client that falls behind cannot hide
  the queueing;
- ``tpot_ms``: (end-to-end − TTFT) / (output tokens − 1), per request with 2 tokens or more;
- ``itl_ms``: every gap between consecutive chunks, pooled;
- ``request_latency_ms``: end to end;
- ``output_throughput`` (tokens/s) and ``request_throughput`` (requests/s) over the measured
  window, first send to last completion;
- with objectives (``slo``): ``goodput``, the requests/s that met every one, and
  ``slo_<objective>_pct``, the share of the measured requests (failed ones included) that
  met each one.

Each metric's ``runs`` holds one value per worker process (a distribution's p50), as for
every other kind, so compare, note and report treat them alike.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail.bench.measurement import Measurement
from benchtrail.results.model import Distribution, Metric, tidy

__all__ = ["ServingFigures", "as_measurement", "load_streams", "save_streams", "serving_figures"]

_NS_PER_MS = 1e-6
#: the client's own lag (p99, ms) past which its figures say it could not keep up
_LAG_LIMIT_MS = 1.0
_ARRAYS = ("sent_ns", "ttft_ns", "ttft_sched_ns", "e2e_ns", "output_tokens", "chunks", "done_ns", "itl_ns",
           "lag_ns")
#: objective -> what a request is held to
_OBJECTIVES = {"ttft_ms": "ttft", "tpot_ms": "tpot", "request_latency_ms": "e2e"}


def as_measurement(streamed: Any) -> tuple[Measurement, dict[str, Any]]:
    """A ``bench.openai.StreamMeasurement`` as every kind's ``Measurement`` (latency: end
    to end; items: output tokens), and its arrays for ``save_streams``."""
    import numpy as np

    streams: dict[str, Any] = {name: np.asarray(getattr(streamed, name), dtype=np.int64) for name in _ARRAYS}
    streams["usage_counted"] = np.int64(streamed.usage_counted)
    streams["open_loop"] = np.int64(bool(streamed.open_loop))
    streams["wall_ns"] = np.int64(streamed.wall_ns)
    measurement = Measurement(
        latencies_ns=array("q", streams["e2e_ns"].tolist()), tally=streamed.tally,
        items=int(streams["output_tokens"].sum()), wall_ns=int(streamed.wall_ns),
        completions_ns=array("q", (streams["done_ns"] + streamed.start_ns).tolist()), start_ns=int(streamed.start_ns))
    return measurement, streams


def save_streams(path: str | Path, streams: Mapping[str, Any]) -> None:
    import numpy as np

    with open(path, "wb") as handle:
        np.savez(handle, **streams)


def load_streams(path: str | Path) -> dict[str, Any]:
    import numpy as np

    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@dataclass(frozen=True)
class ServingFigures:
    """What the record's benchmark gets from its runs' token timings."""

    metrics: dict[str, Metric]
    tokens: dict[str, Any]
    client: dict[str, float]
    warnings: tuple[str, ...]


def _tpot_ns(streams: Mapping[str, Any]) -> Any:
    """Each request's time per output token after the first; a request of one token has
    none (nan), as in vLLM."""
    import numpy as np

    tokens = streams["output_tokens"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tokens > 1, (streams["e2e_ns"] - streams["ttft_ns"]) / (tokens - 1), np.nan)


def _distribution(name: str, per_run: list[Any]) -> Metric | None:
    """A latency metric pooled over the runs (ns arrays); ``runs``: each run's p50."""
    import numpy as np

    measured = [values[~np.isnan(values)] if values.dtype.kind == "f" else values for values in per_run]
    measured = [values for values in measured if len(values)]
    if not measured:
        return None
    pooled = np.concatenate(measured).astype(np.float64)
    return Metric("ms", "lower", distribution=Distribution.of(pooled, _NS_PER_MS),
                  runs=tuple(tidy([float(np.median(values)) * _NS_PER_MS for values in measured])))


def _rate(unit: str, counts: list[float], walls_s: list[float]) -> Metric | None:
    """Counts per second of each run, and of all runs over their summed windows."""
    pairs = [(count, wall) for count, wall in zip(counts, walls_s) if wall > 0]
    if not pairs:
        return None
    total = sum(count for count, _ in pairs) / sum(wall for _, wall in pairs)
    return Metric(unit, "higher", tidy(total), runs=tuple(tidy([count / wall for count, wall in pairs])))


def _met(streams: Mapping[str, Any], objective: str, limit_ms: float) -> Any:
    """Which successful requests met ``objective`` (a boolean array)."""
    import numpy as np

    limit_ns = limit_ms / _NS_PER_MS
    if objective == "tpot_ms":
        values = _tpot_ns(streams)
        return np.isnan(values) | (values <= limit_ns)  # one token: no time per output token to miss
    return streams[_OBJECTIVES[objective] + "_ns"] <= limit_ns


def serving_figures(runs: list[tuple[Mapping[str, Any], int]], slo: Mapping[str, float]) -> ServingFigures:
    """The serving metrics of an ``openai`` benchmark's ``runs`` (each: its streams and
    its measured requests, failed ones included) under the objectives ``slo`` (ms)."""
    import numpy as np

    metrics: dict[str, Metric] = {}
    open_loop = any(bool(streams["open_loop"]) for streams, _ in runs)
    latencies = {"ttft_ms": [s["ttft_ns"] for s, _ in runs]}
    if open_loop:
        latencies["ttft_sched_ms"] = [s["ttft_sched_ns"] for s, _ in runs]
    latencies.update(tpot_ms=[_tpot_ns(s) for s, _ in runs], itl_ms=[s["itl_ns"] for s, _ in runs],
                     request_latency_ms=[s["e2e_ns"] for s, _ in runs])
    for name, per_run in latencies.items():
        if metric := _distribution(name, per_run):
            metrics[name] = metric
    walls_s = [float(s["wall_ns"]) / 1e9 for s, _ in runs]
    rates = {"output_throughput": ("tokens/s", [float(s["output_tokens"].sum()) for s, _ in runs]),
             "request_throughput": ("requests/s", [float(len(s["e2e_ns"])) for s, _ in runs])}
    if slo:
        good = [np.ones(len(s["e2e_ns"]), dtype=bool) for s, _ in runs]
        for objective, limit in slo.items():
            met = [_met(s, objective, limit) for s, _ in runs]
            good = [g & m for g, m in zip(good, met)]
            shares = [100.0 * int(m.sum()) / requests for m, (_, requests) in zip(met, runs) if requests]
            if shares:
                total = 100.0 * sum(int(m.sum()) for m in met) / max(1, sum(r for _, r in runs))
                metrics[f"slo_{objective}_pct"] = Metric("%", "higher", tidy(total), runs=tuple(tidy(shares)))
        rates["goodput"] = ("requests/s", [float(g.sum()) for g in good])
    for name, (unit, counts) in rates.items():
        if metric := _rate(unit, counts, walls_s):
            metrics[name] = metric

    tokens = int(sum(int(s["output_tokens"].sum()) for s, _ in runs))
    chunks = int(sum(int(s["chunks"].sum()) for s, _ in runs))
    answered = sum(len(s["e2e_ns"]) for s, _ in runs)
    from_usage = sum(int(s["usage_counted"]) for s, _ in runs)
    counted_from = "usage" if from_usage == answered else "chunks" if from_usage == 0 else "mixed"
    lag = np.concatenate([s["lag_ns"] for s, _ in runs]).astype(np.float64) * _NS_PER_MS
    client = ({"lag_p99_ms": tidy(float(np.quantile(lag, 0.99))), "lag_max_ms": tidy(float(lag.max()))}
              if len(lag) else {})
    warnings = []
    if client and client["lag_p99_ms"] > _LAG_LIMIT_MS:
        warnings.append(f"the client could not keep up: its event loop ran {client['lag_p99_ms']:.2f} ms late at p99 "
                        f"(limit {_LAG_LIMIT_MS:g} ms), and its token timings include that delay; measure fewer "
                        f"streams per run, or on a runner with more cores")
    return ServingFigures(metrics, {"counted_from": counted_from, "per_chunk": tidy(tokens / chunks) if chunks else 0.0},
                          client, tuple(warnings))
