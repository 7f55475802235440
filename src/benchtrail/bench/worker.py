"""One fresh worker process: measure one benchmark once and hand the figures back.

Run as ``python -m benchtrail.bench.worker SPEC.json OUT_PREFIX PARENT_PID`` (the runner's
process id: on Linux the worker dies with it). It writes
``OUT_PREFIX.json`` (counts, timings, memory and GPU figures), ``OUT_PREFIX.lat``
(the successful calls' latencies, int64 ns) and ``OUT_PREFIX.done`` (when each of them
completed, int64 ns from the measured start, sorted), for an ``openai`` benchmark also
``OUT_PREFIX.streams.npz`` (its per-request token timings: ``bench.serving``), or ``OUT_PREFIX.error.json`` with the
user's problem and exit code 2, or, when benchtrail's own code failed, its traceback on
stderr, ``OUT_PREFIX.bug.json`` and exit code 3 (a bug, never the user's fault). A
``SystemExit`` from the user's code (``sys.exit`` in a module, setup or target) is the user's
problem like any other exception, not the end of the worker.
"""

from __future__ import annotations

import importlib
import json
import os
import string
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail.bench.baton import Baton
from benchtrail.bench.clock import timer_info
from benchtrail.bench.dataset import Dataset, load_dataset
from benchtrail.bench.gpu import open_gpus
from benchtrail.bench.measurement import Measurement
from benchtrail.bench.metrics import WorkerFigures
from benchtrail.bench.sampler import Sampler
from benchtrail.bench.serving import as_measurement, save_streams
from benchtrail.bench.suite import BenchmarkSpec
from benchtrail.errors import EXIT_BUG, BenchtrailError, SuiteError
from benchtrail.results.threads import THREAD_VARIABLES, ThreadPool, Threads

__all__ = ["measure_spec"]

#: prctl(2)'s option that names the signal this process gets when its parent dies
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class _Measured:
    """What one kind of benchmark measured: the calls, the CPU time they took in this
    process (``None`` where the work runs elsewhere: a server), the dataset read, and an
    ``openai`` benchmark's per-request token timings (``bench.serving``)."""

    measurement: Measurement
    cpu_s: float | None
    dataset: Dataset | None
    streams: dict[str, Any] | None = None


