"""The result record as typed values: frozen dataclasses, JSON only at the file boundary.

``Record.from_json`` takes a record that passed the schema (``results.schema``) and
``Record.to_json`` gives back the same JSON, key for key, so a record read and written
again keeps its bytes. Everything a record is known by lives here once: its file name,
its path on the results branch, its commit key, its parsed start time and every
benchmark's label. The harness and the importers both build records through this model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from benchtrail.results.schema import SCHEMA_ID, SKETCH_QUANTILES
from benchtrail.results.threads import ThreadPool, Threads
from benchtrail.results.timestamps import parse_time

__all__ = [
    "PERCENTILES",
    "RESULTS_FOLDER",
    "SCHEMA_ID",
    "SKETCH_QUANTILES",
    "Benchmark",
    "DatasetRef",
    "Distribution",
    "Environment",
    "Gpu",
    "Hardware",
    "Image",
    "Metric",
    "Record",
    "Run",
    "Source",
    "ThreadPool",
    "Threads",
    "Timer",
    "benchmark_label",
    "suite_folder",
    "tidy",
]

#: the percentiles a distribution names, and their quantiles
PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


def benchmark_label(name: str, params: Mapping[str, Any]) -> str:
    """``name[key=value,...]``, the way a benchmark is shown and matched everywhere."""
    if not params:
        return name
    return f"{name}[{','.join(f'{k}={v}' for k, v in sorted(params.items()))}]"


def tidy(value: Any) -> Any:
    """Drop float noise (0.000831 rather than 0.0008309999999999999): 10 significant
    digits, in a float or in the floats of a list or tuple."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, (list, tuple)):
        return type(value)(tidy(item) for item in value)
    return value


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Distribution:
    """A latency distribution's summary and its sketch (values at ``SKETCH_QUANTILES``)."""

    n: int
    mean: float
    stdev: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    sketch: tuple[float, ...]

    @classmethod
    def of(cls, samples: Any, scale: float = 1.0) -> Distribution:
        """The summary of ``samples`` (any non-empty sequence of numbers) times ``scale``.

        Quantiles interpolate linearly between order statistics; stdev is the sample
        standard deviation (0 for one sample); every figure keeps 10 significant digits."""
        import numpy as np

        values = np.asarray(samples, dtype=np.float64) * scale
        if values.size == 0:
            raise ValueError("cannot summarize an empty sample")
        quantiles = tidy([float(v) for v in np.quantile(values, [*PERCENTILES.values(), *SKETCH_QUANTILES])])
        named = dict(zip(PERCENTILES, quantiles[: len(PERCENTILES)]))
        return cls(n=int(values.size), mean=tidy(float(values.mean())),
                   stdev=tidy(float(values.std(ddof=1))) if values.size > 1 else 0.0,
                   min=tidy(float(values.min())), p50=named["p50"], p90=named["p90"], p95=named["p95"],
                   p99=named["p99"], max=tidy(float(values.max())), sketch=tuple(quantiles[len(PERCENTILES):]))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(data["n"], data["mean"], data["stdev"], data["min"], data["p50"], data["p90"], data["p95"],
                   data["p99"], data["max"], tuple(data["sketch"]["values"]))

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "stdev": self.stdev, "min": self.min, "p50": self.p50,
                "p90": self.p90, "p95": self.p95, "p99": self.p99, "max": self.max,
                "sketch": {"quantiles": list(SKETCH_QUANTILES), "values": list(self.sketch)}}


@dataclass(frozen=True)
class Metric:
    """One measured quantity: a single ``value`` or a ``distribution``, and the headline
    value of each worker process (``runs``), the unit decisions are made on."""

    unit: str
    direction: str  # "lower" or "higher" is better
    value: float | None = None
    distribution: Distribution | None = None
    runs: tuple[float, ...] = ()

    @property
    def headline(self) -> float:
        """The value a metric is tracked by: p50 of a distribution, else its value."""
        if self.distribution is not None:
            return float(self.distribution.p50)
        return float(self.value)  # type: ignore[arg-type]

    @property
    def run_values(self) -> tuple[float, ...]:
        """Each process-run's headline value; the headline alone for a record without them."""
        return tuple(float(v) for v in self.runs) or (self.headline,)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metric:
        distribution = Distribution.from_json(data) if "p50" in data else None
        return cls(data["unit"], data["direction"], data.get("value"), distribution, tuple(data.get("runs", ())))

    def to_json(self) -> dict[str, Any]:
        body = self.distribution.to_json() if self.distribution is not None else {"value": self.value}
        return {"unit": self.unit, "direction": self.direction, **body,
                **({"runs": list(self.runs)} if self.runs else {})}


