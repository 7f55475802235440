"""How exact is benchtrail's open-loop HTTP driver, and does a stall show in its tail?

Against a loopback server (``tests/loopback.py``, own process) with a fixed service time:

(a) open loop at ``--rate`` (1,000 req/s) for ``--duration`` (10 s): the achieved rate
    (successful calls / wall time, as the record's throughput) against the target (goal:
    within 1 %), and the reported p50 against the truth (goal: within 5 %). The truth is
    the server's own p50 service time (handler start to answer) plus the loopback round
    trip of a bare blocking socket on a zero-service-time path (the mean of its medians
    just before and just after the run); benchtrail's own round trip on that path, one
    call at a time, is printed beside it. A bare socket's p50 on
    the 5 ms path itself (one request at a time, so each waits idle like benchtrail's)
    is printed as a second reference. The same run with one of benchtrail's choices
    undone shows what each buys (``--ablations``): the event loop's own timers instead of
    the timerfd (``timers``), calls started when the timer fires instead of a lead and a
    spin (``lead``), asyncio's event loop instead of uvloop (``loop``). ``--stages`` adds
    a run timed call by call on both sides: how late each request began, its way out to
    the server's handler, the service, and its way back.
(b) the same server stalling once for ``--stall`` (1 s): benchtrail's open-loop p99 must
    show the stall (goal: p99 >= half the stall; the value expected for Poisson arrivals
    is printed). For contrast, on the same re-armed stall: benchtrail's closed loop with
    ``--closed-concurrency`` (5) in flight, and ``wrk`` (closed loop). A closed loop sends
    nothing while its requests wait, so only a handful see the stall: coordinated
    omission. wrk 4 then *adds* synthetic samples for the requests it did not send
    (``stats_correct`` in wrk.c, from the mean per-connection interval), so its printed
    p99 is corrected after the fact; the server's own record of the wrk run is the
    uncorrected closed-loop view.

Each repeat runs everything in turn; figures are medians over repeats with min..max.
Not part of the test suite. Example::

    python tools/perf/bench_http.py            # 5 repeats of 10 s runs: about 8 minutes
    python tools/perf/bench_http.py --quick    # 3 repeats of 3 s runs: about 1.5 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from loopback import Loopback, serve  # noqa: E402

from benchtrail.bench import httpload  # noqa: E402
from benchtrail.bench.http1 import Http1Client  # noqa: E402
from benchtrail.bench.httpload import HttpLoad, measure_http  # noqa: E402

BODY = b'{"inputs": [[0.1, 0.2, 0.3, 0.4]]}'
_SPREAD_WARNING = 0.10  # pyperf's rule: stdev at least 10 % of the mean


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    import httptools

    wrk = shutil.which("wrk") or "not found"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.node()}: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, "
            f"load {load}; Python {platform.python_version()}, httptools {httptools.__version__}, "
            f"event loop {event_loop_name()}, wrk {wrk}")


def bare_socket_ms(server: Loopback, path: str = "/sleep/0", count: int = 300) -> float:
    """Median round trip of a bare blocking keep-alive socket, one request at a time.

    On ``/sleep/0`` it is the loopback's share of a latency (both sides busy, no idle).
    """
    request = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(BODY), BODY))
    times = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            start = time.perf_counter_ns()
            sock.sendall(request)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("loopback server closed the connection")
                data += chunk
                head, sep, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length:\s*(\d+)", head) if sep else None
                if match and len(body) >= int(match.group(1)):
                    break
            times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def loop_timers() -> Iterator[None]:
    """Run benchtrail's open loop on the event loop's own timers (``loop.call_later``), as
    before the timerfd."""
    original = httpload._Alarm._open_timerfd

    def refuse(self: Any) -> None:
        raise OSError("timerfd turned off by bench_http.py")

    httpload._Alarm._open_timerfd = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        httpload._Alarm._open_timerfd = original  # type: ignore[method-assign]


@contextlib.contextmanager
def no_lead() -> Iterator[None]:
    """Start each call when the timer fires, without the lead and the spin."""
    original = httpload.OpenLoop._MAX_LEAD_NS
    httpload.OpenLoop._MAX_LEAD_NS = 0
    try:
        yield
    finally:
        httpload.OpenLoop._MAX_LEAD_NS = original


@contextlib.contextmanager
def asyncio_loop() -> Iterator[None]:
    """Run on asyncio's event loop, as ``run_loop`` does where uvloop is missing."""
    saved = sys.modules.get("uvloop")
    sys.modules["uvloop"] = None  # type: ignore[assignment]  # import uvloop raises ImportError
    try:
        yield
    finally:
        if saved is None:
            del sys.modules["uvloop"]
        else:
            sys.modules["uvloop"] = saved


