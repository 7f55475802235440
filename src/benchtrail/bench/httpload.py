"""Drive an HTTP inference endpoint: closed-loop workers or open-loop arrivals.

Open loop sends requests at Poisson arrival times fixed before the run, and measures
each latency from its *scheduled* start, not from when it was actually sent: when the
server stalls, the requests that should have gone out meanwhile count their wait, so
a stall shows in the tail (no coordinated omission). The schedule is rescaled so the
n-th arrival falls exactly at n / rate, which keeps the offered rate exact for any n.
Each call's task is made from a timer callback shortly before its scheduled time and
spins the rest (``OpenLoop``): on Linux the timer is a timerfd, since asyncio's own
timers fire up to 1 ms late, which added about 10 % to the p50 of a 5 ms endpoint at
1,000 req/s. Every load kind runs in ``run_loop``, on uvloop where it is installed.
``tools/perf/bench_http.py`` measures each of these choices. Calls go through
``http1.Http1Client``, chosen over aiohttp and httpx by measurement
(``tools/perf/bench_http_client.py``); the ``closed_loop`` and ``OpenLoop`` drivers take
any client with the same ``call`` coroutine (the OpenAI stream client is one).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from array import array
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from benchtrail.bench.clock import now_ns
from benchtrail.bench.http1 import AnswerError, Http1Client
from benchtrail.bench.measurement import Measurement, Tally

__all__ = ["HttpLoad", "OpenLoop", "closed_loop", "measure_http", "open_loop_pool_size", "poisson_offsets_ns",
           "run_loop"]

T = TypeVar("T")

_SCHEDULE_SEED = 20240601
_CLOCK_MONOTONIC = 1  # <time.h>, Linux
_TFD_TIMER_ABSTIME = 1  # <sys/timerfd.h>
_SPARE_FDS = 128  # for everything but the connections: files, pipes, GPU handles


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
    rescaled so the last one falls at ``count / rate`` exactly (rounded to the ns).

    The same arguments give the same schedule; offsets never decrease; ``count <= 0``
    gives ``[]``.
    """
    import numpy as np

    if count <= 0:
        return []
    end_ns = round(count * 1_000_000_000 / rate)
    times = np.cumsum(np.random.default_rng(seed).exponential(1.0, size=count))
    offsets = np.rint(times * (end_ns / times[-1])).astype(np.int64)
    offsets[-1] = end_ns
    return offsets.tolist()  # type: ignore[no-any-return]


@dataclass
class _Outcomes:
    """Where calls leave their results: successful calls' latencies and completion times
    (ns), and the tally of all calls."""

    latencies: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    completions: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    tally: Tally = field(default_factory=Tally)


class _Client:
    """One call of the load: its prepared request through ``Http1Client``, its outcome
    into the tally."""

    def __init__(self, http: Http1Client, load: HttpLoad) -> None:
        self._http = http
        self._load = load
        self._requests = [http.request(body) for body in load.bodies]

    async def call(self, index: int, started_ns: int, out: _Outcomes) -> None:
        tally = out.tally
        tally.calls += 1
        try:
            status, finished = await self._http.send(self._requests[index % len(self._requests)])
        except asyncio.TimeoutError:
            tally.error(f"timeout after {self._load.timeout_s:g} s", timeout=True)
            return
        except (OSError, AnswerError) as exc:
            tally.error(_failure(exc, self._http.origin))
            return
        if status >= 300:
            tally.error(f"HTTP {status}" if status >= 400 else f"HTTP {status}: a redirect, not followed (set the url "
                        "to the address it names)")
            return
        out.latencies.append(finished - started_ns)
        out.completions.append(finished)