@dataclass(frozen=True)
class DatasetRef:
    """The dataset a benchmark read: where, its content hash, how many rows."""

    path: str
    sha256: str
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "rows": self.rows}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark × params of a suite run, with its metrics and its failures."""

    name: str
    kind: str
    metrics: Mapping[str, Metric]
    calls: int
    errors: int = 0
    timeouts: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None
    dataset: DatasetRef | None = None
    warmup: int | None = None
    iterations: int | None = None
    duration_s: float | None = None
    runs: int | None = None
    #: the first distinct error messages (``None``: none recorded)
    error_samples: tuple[str, ...] | None = None
    warnings: tuple[str, ...] | None = None
    #: failed calls by kind (``http_429``, ``cut_short``, ...), where the load knows it
    error_kinds: Mapping[str, int] | None = None
    #: the load's own lag: ``lag_p99_ms``, ``lag_max_ms``
    client: Mapping[str, float] | None = None
    #: an openai benchmark's token counting: ``counted_from``, ``per_chunk``
    tokens: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        return benchmark_label(self.name, self.params)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Benchmark:
        dataset = data.get("dataset")
        return cls(
            name=data["name"], kind=data["kind"],
            metrics={name: Metric.from_json(metric) for name, metric in data["metrics"].items()},
            calls=data["calls"], errors=data["errors"], timeouts=data["timeouts"], params=dict(data["params"]),
            target=data.get("target"), dataset=DatasetRef(**dataset) if dataset else None,
            warmup=data.get("warmup"), iterations=data.get("iterations"), duration_s=data.get("duration_s"),
            runs=data.get("runs"),
            error_samples=tuple(data["error_samples"]) if "error_samples" in data else None,
            warnings=tuple(data["warnings"]) if "warnings" in data else None,
            error_kinds=data.get("error_kinds"), client=data.get("client"), tokens=data.get("tokens"))

    def to_json(self) -> dict[str, Any]:
        return _drop_none({
            "name": self.name, "params": dict(self.params), "kind": self.kind, "target": self.target,
            "dataset": self.dataset.to_json() if self.dataset else None, "warmup": self.warmup,
            "iterations": self.iterations, "duration_s": self.duration_s, "runs": self.runs,
            "calls": self.calls, "errors": self.errors, "timeouts": self.timeouts,
            "error_samples": None if self.error_samples is None else list(self.error_samples),
            "warnings": None if self.warnings is None else list(self.warnings),
            "error_kinds": None if self.error_kinds is None else dict(self.error_kinds),
            "client": None if self.client is None else dict(self.client),
            "tokens": None if self.tokens is None else dict(self.tokens),
            "metrics": {name: metric.to_json() for name, metric in self.metrics.items()},
        })


@dataclass(frozen=True)
class Source:
    """Which code was measured: the commit and where GitLab ran it (any may be unknown)."""

    commit: str | None = None
    ref: str | None = None
    commit_time: str | None = None
    commit_title: str | None = None
    pipeline_id: str | None = None
    job_id: str | None = None
    pipeline_url: str | None = None
    project_url: str | None = None
    mr_iid: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Source:
        return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class Hardware:
    """The machine class: what the environment fingerprint hashes."""

    cpu_model: str
    cpu_count: int
    gpu_model: str | None
    gpu_count: int
    runner_label: str

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    @property
    def fingerprint(self) -> str:
        """16 hex digits of sha256 over the canonical JSON of this block: runs are
        compared only within one fingerprint."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Gpu:
    """What NVML saw of the GPUs."""

    model: str
    count: int
    driver_version: str
    cuda_version: str | None
    memory_total_mb: float

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


@dataclass(frozen=True)
class Image:
    """The container image a run used, and its digest when known."""

    reference: str | None
    digest: str | None

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "digest": self.digest}


@dataclass(frozen=True)
class Environment:
    """Where a suite ran: the fingerprinted hardware class, and the software seen.

    ``threads`` (the BLAS/OpenMP thread settings, ``None`` when not recorded) is not
    fingerprinted: a change in them is noted next to a comparison, not kept apart."""

    fingerprint: str
    hardware: Hardware
    gpu: Gpu | None
    python: str
    platform: str
    packages: Mapping[str, str] = field(default_factory=dict)
    image: Image | None = None
    threads: Threads | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Environment:
        gpu, image, threads = data["gpu"], data.get("image"), data.get("threads")
        return cls(data["fingerprint"], Hardware(**data["hardware"]), None if gpu == "none" else Gpu(**gpu),
                   data["python"], data["platform"], dict(data["packages"]), Image(**image) if image else None,
                   Threads.from_json(threads) if threads is not None else None)

    def to_json(self) -> dict[str, Any]:
        return _drop_none({
            "fingerprint": self.fingerprint, "hardware": self.hardware.to_json(),
            "gpu": self.gpu.to_json() if self.gpu else "none", "python": self.python,
            "platform": self.platform, "packages": dict(self.packages),
            "image": self.image.to_json() if self.image else None,
            "threads": self.threads.to_json() if self.threads is not None else None,
        })


