"""A programmable HTTP server on 127.0.0.1 for tests and perf scripts.

The server runs in its own Python process (aiohttp.web's low-level server on asyncio), so
that at 1,000 requests/s on a 2-core machine it neither shares a GIL nor an event loop with
the client being measured. It binds a free port on 127.0.0.1 and exits with its parent
(it watches its stdin).

Usage::

    from loopback import serve

    with serve(service_ms=5) as server:       # server is the base URL, a str
        url = server + "/infer"               # "http://127.0.0.1:PORT/infer"
        ...                                   # send traffic
        server.received()                     # what it got, oldest first
        server.stats()                        # counts and server-side timings
        server.reset(stall_at_s=2, stall_s=1) # forget all that, re-arm a stall

``serve(service_ms=5.0, *, stall_at_s=None, stall_s=0.0, hang_s=60.0, keep=10_000)``
    ``service_ms``: fixed service time of every ordinary request. Requests are served
    concurrently (1,000 in flight take 5 ms, not 5 s). On Linux the wait is a timerfd,
    so it ends about 0.05-0.1 ms after the deadline (``stats()`` says how long it took)
    instead of asyncio's up-to-1-ms-late timers; elsewhere it is ``asyncio.sleep``.
    ``stall_at_s``, ``stall_s``: a one-off stall. The clock starts at the first request
    after start (or after ``reset``); every ordinary request arriving in
    ``[stall_at_s, stall_at_s + stall_s)`` waits until the window ends, then takes its
    service time. Requests already in service are not held.
    ``hang_s``: how long ``/hang`` keeps a request unanswered before giving up (504).
    ``keep``: how many requests' headers and bodies are kept for ``received()``;
    timings are kept for all.

Paths (any method; the query string is ignored):
    ``/error``          HTTP 500 at once (no service time).
    ``/status/<code>``  that status at once.
    ``/hang``           no answer for ``hang_s`` seconds: for client timeouts.
    ``/sleep/<ms>``     like an ordinary request with a service time of ``<ms>``.
    anything else       an ordinary request: after the service time, HTTP 200 with
                        ``{"ok": true, "n": <request number>}``.
    ``/_loopback/...``  the control calls below; never recorded, never stalled.

Methods of the object ``serve`` yields (a ``str`` subclass: the base URL, no trailing /):
    ``.url``, ``.port``
    ``.received()`` -> list of dicts, oldest first, at most ``keep``:
        ``method``, ``path``, ``query``, ``headers`` (dict, as sent), ``body`` (text),
        ``json`` (the parsed body, or None), ``status``.
    ``.stats()`` -> dict: ``requests`` (all non-control requests), ``by_status``
        ({"200": n, ...}), ``in_flight``, ``service_ms`` (``p50``, ``p90``, ``p99``,
        ``max``, ``mean``, ``count`` of the time from the handler's start to its answer,
        stall included, ordinary requests only; None before any), ``precise_timer``
        (bool: the timerfd is in use).
    ``.timings()`` -> dict of lists for ordinary requests in arrival order:
        ``arrival_ns`` (``time.perf_counter_ns`` in the server, the same
        CLOCK_MONOTONIC as the client's on Linux) and ``service_ns``.
    ``.reset(**changes)``: forget requests and timings; re-arm the stall to start
        counting from the next request; ``changes`` may set ``service_ms``,
        ``stall_at_s``, ``stall_s``, ``hang_s``.

Run ``python tests/loopback.py --service-ms 5`` to serve by hand: it prints the port and
stops at the end of its standard input (Ctrl-D).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from childserver import ChildServer, child_port

__all__ = ["Loopback", "processes_talking_to", "serve"]

_CONTROL = "/_loopback/"


class Loopback(ChildServer):
    """The server's base URL (``http://127.0.0.1:PORT``), with its control calls."""

    CONTROL = _CONTROL

    def received(self) -> list[dict[str, Any]]:
        return self._control("received")

    def stats(self) -> dict[str, Any]:
        return self._control("stats")

    def timings(self) -> dict[str, list[int]]:
        return self._control("timings")

    def reset(self, **changes: Any) -> None:
        self._control("reset", changes)