def event_loop_name() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio (uvloop not installed)"
    return f"uvloop {uvloop.__version__}"


#: name -> (key, label, context manager): each undoes one of benchtrail's choices
ABLATIONS = {
    "timers": ("t", "loop timers, no timerfd", loop_timers),
    "lead": ("l", "no lead", no_lead),
    "loop": ("u", "asyncio loop", asyncio_loop),
}


def measure(server: Loopback, *, warmup: int, duration_s: float, rate: float | None = None,
            concurrency: int = 1) -> dict[str, float]:
    load = HttpLoad(server + "/infer", "POST", {"Content-Type": "application/json"}, [BODY], 30.0, 1)
    cpu = time.process_time()
    m = measure_http(load, warmup=warmup, iterations=None, duration_s=duration_s, rate=rate,
                     concurrency=concurrency)
    cpu = time.process_time() - cpu
    latencies = sorted(value / 1e6 for value in m.latencies_ns)
    if not latencies:
        raise RuntimeError(f"no successful call: {m.tally}")
    return {
        "calls": m.tally.calls, "errors": m.tally.errors + m.tally.timeouts,
        "achieved": len(latencies) / (m.wall_ns / 1e9),
        "p50": _quantile(latencies, 0.50), "p99": _quantile(latencies, 0.99),
        "p999": _quantile(latencies, 0.999), "max": latencies[-1],
        "cpu_us": cpu / max(1, m.tally.calls + warmup) * 1e6,
    }


def hot_round_trip_ms(server: Loopback, count: int = 300) -> float:
    """benchtrail's p50 on ``/sleep/0``, one call at a time, as ``bare_socket_ms`` times a
    bare socket: the client's own cost when neither side waits idle."""
    load = HttpLoad(server + "/sleep/0", "POST", {"Content-Type": "application/json"}, [BODY], 30.0, 1)
    m = measure_http(load, warmup=20, iterations=count, duration_s=None)
    return statistics.median(m.latencies_ns) / 1e6


class _Stamped:
    """benchtrail's own client, keeping each call's scheduled time and the moment its
    request began (after the lead's spin)."""

    def __init__(self, client: Any, count: int) -> None:
        self._client = client
        self.scheduled = [0] * count
        self.begun = [0] * count

    async def call(self, index: int, started_ns: int, out: Any) -> None:
        self.begun[index] = time.perf_counter_ns()
        self.scheduled[index] = started_ns
        await self._client.call(index, started_ns, out)


async def _stamped_open_loop(server: Loopback, count: int, rate: float, warmup: int) -> tuple[_Stamped, Any]:
    # Each body carries its call's index, which the server's record gives back.
    bodies = [BODY[:-1] + b', "i": %d}' % i for i in range(count)]
    load = HttpLoad(server + "/infer", "POST", {"Content-Type": "application/json"}, bodies, 30.0, 1)
    http = Http1Client(load.url, load.method, load.headers, timeout_s=load.timeout_s,
                       limit=httpload.open_loop_pool_size())
    try:
        plain = httpload._Client(http, load)
        await httpload.closed_loop(plain, warmup, None, 1, httpload._Outcomes())
        server.reset()
        client, out = _Stamped(plain, count), httpload._Outcomes()
        await httpload.OpenLoop(client, httpload.poisson_offsets_ns(count, rate), out).run()
    finally:
        await http.aclose()
    return client, out