def _raised(exc: BaseException) -> str:
    """``Type: message``, or just ``Type`` when the message is empty (``sys.exit()``)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _resolve(spec: BenchmarkSpec, field: str, reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    where = f"{spec.field_prefix}.{field}"
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        raise SuiteError(f"{where}: cannot import {module_name!r}: {_raised(exc)}") from None
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SuiteError(f"{where}: module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(obj):
        raise SuiteError(f"{where}: {reference!r} is not callable")
    return obj


def _callable_run(spec: BenchmarkSpec) -> _Measured:
    """The target's calls: warm-up, then the measured ones (in turns with another worker
    when this one was started with a baton: ``bench.baton``)."""
    from benchtrail.bench.callables import measure_callable

    sys.path.insert(0, str(Path(spec.suite_file).parent))
    target = _resolve(spec, "target", spec.target or "")
    prefix: tuple[Any, ...] = ()
    if spec.setup:
        setup = _resolve(spec, "setup", spec.setup)
        try:
            prefix = (setup(),)
        except (Exception, SystemExit) as exc:
            raise SuiteError(f"{spec.field_prefix}.setup: {spec.setup} raised {_raised(exc)}") from None
    dataset = load_dataset(spec.dataset) if spec.dataset else None
    argsets = [(*prefix, batch) for batch in dataset.batches(spec.batch_size)] if dataset else [prefix]
    baton = Baton.from_env() if spec.concurrency == 1 else None
    try:
        if spec.warmup:
            measure_callable(target, argsets, items_per_call=spec.batch_size, iterations=spec.warmup,
                             duration_s=None, concurrency=spec.concurrency, baton=baton)
        cpu_start = time.process_time()
        measurement = measure_callable(target, argsets, items_per_call=spec.batch_size,
                                       iterations=spec.iterations, duration_s=spec.duration_s,
                                       concurrency=spec.concurrency, baton=baton)
    except SystemExit as exc:  # counting it as a failed call would call again what asked to stop
        raise SuiteError(f"{spec.field_prefix}.target: {spec.target} raised {_raised(exc)} "
                         f"(a target returns or raises an exception; it does not end the process)") from None
    finally:
        if baton is not None:
            baton.close()
    return _Measured(measurement, time.process_time() - cpu_start, dataset)


def _fill(template: Any, row: Any, batch: list[Any]) -> Any:
    if template == "$row":
        return row
    if template == "$batch":
        return batch
    if isinstance(template, dict):
        return {key: _fill(value, row, batch) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, row, batch) for value in template]
    return template


def _endpoint_headers(spec: BenchmarkSpec) -> dict[str, str]:
    """The request headers: the suite's, ``${VAR}`` filled in, and the API key from
    ``api_key_env`` as a bearer token (a secret: it goes nowhere else)."""
    headers = {key: string.Template(value).substitute(os.environ) for key, value in spec.headers.items()}
    if spec.api_key_env and not any(key.lower() == "authorization" for key in headers):
        headers["Authorization"] = f"Bearer {os.environ[spec.api_key_env]}"
    return headers


def _http_run(spec: BenchmarkSpec) -> _Measured:
    from benchtrail.bench.httpload import HttpLoad, measure_http

    headers = _endpoint_headers(spec)
    bodies: list[bytes | None] = [None]
    dataset = load_dataset(spec.dataset) if spec.dataset else None
    if dataset:
        template = spec.body if spec.body is not None else ("$row" if spec.batch_size == 1 else "$batch")
        bodies = [json.dumps(_fill(template, batch[0], batch)).encode()
                  for batch in dataset.json_batches(spec.batch_size)]
    elif spec.body is not None:
        bodies = [json.dumps(spec.body).encode()]
    if bodies[0] is not None:
        headers.setdefault("Content-Type", "application/json")
    load = HttpLoad(spec.url or "", spec.method, headers, bodies, spec.timeout_s, spec.batch_size)
    measurement = measure_http(load, warmup=spec.warmup, iterations=spec.iterations,
                               duration_s=spec.duration_s, concurrency=spec.concurrency, rate=spec.rate)
    return _Measured(measurement, None, dataset)


def _kserve_run(spec: BenchmarkSpec) -> _Measured:
    """A KServe v2 / Open Inference Protocol model: ready first, then its infer endpoint
    with one request per batch of dataset rows, like any HTTP endpoint."""
    from benchtrail.bench.httpload import HttpLoad, measure_http
    from benchtrail.bench.kserve import TensorSpec, infer_bodies, infer_url, ready_urls
    from benchtrail.bench.readiness import wait_ready

    headers = _endpoint_headers(spec)
    root, model = spec.url or "", spec.model or ""
    wait_ready(ready_urls(root, model, spec.model_version), timeout_s=spec.ready_timeout_s,
               where=spec.field_prefix, headers=headers)
    dataset = load_dataset(spec.dataset or "")
    inputs = [TensorSpec(entry["name"], entry.get("datatype"),
                         tuple(entry["shape"]) if "shape" in entry else None) for entry in spec.inputs]
    bodies: list[bytes | None] = list(infer_bodies(dataset, spec.batch_size, inputs, spec.outputs,
                                                   where=spec.field_prefix))
    load = HttpLoad(infer_url(root, model, spec.model_version), "POST", {**headers, "Content-Type": "application/json"},
                    bodies, spec.timeout_s, spec.batch_size)
    measurement = measure_http(load, warmup=spec.warmup, iterations=spec.iterations,
                               duration_s=spec.duration_s, concurrency=spec.concurrency, rate=spec.rate)
    return _Measured(measurement, None, dataset)


def _openai_run(spec: BenchmarkSpec) -> _Measured:
    """An OpenAI-compatible engine: the model served first, then one streamed request per
    prompt of the dataset; besides the request latencies, each request's token timings."""
    from benchtrail.bench.openai import OpenAILoad, measure_openai
    from benchtrail.bench.openai_requests import check_model_served, is_chat, request_bodies

    headers = _endpoint_headers(spec)
    url, model = spec.url or "", spec.model or ""
    check_model_served(url, model, timeout_s=spec.ready_timeout_s, where=spec.field_prefix, headers=headers)
    dataset = load_dataset(spec.dataset or "")
    rows = dataset.json_batches(1)
    bodies = request_bodies([batch[0] for batch in rows], model=model, chat=is_chat(url), max_tokens=spec.max_tokens,
                            sampling=spec.sampling, where=f"{spec.field_prefix}.dataset: {Path(spec.dataset or '').name}")
    load = OpenAILoad(url, {**headers, "Content-Type": "application/json"}, bodies, spec.timeout_s)
    streamed = measure_openai(load, warmup=spec.warmup, iterations=spec.iterations, duration_s=spec.duration_s,
                              concurrency=spec.concurrency, rate=spec.rate)
    measurement, streams = as_measurement(streamed)
    return _Measured(measurement, None, dataset, streams)