@contextlib.contextmanager
def serve(service_ms: float = 5.0, *, stall_at_s: float | None = None, stall_s: float = 0.0,
          hang_s: float = 60.0, keep: int = 10_000) -> Iterator[Loopback]:
    """Start the server in a child process; yield its base URL; stop it on exit."""
    config = {"service_ms": service_ms, "stall_at_s": stall_at_s, "stall_s": stall_s,
              "hang_s": hang_s, "keep": keep}
    with child_port(os.path.abspath(__file__), "--config", json.dumps(config), what="loopback server") as port:
        yield Loopback(port)


# --------------------------------------------------------------------------- the child


class _Timer:
    """``await timer.until(deadline_ns)``: wake at a perf_counter_ns deadline.

    On Linux, one timerfd in the event loop, armed for the earliest deadline: it wakes
    epoll within the kernel's timer slack. asyncio's own timers go through epoll_wait's
    millisecond timeout, rounded up, and so end up to 1 ms late.
    """

    def __init__(self, loop: Any) -> None:
        import heapq

        self._loop = loop
        self._heap: list[tuple[int, int, Any]] = []
        self._push, self._pop = heapq.heappush, heapq.heappop
        self._seq = 0
        self._armed: int | None = None
        self._fd = -1
        self.precise = False
        if sys.platform.startswith("linux") and time.get_clock_info("perf_counter").implementation.startswith(
            "clock_gettime(CLOCK_MONOTONIC)"
        ):
            try:
                self._setup_timerfd()
            except (OSError, AttributeError):
                self._fd = -1

    def _setup_timerfd(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)

        class Timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        class Itimerspec(ctypes.Structure):
            _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]

        fd = libc.timerfd_create(1, os.O_NONBLOCK | os.O_CLOEXEC)  # CLOCK_MONOTONIC
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")
        self._libc, self._spec_type, self._fd = libc, Itimerspec, fd
        self._loop.add_reader(fd, self._fire)
        self.precise = True

    def _arm(self, deadline_ns: int) -> None:
        import ctypes

        self._armed = deadline_ns
        spec = self._spec_type()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(max(deadline_ns, 1), 1_000_000_000)
        if self._libc.timerfd_settime(self._fd, 1, ctypes.byref(spec), None) != 0:  # TFD_TIMER_ABSTIME
            raise OSError(ctypes.get_errno(), "timerfd_settime")

    def _fire(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            pass
        now = time.perf_counter_ns()
        heap = self._heap
        while heap and heap[0][0] <= now:
            future = self._pop(heap)[2]
            if not future.done():
                future.set_result(None)
        self._armed = None
        if heap:
            self._arm(heap[0][0])

    async def until(self, deadline_ns: int) -> None:
        import asyncio

        if self._fd < 0:
            delay = deadline_ns - time.perf_counter_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            return
        if deadline_ns <= time.perf_counter_ns():
            return
        future = self._loop.create_future()
        self._seq += 1
        self._push(self._heap, (deadline_ns, self._seq, future))
        if self._armed is None or deadline_ns < self._armed:
            self._arm(deadline_ns)
        await future


class _State:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.clear()

    def clear(self) -> None:
        from array import array

        self.first_ns: int | None = None
        self.requests = 0
        self.in_flight = 0
        self.by_status: dict[str, int] = {}
        self.kept: list[dict[str, Any]] = []
        self.arrival_ns = array("q")
        self.service_ns = array("q")

    def stall_end(self, arrival_ns: int) -> int | None:
        """When a request arriving at ``arrival_ns`` may start, if the stall holds it."""
        at, length = self.config.get("stall_at_s"), self.config.get("stall_s") or 0.0
        if at is None or length <= 0 or self.first_ns is None:
            return None
        start = self.first_ns + int(at * 1e9)
        end = start + int(length * 1e9)
        return end if start <= arrival_ns < end else None


def _percentiles(values: Any) -> dict[str, float] | None:
    if not len(values):
        return None
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] / 1e6

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1] / 1e6,
            "mean": sum(ordered) / n / 1e6, "count": n}