def stages(server: Loopback, *, warmup: int, duration_s: float, rate: float) -> dict[str, float]:
    """Where one open-loop run's time goes, call by call, from timestamps on both sides
    (one CLOCK_MONOTONIC): the medians of each stage in us.

    ``late``: scheduled time to the call's request beginning. ``out``: from there to the
    server's handler starting (the client's request path, the kernel, the server waking
    and parsing). ``service``: the handler. ``back``: the handler's answer to the answer's
    last byte being parsed (the server writing, the kernel, the client waking, reading
    and parsing). Stage medians need not add up to the total's.
    """
    count = min(max(1, round(rate * duration_s)), 10_000)  # the server keeps 10,000 requests' bodies
    client, out = httpload.run_loop(_stamped_open_loop(server, count, rate, warmup))
    index_of = {scheduled: i for i, scheduled in enumerate(client.scheduled)}
    finished = {index_of[end - latency]: end for latency, end in zip(out.latencies, out.completions)}
    timings = server.timings()
    columns: dict[str, list[int]] = {"late": [], "out": [], "service": [], "back": [], "total": []}
    for request, arrival, service in zip(server.received(), timings["arrival_ns"], timings["service_ns"]):
        i = request["json"]["i"]
        if i not in finished:
            continue
        columns["late"].append(client.begun[i] - client.scheduled[i])
        columns["out"].append(arrival - client.begun[i])
        columns["service"].append(service)
        columns["back"].append(finished[i] - arrival - service)
        columns["total"].append(finished[i] - client.scheduled[i])
    return {name: statistics.median(values) / 1e3 for name, values in columns.items() if values}


def server_view(server: Loopback) -> dict[str, float]:
    """The server's own record of a run: each request's time from arrival to answer."""
    service = server.stats()["service_ms"]
    return {"p50": service["p50"], "p99": service["p99"], "max": service["max"], "count": service["count"]}


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(number) * _WRK_UNITS[unit]


def wrk_command(url: str, threads: int, connections: int, duration_s: float) -> list[str]:
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency", url]


