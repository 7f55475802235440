"""Which HTTP client should benchtrail's driver use? Its own against aiohttp and httpx, by measurement.

Each client runs inside benchtrail's own driver (``benchtrail.bench.httpload``: the same
event loop from ``run_loop``, the same open-loop schedule and timer, the same closed-loop
workers, the same tally), against a loopback server (``tests/loopback.py``, own process):

* open loop at ``--rate`` (1,000 req/s) on a ``--service-ms`` (5 ms) path: achieved rate,
  p50 and p99 against the truth (the server's p50 service time plus the loopback round
  trip of a bare blocking socket), and the client's CPU time per request;
* closed loop, ``--concurrency`` (16) in flight on a zero-service-time path: the most
  requests/s the client gets through, and its CPU time per request.

``benchtrail`` is ``measure_http`` itself, as benchtrail ships it (``bench/http1.py`` on
uvloop where it is installed); ``benchtrail-asyncio`` is the same on asyncio's own loop,
as where uvloop is missing. ``aiohttp`` is an ``aiohttp.ClientSession`` (what
``measure_http`` used up to 0.1: a connection limit like benchtrail's, no proxies).
``httpx`` is an ``httpx.AsyncClient`` (no connection limit, like benchtrail's open-loop
pool; no proxies, like aiohttp's default). Clients take turns within each repeat;
figures are medians over repeats with min..max. Example::

    python tools/perf/bench_http_client.py            # 3 repeats of 10 s runs: 7-8 minutes
    python tools/perf/bench_http_client.py --quick    # 3 repeats of 3 s runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from bench_http import BODY, asyncio_loop, bare_socket_ms, machine, show  # noqa: E402
from loopback import Loopback, serve  # noqa: E402

from benchtrail.bench import httpload  # noqa: E402
from benchtrail.bench.clock import now_ns  # noqa: E402
from benchtrail.bench.httpload import HttpLoad, measure_http  # noqa: E402
from benchtrail.bench.measurement import Measurement  # noqa: E402

CLIENTS = ("benchtrail", "benchtrail-asyncio", "aiohttp", "httpx")


class _PeerClient:
    """benchtrail's ``_Client.call`` contract on another library: ``_send`` returns the
    answer's status and the time it was read; timeouts and errors are tallied as benchtrail's."""

    _timeout: type[BaseException] = asyncio.TimeoutError
    _errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, session: Any, load: HttpLoad) -> None:
        self._session, self._load = session, load

    async def _send(self, body: bytes | None) -> tuple[int, int]:
        raise NotImplementedError

    async def call(self, index: int, started_ns: int, out: Any) -> None:
        load = self._load
        tally = out.tally
        tally.calls += 1
        try:
            status, finished = await self._send(load.bodies[index % len(load.bodies)])
        except self._timeout:
            tally.error(f"timeout after {load.timeout_s:g} s", timeout=True)
            return
        except self._errors as exc:
            tally.error(f"{type(exc).__name__}: {exc}")
            return
        if status >= 400:
            tally.error(f"HTTP {status}")
            return
        out.latencies.append(finished - started_ns)
        out.completions.append(finished)


class _HttpxClient(_PeerClient):
    def __init__(self, session: Any, load: HttpLoad) -> None:
        import httpx

        super().__init__(session, load)
        self._timeout, self._errors = httpx.TimeoutException, (httpx.HTTPError, OSError)

    async def _send(self, body: bytes | None) -> tuple[int, int]:
        response = await self._session.request(self._load.method, self._load.url, content=body)
        return response.status_code, now_ns()


class _AiohttpClient(_PeerClient):
    def __init__(self, session: Any, load: HttpLoad) -> None:
        import aiohttp

        super().__init__(session, load)
        self._errors = (aiohttp.ClientError, OSError)

    async def _send(self, body: bytes | None) -> tuple[int, int]:
        async with self._session.request(self._load.method, self._load.url, data=body) as answer:
            await answer.read()
            return answer.status, now_ns()


async def _drive(make: str, load: HttpLoad, *, warmup: int, duration_s: float, concurrency: int,
                 rate: float | None) -> Measurement:
    """``httpload._measure`` with another client in place of benchtrail's."""
    if make == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=None if rate else concurrency, max_keepalive_connections=None)
        context: Any = httpx.AsyncClient(limits=limits, timeout=load.timeout_s, headers=load.headers,
                                           trust_env=False)
        client: Any = _HttpxClient(context, load)
    else:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=httpload.open_loop_pool_size() if rate else concurrency,
                                         ttl_dns_cache=None)
        context = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=load.timeout_s),
                                        headers=load.headers)
        client = _AiohttpClient(context, load)
    try:
        if warmup:
            await httpload.closed_loop(client, warmup, None, concurrency, httpload._Outcomes())
        out = httpload._Outcomes()
        if rate is None:
            start = now_ns()
            await httpload.closed_loop(client, None, duration_s, concurrency, out)
        else:
            offsets = httpload.poisson_offsets_ns(max(1, round(rate * duration_s)), rate)
            arrivals = httpload.OpenLoop(client, offsets, out)
            start = now_ns()
            await arrivals.run()
        wall = now_ns() - start
    finally:
        if make == "httpx":
            await context.aclose()
        else:
            await context.close()
    return Measurement(out.latencies, out.tally, len(out.latencies), wall, out.completions, start)


