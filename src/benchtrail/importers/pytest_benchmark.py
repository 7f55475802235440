"""pytest-benchmark JSON (``--benchmark-json``, or a file ``--benchmark-save`` wrote)
into one record.

Each ``benchmarks[]`` entry becomes a benchmark named by its ``fullname`` (without the
``[param]`` suffix, which goes into ``params``) with two metrics:

- ``latency_ms``: a distribution of the per-call times. When the file holds the samples
  (``stats.data``: pytest-benchmark 5 writes them into ``--benchmark-json`` output, and
  into saved files with ``--benchmark-save-data``) everything is computed from them,
  exactly as ``benchtrail run`` does. Otherwise ``n`` = rounds, mean, stdev, min, max and
  p50 = median are pytest-benchmark's own figures, and the quantiles it did not keep are
  read off a line through (0, min), (0.25, q1), (0.5, median), (0.75, q3) and
  (1 - iqr_outliers/rounds, hd15iqr), the highest sample inside the 1.5 IQR fence.
  Above the last known point p90/p95/p99 and the sketch equal its value: a lower bound,
  since only outliers lie there (a line on to max overstated p90 tenfold and more on
  real timings, where max is one stray slow round). The benchmark gets a warning.
- ``throughput``: ``ops`` (calls per second, 1 / mean), higher is better.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchtrail.importers.base import (
    UNKNOWN,
    Context,
    Importer,
    benchmark,
    distribution,
    each_benchmark,
    environment,
    interpolated,
    ordered,
    record,
    rfc3339,
    single,
    source,
)
from benchtrail.importers.reader import Bad, Node, Problems, load_json
from benchtrail.results.model import Benchmark, Environment, Metric, Record, Source

__all__ = ["IMPORTER", "read"]

_MS = 1000.0
_NO_COMMIT = {"unversioned", "unknown", ""}
_NO_BRANCH = {"(unknown)", "(detached head)", ""}
_NO_SAMPLES = (
    "latency_ms: pytest-benchmark saved no samples (stats.data): p90, p95, p99 and the sketch "
    "are interpolated between min, q1, median, q3 and hd15iqr (when known), and above the "
    "last of these equal it (a lower bound); --benchmark-json or --benchmark-save-data keep "
    "the samples"
)


def _text(node: Node | None) -> str | None:
    return node.text() if node is not None else None


def _environment(doc: Node, context: Context) -> Environment:
    info = doc.opt("machine_info")
    packages = {"pytest-benchmark": version.text()} if (version := doc.opt("version")) else {}
    if info is None:
        return environment(context, packages=packages)
    cpu = info.opt("cpu")
    model = count = None
    if cpu is not None:
        brand = cpu.opt("brand_raw") or cpu.opt("brand")  # py-cpuinfo 9 / older
        model = _text(brand)
        count = cpu.get("count").integer(minimum=1) if cpu.opt("count") else None
    parts = [_text(info.opt(key)) for key in ("system", "release", "machine")]
    return environment(
        context,
        cpu_model=model or _text(info.opt("processor")),
        cpu_count=count,
        python=_text(info.opt("python_version")),
        platform="-".join(part for part in parts if part) or None,
        packages=packages,
    )


def _source(doc: Node) -> tuple[Source, bool]:
    info = doc.opt("commit_info")
    if info is None:
        return source(None), False
    commit = _text(info.opt("id"))
    branch = _text(info.opt("branch"))
    time = info.opt("time")
    dirty = info.opt("dirty")
    block = source(
        None if commit is None or commit.strip() in _NO_COMMIT else commit,
        time=rfc3339(time) if time is not None else None,
        ref=None if branch is None or branch.strip() in _NO_BRANCH else branch.strip(),
    )
    return block, dirty is not None and dirty.value is True


def _latency(stats: Node) -> tuple[Metric, list[str]]:
    data = stats.opt("data")
    if data is not None and data.items():
        samples = [item.number(minimum=0) for item in data.items()]
        return distribution(samples, _MS, "ms", "lower"), []
    figures = {key: stats.get(key).number(minimum=0)
               for key in ("min", "q1", "median", "q3", "max", "mean", "stddev")}
    rounds = stats.get("rounds").integer(minimum=1)
    ordered(stats, [(key, figures[key]) for key in ("min", "q1", "median", "q3", "max")])
    knots = [(0.0, figures["min"]), (0.25, figures["q1"]), (0.5, figures["median"]),
             (0.75, figures["q3"])]
    high, outliers = stats.opt("hd15iqr"), stats.opt("iqr_outliers")
    if high is not None and outliers is not None:
        fence_q = 1.0 - outliers.integer(minimum=0) / rounds
        fence_value = high.number(minimum=0)
        if fence_q > 0.75 and figures["q3"] <= fence_value <= figures["max"]:
            knots.append((fence_q, fence_value))
    scaled = [(q, value * _MS) for q, value in knots]
    metric = interpolated(scaled, n=rounds, mean=figures["mean"] * _MS,
                          stdev=figures["stddev"] * _MS, maximum=figures["max"] * _MS,
                          unit="ms", direction="lower")
    return metric, [_NO_SAMPLES]


def _benchmark(node: Node, dirty: bool) -> tuple[Benchmark, tuple[float, str | None]]:
    """The entry, and the seconds its rounds took and the timer it used."""
    fullname = node.opt("fullname") or node.get("name")
    name = fullname.text(nonempty=True)
    param = node.opt("param")
    params: dict[str, Any] = {}
    if (raw := node.opt("params")) is not None:
        params = {key: value.scalar() for key, value in raw.fields()}
    if params and param is not None and name.endswith(f"[{param.text()}]"):
        name = name[: -len(param.text()) - 2]
    stats = node.get("stats")
    latency, warnings = _latency(stats)
    metrics = {"latency_ms": latency}
    ops = stats.opt("ops")
    mean = stats.get("mean").number(minimum=0)
    if ops is not None:
        metrics["throughput"] = single("ops/s", "higher", ops.number(minimum=0))
    elif mean > 0:
        metrics["throughput"] = single("ops/s", "higher", 1.0 / mean)
    rounds = stats.get("rounds").integer(minimum=1)
    per_round = stats.get("iterations").integer(minimum=1) if stats.opt("iterations") else 1
    # stats.total sums the per-call times of the rounds: one round took per_round of them
    spent = stats.get("total").number(minimum=0) * per_round if stats.opt("total") else 0.0
    options = node.opt("options")
    timer = options.opt("timer") if options is not None else None
    if dirty:
        warnings.append("pytest-benchmark: measured with uncommitted changes (commit_info.dirty)")
    entry = benchmark(
        Node(name, fullname.path),
        target=f"pytest-benchmark: {fullname.text()}",
        params=params,
        metrics=metrics,
        calls=rounds * per_round,
        iterations=rounds * per_round,
        warnings=warnings,
    )
    return entry, (spent, timer.text() if timer is not None else None)


def read(path: Path, context: Context) -> list[Record]:
    """The one record of a pytest-benchmark JSON file."""
    doc = load_json(path)
    problems = Problems(str(path))
    parts: dict[str, Any] = {}
    for part, build in (("environment", lambda: _environment(doc, context)),
                        ("source", lambda: _source(doc)),
                        ("started", lambda: rfc3339(doc.get("datetime"), utc=True)
                         if doc.opt("datetime") else None)):
        try:
            parts[part] = build()
        except Bad as bad:
            problems.add(bad)
    dirty = parts.get("source", (None, False))[1]
    benchmarks, told = each_benchmark(problems, lambda: doc.get("benchmarks"), "benchmark",
                                      lambda node: _benchmark(node, dirty))
    problems.check()
    timers = [timer for _, timer in told if timer]
    return [record(context, benchmarks, source_block=parts["source"][0], environment_block=parts["environment"],
                   started_at=parts["started"], duration_s=sum(spent for spent, _ in told),
                   timer=timers[0] if timers else UNKNOWN)]


IMPORTER = Importer("pytest-benchmark", read)