def run_wrk(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    out = done.stdout
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    latency = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    requests = re.search(r"^\s+(\d+) requests in", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if not (dist and latency and requests and rps):
        raise RuntimeError(f"cannot read wrk's output:\n{out}\n{done.stderr}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50": _wrk_ms(dist["50"]), "p99": _wrk_ms(dist["99"]), "max": _wrk_ms(latency.group(3)),
            "requests": float(requests.group(1)), "rate": float(rps.group(1)),
            "errors": float(errors.group(1)) if errors else 0.0}


def summary(values: list[float]) -> tuple[float, float, float, bool]:
    """Median, min, max, and whether the spread is large (stdev >= 10 % of the mean)."""
    mean = statistics.fmean(values)
    noisy = len(values) > 1 and mean != 0 and statistics.stdev(values) >= _SPREAD_WARNING * abs(mean)
    return statistics.median(values), min(values), max(values), noisy


def show(label: str, values: list[float], fmt: str = "{:.3f}", unit: str = "", spread: bool = True) -> float:
    """Print median [min .. max]; warn on a large spread unless ``spread`` is False (for
    signed errors near zero, where a relative spread means nothing)."""
    median, low, high, noisy = summary(values)
    warn = "   WARNING: large spread (stdev >= 10% of mean)" if noisy and spread else ""
    print(f"  {label:<44} {fmt.format(median):>10} {unit:<6} [{fmt.format(low)} .. {fmt.format(high)}]{warn}")
    return median


def stall_p99_model_ms(stall_s: float, duration_s: float, base_ms: float) -> float:
    """p99 expected when a fraction stall/duration of Poisson arrivals each wait a uniform
    part of the stall: the slowest 1 % are the slowest (0.01 * duration / stall) of those."""
    share = 0.01 * duration_s / stall_s
    return (1 - share) * stall_s * 1e3 + base_ms if share < 1 else base_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of 3 s, a 0.5 s stall")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (5; 3 with --quick)")
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop rate, req/s (1000)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (10; 3 with --quick)")
    parser.add_argument("--service-ms", type=float, default=5.0, help="server service time (5 ms)")
    parser.add_argument("--stall", type=float, default=None, help="stall length, s (1; 0.5 with --quick)")
    parser.add_argument("--stall-at", type=float, default=None,
                        help="stall start, s after a run's first request (3; 1 with --quick)")
    parser.add_argument("--warmup", type=int, default=50, help="benchtrail warm-up calls (50)")
    parser.add_argument("--closed-concurrency", type=int, default=5,
                        help="benchtrail closed-loop requests in flight on the stalling server (5)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", default="50,5",
                        help="comma-separated wrk -c values, each run on the stalling server (50,5)")
    parser.add_argument("--stages", action="store_true",
                        help="one more open-loop run per repeat, timed stage by stage on both sides")
    parser.add_argument("--ablations", default=",".join(ABLATIONS),
                        help=f"comma-separated runs with one choice undone, of {', '.join(ABLATIONS)} "
                             "(all; '' for none)")
    args = parser.parse_args(argv)
    ablations = [a for a in args.ablations.split(",") if a]
    if unknown := set(ablations) - set(ABLATIONS):
        parser.error(f"unknown ablations {sorted(unknown)}")
    if "loop" in ablations and event_loop_name().startswith("asyncio"):
        ablations.remove("loop")  # already on asyncio's loop
    repeats = args.repeats or (3 if args.quick else 5)
    duration_s = args.duration or (3.0 if args.quick else 10.0)
    stall_s = args.stall or (0.5 if args.quick else 1.0)
    stall_at_s = args.stall_at if args.stall_at is not None else (1.0 if args.quick else 3.0)
    if stall_at_s + stall_s > duration_s:
        parser.error("the stall must end within the run: --stall-at + --stall > --duration")
    connections = [int(c) for c in args.wrk_connections.split(",") if c] if shutil.which("wrk") else []

    print(f"machine: {machine()}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"runs:    {repeats} repeats; open loop {args.rate:g} req/s for {duration_s:g} s, warm-up {args.warmup}, "
          f"service {args.service_ms:g} ms; stall {stall_s:g} s at {stall_at_s:g} s")
    if not shutil.which("wrk"):
        print("wrk:     not found on PATH: the wrk comparison is skipped")
    results: dict[str, list[float]] = {}

    def keep(prefix: str, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            results.setdefault(f"{prefix}_{key}", []).append(value)

    with serve(service_ms=args.service_ms) as server:
        for repeat in range(repeats):
            # (a) steady open loop, and its truth
            server.reset(stall_at_s=None, stall_s=0.0)
            rtt = bare_socket_ms(server)
            hot = hot_round_trip_ms(server)
            bare = bare_socket_ms(server, "/infer", count=200)
            server.reset()
            run = measure(server, warmup=args.warmup, duration_s=duration_s, rate=args.rate)
            service_p50 = server_view(server)["p50"]
            server.reset()
            rtt = (rtt + bare_socket_ms(server)) / 2  # before and after: a neighbour's burst in one weighs half
            truth = service_p50 + rtt
            keep("a", {**run, "server_p50": service_p50, "rtt": rtt, "truth": truth, "bare": bare, "hot": hot,
                       "rate_err": (run["achieved"] / args.rate - 1) * 100,
                       "p50_err": (run["p50"] / truth - 1) * 100, "p50_err_bare": (run["p50"] / bare - 1) * 100})
            line = (f"repeat {repeat + 1}: (a) {run['achieved']:.1f} req/s, p50 {run['p50']:.3f} ms vs truth "
                    f"{truth:.3f} ({results['a_p50_err'][-1]:+.1f} %)")
            for name in ablations:
                key, label, undo = ABLATIONS[name]
                server.reset()
                with undo():
                    other = measure(server, warmup=args.warmup, duration_s=duration_s, rate=args.rate)
                truth_other = server_view(server)["p50"] + rtt
                keep(key, {**other, "p50_err": (other["p50"] / truth_other - 1) * 100})
                line += f", {label} {results[f'{key}_p50_err'][-1]:+.1f} %"
            if args.stages:
                server.reset()
                keep("s", stages(server, warmup=args.warmup, duration_s=duration_s, rate=args.rate))
                line += f", stages total {results['s_total'][-1] / 1e3:.3f} ms"
            # (b) stalling once: open loop, closed loop, wrk
            server.reset(stall_at_s=stall_at_s, stall_s=stall_s)
            keep("b", measure(server, warmup=args.warmup, duration_s=duration_s, rate=args.rate))
            server.reset(stall_at_s=stall_at_s, stall_s=stall_s)
            keep("c", measure(server, warmup=args.warmup, duration_s=duration_s,
                              concurrency=args.closed_concurrency))
            line += f"; (b) p99 open {results['b_p99'][-1]:.1f} ms, closed {results['c_p99'][-1]:.1f} ms"
            for conns in connections:
                server.reset(stall_at_s=stall_at_s, stall_s=stall_s)
                command = wrk_command(server + "/infer", args.wrk_threads, conns, duration_s)
                if repeat == 0:
                    print(f"wrk command: {shlex.join(command)}")
                keep(f"wrk{conns}", run_wrk(command))
                keep(f"srv{conns}", server_view(server))
                line += f", wrk -c{conns} {results[f'wrk{conns}_p99'][-1]:.1f} ms"
            print(line, flush=True)

    model = stall_p99_model_ms(stall_s, duration_s, statistics.median(results["a_truth"]))
    print(f"\n(a) open loop, target {args.rate:g} req/s, service {args.service_ms:g} ms "
          f"(median of {repeats} [min .. max])")
    show("achieved rate (successful calls / wall)", results["a_achieved"], "{:.1f}", "req/s")
    rate_err = show("achieved rate error", results["a_rate_err"], "{:+.2f}", "%", spread=False)
    show("server-measured service time p50", results["a_server_p50"], unit="ms")
    show("loopback round trip (bare socket, /sleep/0)", results["a_rtt"], unit="ms")
    show("benchtrail's round trip there, one in flight", results["a_hot"], unit="ms")
    show("truth = service p50 + loopback", results["a_truth"], unit="ms")
    show("bare socket p50 on the 5 ms path", results["a_bare"], unit="ms")
    show("benchtrail p50", results["a_p50"], unit="ms")
    p50_err = show("benchtrail p50 error vs truth", results["a_p50_err"], "{:+.2f}", "%", spread=False)
    show("benchtrail p50 error vs bare socket", results["a_p50_err_bare"], "{:+.2f}", "%", spread=False)
    show("benchtrail p99", results["a_p99"], unit="ms")
    show("client CPU per request", results["a_cpu_us"], "{:.0f}", "us")
    show("errors + timeouts", results["a_errors"], "{:.0f}")
    for name in ablations:
        key, label, _ = ABLATIONS[name]
        show(f"{label}: achieved rate", results[f"{key}_achieved"], "{:.1f}", "req/s")
        show(f"{label}: p50", results[f"{key}_p50"], unit="ms")
        show(f"{label}: p50 error vs truth", results[f"{key}_p50_err"], "{:+.2f}", "%", spread=False)
        show(f"{label}: client CPU per request", results[f"{key}_cpu_us"], "{:.0f}", "us")
    if args.stages:
        print("\n(a) where the time goes: medians of each stage over the calls of a run (us)")
        show("late: scheduled time to the request's start", results["s_late"], "{:.0f}", "us")
        show("out: to the server's handler starting", results["s_out"], "{:.0f}", "us")
        show("service: the server's handler", results["s_service"], "{:.0f}", "us")
        show("back: the handler's answer to read() returning", results["s_back"], "{:.0f}", "us")
        show("total: scheduled time to read() returning", results["s_total"], "{:.0f}", "us")
    print(f"\n(b) one {stall_s:g} s stall at {stall_at_s:g} s; expected open-loop p99 for Poisson arrivals "
          f"{model:.1f} ms")
    print(f"  {'':<52} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>7}")
    rows = [(f"benchtrail open loop {args.rate:g} req/s", "b", "achieved"),
            (f"benchtrail closed loop, {args.closed_concurrency} in flight", "c", "achieved")]
    for conns in connections:
        rows.append((f"wrk -t{args.wrk_threads} -c{conns}, as printed (corrected)", f"wrk{conns}", "rate"))
        rows.append(("  the same run, server's record (uncorrected)", f"srv{conns}", None))
    for label, key, rate_key in rows:
        rate = f"{statistics.median(results[f'{key}_{rate_key}']):>7.0f}" if rate_key else f"{'':>7}"
        print(f"  {label:<52} {statistics.median(results[f'{key}_p50']):>8.2f} "
              f"{statistics.median(results[f'{key}_p99']):>8.1f} {statistics.median(results[f'{key}_max']):>8.1f} {rate}")
    show("benchtrail open-loop p99 (spread)", results["b_p99"], "{:.1f}", "ms")
    show("benchtrail closed-loop p99 (spread)", results["c_p99"], "{:.1f}", "ms")
    for conns in connections:
        show(f"wrk -c{conns} p99 as printed (spread)", results[f"wrk{conns}_p99"], "{:.1f}", "ms")
    stall_p99 = statistics.median(results["b_p99"])
    print("\ngoals:")
    print(f"  achieved rate within 1 % of target:     {'MET' if abs(rate_err) <= 1 else 'MISSED'} ({rate_err:+.2f} %)")
    print(f"  p50 within 5 % of truth:                {'MET' if abs(p50_err) <= 5 else 'MISSED'} ({p50_err:+.2f} %)")
    print(f"  stall shows in p99 (>= half the stall): {'MET' if stall_p99 >= 500 * stall_s else 'MISSED'} "
          f"({stall_p99:.1f} ms, expected {model:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