def run(make: str, server: Loopback, path: str, *, warmup: int, duration_s: float, concurrency: int,
        rate: float | None) -> dict[str, float]:
    load = HttpLoad(server + path, "POST", {"Content-Type": "application/json"}, [BODY], 30.0, 1)
    cpu = time.process_time()
    if make.startswith("benchtrail"):
        with asyncio_loop() if make == "benchtrail-asyncio" else contextlib.nullcontext():
            m = measure_http(load, warmup=warmup, iterations=None, duration_s=duration_s,
                             concurrency=concurrency, rate=rate)
    else:
        m = httpload.run_loop(_drive(make, load, warmup=warmup, duration_s=duration_s, concurrency=concurrency,
                                     rate=rate))
    cpu = time.process_time() - cpu
    latencies = sorted(value / 1e6 for value in m.latencies_ns)
    if not latencies:
        raise RuntimeError(f"{make}: no successful call: {m.tally}")
    return {
        "achieved": len(latencies) / (m.wall_ns / 1e9),
        "p50": latencies[len(latencies) // 2], "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "cpu_us": cpu / (m.tally.calls + warmup) * 1e6,
        "errors": float(m.tally.errors + m.tally.timeouts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s runs")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (3)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (10; 3 with --quick)")
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop rate, req/s (1000)")
    parser.add_argument("--service-ms", type=float, default=5.0, help="service time in the open loop (5 ms)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop requests in flight (16)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per run (50)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, of {', '.join(CLIENTS)}")
    args = parser.parse_args(argv)
    repeats = args.repeats or 3
    duration_s = args.duration or (3.0 if args.quick else 10.0)
    clients = [c for c in args.clients.split(",") if c]
    if unknown := set(clients) - set(CLIENTS):
        parser.error(f"unknown clients {sorted(unknown)}")
    import aiohttp
    import httpx

    print(f"machine: {machine()}, httpx {httpx.__version__}, aiohttp {aiohttp.__version__}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"runs:    {repeats} repeats; open loop {args.rate:g} req/s on a {args.service_ms:g} ms path for "
          f"{duration_s:g} s; closed loop {args.concurrency} in flight on a 0 ms path for {duration_s:g} s; "
          f"warm-up {args.warmup}")
    results: dict[str, list[float]] = {}

    def keep(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    with serve(service_ms=args.service_ms) as server:
        for repeat in range(repeats):
            line = f"repeat {repeat + 1}:"
            for make in clients:
                server.reset()
                rtt = bare_socket_ms(server)
                server.reset()
                o = run(make, server, "/infer", warmup=args.warmup, duration_s=duration_s, concurrency=1,
                        rate=args.rate)
                service = server.stats()["service_ms"]
                server.reset()
                rtt = (rtt + bare_socket_ms(server)) / 2  # before and after the run, as bench_http.py
                truth, truth99 = service["p50"] + rtt, service["p99"] + rtt
                keep(f"{make}_o_achieved", o["achieved"])
                keep(f"{make}_o_rate_err", (o["achieved"] / args.rate - 1) * 100)
                keep(f"{make}_o_p50", o["p50"])
                keep(f"{make}_o_p50_err", (o["p50"] / truth - 1) * 100)
                keep(f"{make}_o_p99", o["p99"])
                keep(f"{make}_o_p99_err", (o["p99"] / truth99 - 1) * 100)
                keep(f"{make}_truth99", truth99)
                keep(f"{make}_o_cpu", o["cpu_us"])
                keep(f"{make}_o_errors", o["errors"])
                keep(f"{make}_truth", truth)
                c = run(make, server, "/sleep/0", warmup=args.warmup, duration_s=duration_s,
                        concurrency=args.concurrency, rate=None)
                keep(f"{make}_c_rate", c["achieved"])
                keep(f"{make}_c_cpu", c["cpu_us"])
                keep(f"{make}_c_p50", c["p50"])
                keep(f"{make}_c_errors", c["errors"])
                line += (f"  {make}: open p50 {o['p50']:.3f} ms ({results[f'{make}_o_p50_err'][-1]:+.1f} %), "
                         f"closed {c['achieved']:.0f} req/s;")
            print(line, flush=True)

    for make in clients:
        print(f"\n{make} (median of {repeats} [min .. max])")
        show(f"open loop: achieved rate (target {args.rate:g})", results[f"{make}_o_achieved"], "{:.1f}", "req/s")
        show("open loop: achieved rate error", results[f"{make}_o_rate_err"], "{:+.2f}", "%", spread=False)
        show("open loop: truth (service p50 + loopback)", results[f"{make}_truth"], unit="ms")
        show("open loop: p50", results[f"{make}_o_p50"], unit="ms")
        show("open loop: p50 error vs truth", results[f"{make}_o_p50_err"], "{:+.2f}", "%", spread=False)
        show("open loop: truth p99 (service p99 + loopback)", results[f"{make}_truth99"], unit="ms")
        show("open loop: p99", results[f"{make}_o_p99"], unit="ms")
        show("open loop: p99 error vs truth", results[f"{make}_o_p99_err"], "{:+.2f}", "%", spread=False)
        show("open loop: client CPU per request", results[f"{make}_o_cpu"], "{:.0f}", "us")
        show("open loop: errors + timeouts", results[f"{make}_o_errors"], "{:.0f}")
        show(f"closed loop x{args.concurrency}: requests/s", results[f"{make}_c_rate"], "{:.0f}", "req/s")
        show(f"closed loop x{args.concurrency}: p50", results[f"{make}_c_p50"], unit="ms")
        show(f"closed loop x{args.concurrency}: client CPU per request", results[f"{make}_c_cpu"], "{:.0f}", "us")
        show(f"closed loop x{args.concurrency}: errors + timeouts", results[f"{make}_c_errors"], "{:.0f}")

    print(f"\n{'client':<16} {'open req/s':>11} {'p50 err %':>10} {'p99 err %':>10} {'CPU us/req':>11}"
          f" {'closed req/s':>13} {'CPU us/req':>11}")
    for make in clients:
        med = {key: statistics.median(values) for key, values in results.items() if key.startswith(make + "_")}
        print(f"{make:<16} {med[f'{make}_o_achieved']:>11.1f} {med[f'{make}_o_p50_err']:>+10.2f} "
              f"{med[f'{make}_o_p99_err']:>+10.2f} {med[f'{make}_o_cpu']:>11.0f} {med[f'{make}_c_rate']:>13.0f} "
              f"{med[f'{make}_c_cpu']:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