@dataclass(frozen=True)
class Timer:
    """The clock the harness timed calls with: its resolution and its cost per call."""

    name: str
    resolution_ns: float
    overhead_ns: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "resolution_ns": self.resolution_ns, "overhead_ns": self.overhead_ns}


@dataclass(frozen=True)
class Run:
    """The suite run itself: when, how long, by which benchtrail, with how many calls."""

    started_at: str
    duration_s: float
    tool_version: str
    runs: int
    warmup: int
    iterations: int
    timer: Timer

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        return cls(data["started_at"], data["duration_s"], data["tool_version"], data["runs"], data["warmup"],
                   data["iterations"], Timer(**data["timer"]))

    def to_json(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "duration_s": self.duration_s, "tool_version": self.tool_version,
                "runs": self.runs, "warmup": self.warmup, "iterations": self.iterations,
                "timer": self.timer.to_json()}


@dataclass(frozen=True)
class Record:
    """One suite run (``benchtrail.result/1``)."""

    suite: str
    benchmarks: tuple[Benchmark, ...]
    source: Source
    environment: Environment
    run: Run

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """The record a schema-valid JSON object describes."""
        return cls(data["suite"], tuple(Benchmark.from_json(b) for b in data["benchmarks"]),
                   Source.from_json(data["source"]), Environment.from_json(data["environment"]),
                   Run.from_json(data["run"]))

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA_ID, "suite": self.suite, "benchmarks": [b.to_json() for b in self.benchmarks],
                "source": self.source.to_json(), "environment": self.environment.to_json(),
                "run": self.run.to_json()}

    def replace(self, **changes: Any) -> Record:
        """A copy with ``changes`` (dataclass fields)."""
        return replace(self, **changes)

    @property
    def started(self) -> dt.datetime:
        """When the run started, in UTC, to the microsecond."""
        moment = parse_time(self.run.started_at)
        if moment is None:  # the schema checks the format: only a hand-made Record gets here
            raise ValueError(f"run.started_at: not an RFC 3339 date-time: {self.run.started_at!r}")
        return moment

    @property
    def commit_key(self) -> str:
        """What groups repeated jobs of one commit: the commit, else the start time."""
        return self.source.commit or self.run.started_at

    @property
    def fingerprint(self) -> str:
        return self.environment.fingerprint

    def filename(self) -> str:
        """``<suite>-<UTC timestamp>-<commit12>.json``: sortable, and unique per run."""
        return f"{self.suite}-{_stamp(self.started)}-{(self.source.commit or 'nocommit')[:12]}.json"

    @cached_property
    def digest(self) -> str:
        """The first 10 hex digits of the sha256 of the record's content (its JSON with sorted
        keys): what tells two records apart when suite, time, commit and job are alike."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]

    def branch_path(self) -> str:
        """``results/<suite>/<YYYY>/<MM>/<UTC-timestamp>-<commit12>-<job-id>-<digest>.json``:
        where the record lives on the results branch. Two different records never share it
        (the digest is of the content), and the same record always gets the same one.
        Characters of the job id that do not belong in a file name become ``_``."""
        return f"{self.legacy_branch_path()[:-len('.json')]}-{self.digest}.json"

    def legacy_branch_path(self) -> str:
        """Where the record was kept before paths had a digest: a record found there with the
        same content is recorded already."""
        started = self.started
        commit = (self.source.commit or "nocommit")[:12]
        job = _UNSAFE.sub("_", self.source.job_id or "")[:_MAX_JOB_CHARS] or "local"
        return f"{suite_folder(self.suite)}{started.year:04d}/{started.month:02d}/{_stamp(started)}-{commit}-{job}.json"


#: the folder of the results branch that holds every record
RESULTS_FOLDER = "results/"


def suite_folder(suite: str) -> str:
    """The folder of the results branch that holds ``suite``'s records (by year and month)."""
    return f"{RESULTS_FOLDER}{suite}/"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+", re.ASCII)
_MAX_JOB_CHARS = 64


def _stamp(when: dt.datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` (years before 1000 padded, which ``strftime`` may not do)."""
    return f"{when.year:04d}{when.month:02d}{when.day:02d}T{when.hour:02d}{when.minute:02d}{when.second:02d}Z"
