"""Drive an HTTP inference endpoint with aiohttp: closed-loop workers or open-loop arrivals.

Open loop sends requests at Poisson arrival times fixed before the run, and measures
each latency from its *scheduled* start, not from when it was actually sent: when the
server stalls, the requests that should have gone out meanwhile count their wait, so
a stall shows in the tail (no coordinated omission). The schedule is rescaled so the
n-th arrival falls exactly at n / rate, which keeps the offered rate exact for any n.
aiohttp was chosen over httpx by measurement: ``tools/perf/bench_http_client.py``.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchtrail.bench.clock import now_ns
from benchtrail.bench.measurement import Measurement, Tally

__all__ = ["HttpLoad", "measure_http", "poisson_offsets_ns"]

_SCHEDULE_SEED = 20240601


@dataclass(frozen=True)
class HttpLoad:
    url: str
    method: str
    headers: dict[str, str]
    bodies: Sequence[bytes | None]  # prepared request bodies, cycled
    timeout_s: float
    items_per_call: int


def poisson_offsets_ns(count: int, rate: float, seed: int = _SCHEDULE_SEED) -> list[int]:
    """Arrival offsets (ns from the start) of ``count`` Poisson arrivals at ``rate``/s,
    rescaled so the last one falls at ``count / rate`` exactly."""
    import numpy as np

    gaps = np.random.default_rng(seed).exponential(1.0, size=count)
    times = np.cumsum(gaps)
    times *= (count / rate) / times[-1]
    return [int(t * 1e9) for t in times]


class _Client:
    def __init__(self, session: Any, load: HttpLoad) -> None:
        import aiohttp

        self._session = session
        self._load = load
        self._errors = (aiohttp.ClientError, OSError)

    async def call(self, index: int, started_ns: int, latencies: array, tally: Tally) -> None:  # type: ignore[type-arg]
        load = self._load
        body = load.bodies[index % len(load.bodies)]
        tally.calls += 1
        try:
            async with self._session.request(load.method, load.url, data=body) as response:
                await response.read()
                status = response.status
        except asyncio.TimeoutError:
            tally.error(f"timeout after {load.timeout_s:g} s", timeout=True)
            return
        except self._errors as exc:
            tally.error(f"{type(exc).__name__}: {exc}")
            return
        finished = now_ns()
        if status >= 400:
            tally.error(f"HTTP {status}")
            return
        latencies.append(finished - started_ns)


async def _closed(client: _Client, count: int | None, duration_s: float | None, concurrency: int,
                  latencies: array, tally: Tally) -> None:  # type: ignore[type-arg]
    next_index = 0
    deadline = None if duration_s is None else now_ns() + int(duration_s * 1e9)

    async def worker() -> None:
        nonlocal next_index
        while True:
            if count is not None and next_index >= count:
                return
            if deadline is not None and now_ns() >= deadline:
                return
            index = next_index
            next_index += 1
            await client.call(index, now_ns(), latencies, tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _open(client: _Client, offsets_ns: list[int], latencies: array, tally: Tally) -> None:  # type: ignore[type-arg]
    start = now_ns()
    tasks = []
    for index, offset in enumerate(offsets_ns):
        scheduled = start + offset
        delay = scheduled - now_ns()
        if delay > 0:
            await asyncio.sleep(delay / 1e9)
        tasks.append(asyncio.ensure_future(client.call(index, scheduled, latencies, tally)))
    await asyncio.gather(*tasks)


async def _measure(load: HttpLoad, warmup: int, iterations: int | None, duration_s: float | None,
                   concurrency: int, rate: float | None) -> Measurement:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0 if rate else concurrency, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=load.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=load.headers) as session:
        client = _Client(session, load)
        if warmup:
            await _closed(client, warmup, None, concurrency, array("q"), Tally())
        latencies: array = array("q")  # type: ignore[type-arg]
        tally = Tally()
        start = now_ns()
        if rate is None:
            await _closed(client, iterations, duration_s, concurrency, latencies, tally)
        else:
            count = iterations if iterations is not None else max(1, round(rate * (duration_s or 0)))
            await _open(client, poisson_offsets_ns(count, rate), latencies, tally)
        wall = now_ns() - start
    return Measurement(latencies, tally, len(latencies) * load.items_per_call, wall)


def measure_http(load: HttpLoad, *, warmup: int, iterations: int | None, duration_s: float | None,
                 concurrency: int = 1, rate: float | None = None) -> Measurement:
    """Measure ``load`` closed-loop with ``concurrency`` in flight, or open-loop at ``rate``
    requests/s, for ``iterations`` requests or ``duration_s`` seconds."""
    return asyncio.run(_measure(load, warmup, iterations, duration_s, concurrency, rate))