async def _main(config: dict[str, Any]) -> None:
    import asyncio

    from aiohttp import web

    loop = asyncio.get_running_loop()
    timer = _Timer(loop)
    state = _State(config)
    done = asyncio.Event()

    def json_response(payload: Any, status: int = 200) -> web.Response:
        return web.Response(body=json.dumps(payload).encode(), status=status, content_type="application/json")

    async def control(request: web.BaseRequest, what: str) -> web.Response:
        if what == "received":
            return json_response(state.kept)
        if what == "stats":
            return json_response({
                "requests": state.requests, "by_status": state.by_status, "in_flight": state.in_flight,
                "service_ms": _percentiles(state.service_ns), "precise_timer": timer.precise,
            })
        if what == "timings":
            pairs = sorted(zip(state.arrival_ns, state.service_ns))  # kept as they finished
            return json_response({"arrival_ns": [a for a, _ in pairs], "service_ns": [s for _, s in pairs]})
        if what == "reset":
            changes = await request.json() if request.can_read_body else {}
            unknown = set(changes) - {"service_ms", "stall_at_s", "stall_s", "hang_s"}
            if unknown:
                return json_response({"error": f"unknown settings {sorted(unknown)}"}, status=400)
            state.config.update(changes)
            state.clear()
            return json_response({"ok": True})
        return json_response({"error": f"unknown control call {what!r}"}, status=404)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        arrival = time.perf_counter_ns()
        path = request.path
        if path.startswith(_CONTROL):
            return await control(request, path[len(_CONTROL):])
        if state.first_ns is None:
            state.first_ns = arrival
        state.requests += 1
        number = state.requests
        state.in_flight += 1
        body = await request.read()
        entry: dict[str, Any] | None = None
        if len(state.kept) < state.config["keep"]:
            text = body.decode("utf-8", "replace")
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            entry = {"method": request.method, "path": path, "query": request.query_string,
                     "headers": dict(request.headers), "body": text, "json": parsed, "status": None}
            state.kept.append(entry)
        try:
            status, payload = await answer(path, arrival, number)
        finally:
            state.in_flight -= 1
        if entry is not None:
            entry["status"] = status
        state.by_status[str(status)] = state.by_status.get(str(status), 0) + 1
        return json_response(payload, status)

    async def answer(path: str, arrival: int, number: int) -> tuple[int, Any]:
        if path == "/error":
            return 500, {"error": "server error, on purpose"}
        if path.startswith("/status/"):
            return int(path.rsplit("/", 1)[1]), {"status": "on purpose"}
        if path == "/hang":
            try:
                await asyncio.wait_for(done.wait(), timeout=state.config["hang_s"])
            except asyncio.TimeoutError:
                pass
            return 504, {"error": "hung on purpose"}
        service_ms = float(path.rsplit("/", 1)[1]) if path.startswith("/sleep/") else state.config["service_ms"]
        start = state.stall_end(arrival) or arrival
        await timer.until(start + int(service_ms * 1e6))
        state.arrival_ns.append(arrival)
        state.service_ns.append(time.perf_counter_ns() - arrival)
        return 200, {"ok": True, "n": number}

    server = web.Server(handler, access_log=None)
    runner = web.ServerRunner(server, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()

    # The parent closes our stdin to stop us, or dies: either way stdin reads EOF.
    stdin = sys.stdin.buffer.fileno()
    os.set_blocking(stdin, False)

    def on_stdin() -> None:
        try:
            if os.read(stdin, 4096):
                return
        except BlockingIOError:
            return
        done.set()

    loop.add_reader(stdin, on_stdin)
    await done.wait()
    loop.remove_reader(stdin)
    await runner.cleanup()


def _child(argv: list[str]) -> None:
    import argparse
    import asyncio
    import resource

    parser = argparse.ArgumentParser(description="Serve a loopback test server on 127.0.0.1.")
    parser.add_argument("--config", default="{}", help="JSON settings, as serve() takes them")
    parser.add_argument("--service-ms", type=float, default=None)
    args = parser.parse_args(argv)
    config = {"service_ms": 5.0, "stall_at_s": None, "stall_s": 0.0, "hang_s": 60.0, "keep": 10_000}
    config.update(json.loads(args.config))
    if args.service_ms is not None:
        config["service_ms"] = args.service_ms
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    asyncio.run(_main(config))


if __name__ == "__main__":
    _child(sys.argv[1:])


def processes_talking_to(port: int) -> list[str]:
    """The command lines of the processes whose arguments name ``127.0.0.1:port`` (git's
    helpers carry the remote's URL): what still talks to a loopback server."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = entry.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if f"127.0.0.1:{port}/" in line:
            found.append(line)
    return found