def _failure(exc: BaseException, origin: str) -> str:
    """A failed call in a line: what happened, without a traceback's worth of detail."""
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {origin}"
    if isinstance(exc, AnswerError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def closed_loop(client: Any, count: int | None, duration_s: float | None, concurrency: int,
                      out: Any) -> None:
    """``concurrency`` workers, each calling ``client.call(index, now_ns(), out)`` as soon as
    its previous call returns, until ``count`` calls were started or ``duration_s`` passed.
    Any client with that ``call`` coroutine can be driven (plain HTTP, OpenAI streams)."""
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
            await client.call(index, now_ns(), out)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class _Alarm:
    """Call ``callback`` from the event loop at a ``now_ns`` time, to within some microseconds.

    asyncio's own timers wait in ``epoll_wait``, whose timeout is whole milliseconds
    rounded up: a call due in 0.2 ms goes out up to 1 ms late, a fifth of a 5 ms latency.
    On Linux a timerfd in the loop wakes epoll on time instead (within the default 50 us
    timer slack; lowering it measured no better); elsewhere (kqueue's timeouts are fine)
    it is ``loop.call_later``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._fd = -1
        self._handle: asyncio.TimerHandle | None = None
        if sys.platform.startswith("linux") and _clock_is_monotonic():
            try:
                self._open_timerfd()
            except (OSError, AttributeError):  # no libc symbols, or refused
                self._fd = -1

    def _open_timerfd(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._libc, self._fd = libc, fd
        self._loop.add_reader(fd, self._on_timerfd)

    def at(self, when_ns: int) -> None:
        if self._fd < 0:
            self._handle = self._loop.call_later(max(0, when_ns - now_ns()) / 1e9, self._callback)
            return
        import ctypes

        spec = (ctypes.c_long * 4)(0, 0, *divmod(max(1, when_ns), 1_000_000_000))  # struct itimerspec
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, spec, None) != 0:
            self.close()  # refused: asyncio's timers for the rest of the run
            self.at(when_ns)

    def _on_timerfd(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:  # a stale wake-up: the timer was re-armed meanwhile
            return
        self._callback()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


def _clock_is_monotonic() -> bool:
    return time.get_clock_info("perf_counter").implementation == "clock_gettime(CLOCK_MONOTONIC)"


class OpenLoop:
    """Start call ``i`` at ``start + offsets_ns[i]``, and keep only the calls in flight (a
    long run holds no finished tasks).

    A call's task is made a little ahead of its time, the *lead*, and spins the rest in
    its first step, so the call starts on time: waking from an idle epoll (about 50 us on
    a 2-vCPU VM) and the loop pass a new task waits for before its first step (about 35
    us) would otherwise count in its latency. The lead follows the median of that delay
    as the run goes (a quantile tracker, at most ``_MAX_LEAD_NS``), so a fast machine
    spins little. At 1,000 req/s on that VM the median start went from 109 us late to 9
    and the p50 latency down by 0.1 ms, for at most 50 us more client CPU per call;
    tracking the 90th percentile gave the same p50 for 75 us more CPU per call
    (``tools/perf/bench_http.py`` measures it: ablation ``lead``).
    """

    _MAX_LEAD_NS = 250_000
    _LEAD_STEP_NS = 1_000  # down one step on an early start, up _LEAD_UP_STEPS on a late one:
    _LEAD_UP_STEPS = 1  # the lead settles where 1 start in _LEAD_UP_STEPS + 1 is late

    def __init__(self, client: Any, offsets_ns: list[int], out: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self._client, self._offsets, self._out = client, offsets_ns, out
        self._next = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._finished: asyncio.Future[None] = self._loop.create_future()
        self._failure: BaseException | None = None
        self._alarm = _Alarm(self._loop, self._launch_due)
        self._start = 0
        self._lead_ns = min(self._MAX_LEAD_NS, 50_000)  # where the tracker starts

    async def run(self) -> None:
        self._start = now_ns()
        try:
            self._launch_due()
            await self._finished
        finally:
            self._alarm.close()
            if self._in_flight:  # only after a failure: stop the rest
                pending = list(self._in_flight)
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
        if self._failure is not None:
            raise self._failure

    def _launch_due(self) -> None:
        offsets, start, count = self._offsets, self._start, len(self._offsets)
        now = now_ns()
        while self._next < count:
            scheduled = start + offsets[self._next]
            if scheduled - self._lead_ns > now:
                now = now_ns()
                if scheduled - self._lead_ns > now:
                    self._alarm.at(scheduled - self._lead_ns)
                    return
            task = _start_task(self._loop, self._on_time(self._next, scheduled, scheduled - self._lead_ns))
            self._in_flight.add(task)
            task.add_done_callback(self._done)
            self._next += 1
        self._check_finished()

    async def _on_time(self, index: int, scheduled: int, aimed: int) -> None:
        """Call ``index`` at ``scheduled``: spin there if early, and move the lead towards
        the median delay from ``aimed`` (when the task was meant to be made) to its first
        step. The spin stays in the task's first step, never after a suspension, so
        nothing else runs between it and the call's start."""
        now = now_ns()
        if now - aimed > self._lead_ns:
            self._lead_ns = min(self._MAX_LEAD_NS, self._lead_ns + self._LEAD_UP_STEPS * self._LEAD_STEP_NS)
        elif self._lead_ns > 0:
            self._lead_ns = max(0, self._lead_ns - self._LEAD_STEP_NS)
        while now < scheduled:
            now = now_ns()
        await self._client.call(index, scheduled, self._out)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()  # a bug, not a slow server: stop the run
            self._next = len(self._offsets)
            if not self._finished.done():
                self._finished.set_result(None)
            return
        self._check_finished()

    def _check_finished(self) -> None:
        if self._next >= len(self._offsets) and not self._in_flight and not self._finished.done():
            self._finished.set_result(None)


def open_loop_pool_size() -> int:
    """How many connections the open loop may hold (0: no limit).

    As many as the arrivals need, short of running out of file descriptors: a stall at
    1,000 req/s opens 1,000 connections a second, and past ``RLIMIT_NOFILE`` (often
    1,024) every call would fail with EMFILE and count as the server's error. Beyond the
    cap, calls wait for a connection; their latency still runs from the schedule.
    """
    try:
        import resource
    except ImportError:  # Windows
        return 0
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(16, soft - _SPARE_FDS)


async def _measure(load: HttpLoad, warmup: int, iterations: int | None, duration_s: float | None,
                   concurrency: int, rate: float | None) -> Measurement:
    http = Http1Client(load.url, load.method, load.headers, timeout_s=load.timeout_s,
                       limit=open_loop_pool_size() if rate else concurrency)
    try:
        client = _Client(http, load)
        if warmup:
            await closed_loop(client, warmup, None, concurrency, _Outcomes())
        out = _Outcomes()
        if rate is None:
            start = now_ns()
            await closed_loop(client, iterations, duration_s, concurrency, out)
        else:
            count = iterations if iterations is not None else max(1, round(rate * (duration_s or 0)))
            # The schedule and the timer are made before the clock starts: the first
            # numpy import alone would otherwise cost a short run its rate.
            arrivals = OpenLoop(client, poisson_offsets_ns(count, rate), out)
            start = now_ns()
            await arrivals.run()
        wall = now_ns() - start
    finally:
        await http.aclose()
    return Measurement(out.latencies, out.tally, len(out.latencies) * load.items_per_call, wall,
                       out.completions, start)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a load's coroutine to its end in a new event loop: every load kind runs here,
    so all of them get the same loop.

    The loop is uvloop's where it is installed (not on Windows), else asyncio's. At
    1,000 req/s on a 2-vCPU VM both gave the same p50 while the machine was quiet, uvloop
    for 8 % less client CPU per call (321 us against 349); with other processes competing
    for the cores (load 2 to 3), the p50 error was 18 % on uvloop and 95 % on asyncio
    (``tools/perf/bench_http.py`` measures it: ablation ``loop``).
    """
    try:
        import uvloop
    except ImportError:  # Windows, or not installed: asyncio's own loop
        return asyncio.run(main)
    return uvloop.run(main)  # type: ignore[no-any-return]


def _start_task(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """A task for ``coro`` that runs its first step now where Python can (3.12+), instead
    of one loop pass later."""
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=loop, eager_start=True)
    return loop.create_task(coro)


def measure_http(load: HttpLoad, *, warmup: int, iterations: int | None, duration_s: float | None,
                 concurrency: int = 1, rate: float | None = None) -> Measurement:
    """Measure ``load`` closed-loop with ``concurrency`` in flight, or open-loop at ``rate``
    requests/s, for ``iterations`` requests or ``duration_s`` seconds."""
    return run_loop(_measure(load, warmup, iterations, duration_s, concurrency, rate))