#: how each kind of benchmark is measured
_RUNS: dict[str, Callable[[BenchmarkSpec], _Measured]] = {
    "callable": _callable_run, "http": _http_run, "openai": _openai_run, "kserve-v2": _kserve_run,
}


def _thread_settings() -> Threads | None:
    """The BLAS/OpenMP thread settings in force in this process: the thread variables
    that are set, and the pools of the libraries loaded so far (threadpoolctl sees only
    those, so this runs after the benchmark's setup and calls)."""
    try:
        from threadpoolctl import threadpool_info

        info = threadpool_info()
    except Exception:  # an auxiliary figure: a library threadpoolctl cannot read costs no measurement
        return None
    pools = [ThreadPool(str(pool.get("user_api")), str(pool.get("internal_api")),
                        pool["num_threads"] if isinstance(pool.get("num_threads"), int) else None)
             for pool in info]
    return Threads.of({name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}, pools)


def measure_spec(spec: BenchmarkSpec) -> tuple[Measurement, WorkerFigures, dict[str, Any] | None]:
    """Measure ``spec`` once in this process: the measurement, the figures around it, and
    an ``openai`` benchmark's token timings."""
    gpus = open_gpus()
    try:
        timer = timer_info()
        with Sampler(gpus) as sampler:
            measured = _RUNS[spec.kind](spec)
    finally:
        if gpus is not None:
            gpus.close()
    samples = sampler.result
    assert samples is not None
    measurement, dataset = measured.measurement, measured.dataset
    # Only an in-process target runs the model here; an HTTP benchmark's runs in its server.
    threads = _thread_settings() if spec.kind == "callable" else None
    figures = WorkerFigures(
        calls=measurement.tally.calls,
        errors=measurement.tally.errors,
        timeouts=measurement.tally.timeouts,
        error_samples=tuple(measurement.tally.error_samples),
        items=measurement.items,
        wall_s=measurement.wall_ns / 1e9,
        cpu_s=measured.cpu_s,
        timer=timer,
        peak_rss_mb=samples.peak_rss_mb,
        dataset_sha256=dataset.sha256 if dataset else None,
        dataset_rows=len(dataset) if dataset else None,
        gpu_peak_memory_mb=samples.gpu_peak_memory_mb,
        gpu_utilization_pct=samples.gpu_utilization_pct,
        gpu_power_w=samples.gpu_power_w,
        gpu_energy_j=samples.gpu_energy_j,
        threads=threads,
        error_kinds=dict(measurement.tally.kinds),
    )
    return measurement, figures, measured.streams


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the runner (``parent``) dies, on Linux: a runner
    stopped by SIGTERM or SIGKILL (a cancelled CI job) leaves no worker behind, holding the
    job's output open. Elsewhere only the runner's own cleanup stops its workers."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (AttributeError, OSError):  # a C library without prctl
        return
    if os.getppid() != parent:  # the runner died before the call above: what the kernel would do
        os._exit(1)


def main(argv: list[str]) -> int:
    spec_path, out_prefix, parent = argv
    _die_with_parent(int(parent))
    try:
        spec = BenchmarkSpec(**json.loads(Path(spec_path).read_text(encoding="utf-8")))
        measurement, figures, streams = measure_spec(spec)
    except BenchtrailError as exc:
        Path(out_prefix + ".error.json").write_text(json.dumps({"problems": list(exc.problems)}), encoding="utf-8")
        return exc.exit_code
    except Exception as exc:  # our bug: the target's own exceptions are counted, not raised
        traceback.print_exc()
        Path(out_prefix + ".bug.json").write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}),
                                                  encoding="utf-8")
        return EXIT_BUG
    with open(out_prefix + ".lat", "wb") as handle:
        measurement.latencies_ns.tofile(handle)
    measurement.completion_offsets_ns().tofile(out_prefix + ".done")
    if streams is not None:
        save_streams(out_prefix + ".streams.npz", streams)
    Path(out_prefix + ".json").write_text(json.dumps(figures.to_json()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
