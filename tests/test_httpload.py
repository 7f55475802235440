"""measure_http against a real loopback server: counts, latencies, errors, stalls."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Loopback, serve

from benchtrail.bench import httpload
from benchtrail.bench.clock import now_ns
from benchtrail.bench.httpload import HttpLoad, OpenLoop, measure_http, poisson_offsets_ns, run_loop
from benchtrail.bench.metrics import robust_rate
from benchtrail.bench.runner import run_suite
from benchtrail.bench.suite import load_suite

SERVICE_MS = 5.0
BODY = b'{"inputs": [1, 2]}'


@pytest.fixture(scope="module")
def _server() -> Iterator[Loopback]:
    with serve(service_ms=SERVICE_MS) as server:
        yield server


@pytest.fixture
def server(_server: Loopback) -> Loopback:
    """The module's server, reset to a 5 ms service time and no stall."""
    _server.reset(service_ms=SERVICE_MS, stall_at_s=None, stall_s=0.0)
    return _server


def _load(url: str, *, timeout_s: float = 10.0, items_per_call: int = 1, method: str = "POST") -> HttpLoad:
    return HttpLoad(url, method, {"Content-Type": "application/json"}, [BODY], timeout_s, items_per_call)


def _refused_url() -> Iterator[str]:
    """A port bound but not listening: connecting to it is refused, and no one else gets it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/infer"


def _ms(measurement_latencies: object) -> list[float]:
    return sorted(value / 1e6 for value in measurement_latencies)  # type: ignore[attr-defined]


def _quantile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


def test_closed_loop_counts_and_latency_near_service_time(server: Loopback) -> None:
    m = measure_http(_load(server + "/infer", items_per_call=2), warmup=5, iterations=120,
                     duration_s=None, concurrency=4)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (120, 0, 0)
    assert len(m.latencies_ns) == 120 and m.items == 240
    latencies = _ms(m.latencies_ns)
    assert latencies[0] >= SERVICE_MS  # the server holds every request that long
    assert _quantile(latencies, 0.5) < SERVICE_MS + 5  # loopback adds well under 5 ms
    assert m.wall_ns < 0.8 * 120 * SERVICE_MS * 1e6  # 4 in flight: served concurrently
    stats = server.stats()
    assert stats["requests"] == 125 and stats["by_status"] == {"200": 125}
    received = server.received()
    assert {r["method"] for r in received} == {"POST"}
    assert all(r["json"] == {"inputs": [1, 2]} for r in received)


def test_closed_loop_for_a_duration(server: Loopback) -> None:
    m = measure_http(_load(server + "/infer"), warmup=0, iterations=None, duration_s=0.4, concurrency=2)
    assert m.tally.errors == 0 and m.tally.calls == len(m.latencies_ns)
    assert 0.4e9 <= m.wall_ns < 0.4e9 + 0.5e9
    assert 20 <= m.tally.calls <= 0.4 / (SERVICE_MS / 1e3) * 2 + 2


@pytest.fixture(params=["timerfd", "asyncio-timers"])
def timers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the open loop keeps time: a timerfd (Linux), or asyncio's timers."""
    if request.param == "asyncio-timers":
        def refuse(self: object) -> None:
            raise OSError("no timerfd here")

        monkeypatch.setattr(httpload._Alarm, "_open_timerfd", refuse)
    return str(request.param)


@pytest.fixture(params=["uvloop", "asyncio"])
def event_loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both loops ``run_loop`` may run: uvloop's where installed, asyncio's where not."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    else:
        monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    return str(request.param)


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_run_loop_runs_uvloop_where_installed() -> None:
    pytest.importorskip("uvloop")
    assert run_loop(_loop_module()).startswith("uvloop")


def test_run_loop_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert run_loop(_loop_module()).startswith("asyncio")


class _Starts:
    """A client that sends nothing: it keeps how late each call started against its schedule."""

    def __init__(self) -> None:
        self.late_ns: list[int] = []

    async def call(self, index: int, started_ns: int, out: object) -> None:
        self.late_ns.append(now_ns() - started_ns)


def test_open_loop_never_starts_a_call_early(timers: str, event_loop_kind: str) -> None:
    """Tasks are made a lead ahead of time and spin the rest: no call may start before its
    scheduled time, and the lead stays within its bounds."""
    async def main() -> tuple[list[int], int]:
        client = _Starts()
        arrivals = OpenLoop(client, poisson_offsets_ns(400, 2000.0), None)
        await arrivals.run()
        return client.late_ns, arrivals._lead_ns

    late, lead = run_loop(main())
    assert len(late) == 400 and min(late) >= 0
    assert 0 <= lead <= OpenLoop._MAX_LEAD_NS
    assert sorted(late)[200] < 2_000_000  # on time to within the timer's grain, even on a busy runner


def test_open_loop_achieves_the_rate(server: Loopback, timers: str, event_loop_kind: str) -> None:
    rate, duration_s = 200.0, 1.5
    m = measure_http(_load(server + "/infer"), warmup=0, iterations=None, duration_s=duration_s, rate=rate)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (300, 0, 0)
    assert len(m.latencies_ns) == 300
    assert duration_s * 1e9 <= m.wall_ns < (duration_s + 0.25) * 1e9
    assert 300 / (m.wall_ns / 1e9) > 0.85 * rate
    latencies = _ms(m.latencies_ns)
    assert latencies[0] >= SERVICE_MS and _quantile(latencies, 0.5) < SERVICE_MS + 5
    arrivals = server.timings()["arrival_ns"]
    assert len(arrivals) == 300
    span_s = (arrivals[-1] - arrivals[0]) / 1e9  # the schedule's first to last arrival
    assert duration_s * 0.9 < span_s < duration_s + 0.2


def test_open_loop_with_a_count(server: Loopback) -> None:
    m = measure_http(_load(server + "/infer"), warmup=3, iterations=40, duration_s=None, rate=400.0)
    assert (m.tally.calls, len(m.latencies_ns)) == (40, 40)
    assert server.stats()["requests"] == 43


@pytest.mark.parametrize("rate", [None, 300.0])
def test_http_errors_are_counted_not_dropped(server: Loopback, rate: float | None) -> None:
    m = measure_http(_load(server + "/error"), warmup=2, iterations=30, duration_s=None,
                     concurrency=3, rate=rate)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (30, 30, 0)
    assert len(m.latencies_ns) == 0 and m.items == 0
    assert m.tally.error_samples == ["HTTP 500"]
    assert server.stats()["by_status"] == {"500": 32}


@pytest.mark.parametrize(("status", "samples"), [
    (404, ["HTTP 404"]),
    (302, ["HTTP 302: a redirect, not followed (set the url to the address it names)"]),
    (201, []),
])
def test_statuses_from_300_up_are_failed_calls(server: Loopback, status: int, samples: list[str]) -> None:
    load = HttpLoad(server + f"/status/{status}", "GET", {}, [None], 10.0, 1)
    m = measure_http(load, warmup=0, iterations=5, duration_s=None)
    assert (m.tally.calls, m.tally.errors) == (5, 5 if samples else 0) and m.tally.error_samples == samples
    assert len(m.latencies_ns) == (0 if samples else 5)


@pytest.mark.parametrize("rate", [None, 300.0])
def test_connection_refused_is_counted(rate: float | None) -> None:
    for url in _refused_url():
        m = measure_http(_load(url), warmup=0, iterations=20, duration_s=None, concurrency=2, rate=rate)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (20, 20, 0)
    assert len(m.latencies_ns) == 0
    assert len(m.tally.error_samples) >= 1
    assert m.tally.error_samples == [f"connection refused by {url.split('/')[2]}"]


@pytest.mark.parametrize("rate", [None, 50.0])
def test_timeouts_are_counted_apart(server: Loopback, rate: float | None) -> None:
    m = measure_http(_load(server + "/hang", timeout_s=0.2), warmup=0, iterations=4, duration_s=None,
                     concurrency=4, rate=rate)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (4, 0, 4)
    assert m.tally.error_samples == ["timeout after 0.2 s"]
    assert len(m.latencies_ns) == 0
    assert m.wall_ns < 2e9


def test_a_bug_is_raised_not_counted(server: Loopback) -> None:
    with pytest.raises(ValueError):
        measure_http(_load(server + "/infer", method="BAD METHOD"), warmup=0, iterations=5,
                     duration_s=None, rate=100.0)


def test_a_stall_shows_in_the_open_loop_tail(server: Loopback) -> None:
    """Requests due while the server stalls count their wait from their scheduled start."""
    stall_s, duration_s, rate = 0.4, 2.0, 200.0
    server.reset(service_ms=2.0, stall_at_s=0.5, stall_s=stall_s)
    m = measure_http(_load(server + "/infer"), warmup=0, iterations=None, duration_s=duration_s, rate=rate)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (400, 0, 0)
    latencies = _ms(m.latencies_ns)
    # 20 % of the arrivals fall in the stall, waiting 0..0.4 s: the top 1 % wait >= 0.38 s.
    assert _quantile(latencies, 0.99) >= 0.75 * stall_s * 1e3
    assert latencies[-1] <= (stall_s + 0.3) * 1e3
    assert _quantile(latencies, 0.5) < 20  # the rest are untouched
    assert server.stats()["service_ms"]["max"] >= 0.9 * stall_s * 1e3


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_stall_leaves_the_closed_loop_robust_rate(server: Loopback, concurrency: int) -> None:
    """The worker keeps every successful call's completion time: one server stall slows
    one slice of the run, and the median slice rate stays the run's rate outside the
    stall (compared within the run: back-to-back runs on a busy runner differ more)."""
    stall_s = 0.6
    server.reset(service_ms=2.0, stall_at_s=0.05, stall_s=stall_s)
    m = measure_http(_load(server + "/infer"), warmup=0, iterations=300, duration_s=None, concurrency=concurrency)
    offsets = m.completion_offsets_ns()
    assert len(offsets) == len(m.latencies_ns) == 300 and 0 < offsets[0] and offsets[-1] <= m.wall_ns
    outside_stall = m.items / (m.wall_ns / 1e9 - stall_s)
    assert m.items / (m.wall_ns / 1e9) < 0.8 * outside_stall  # items over wall time takes the stall
    assert robust_rate(offsets, m.items, concurrency) == pytest.approx(outside_stall, rel=0.2)


def test_open_loop_keeps_completion_times(server: Loopback) -> None:
    m = measure_http(_load(server + "/infer"), warmup=0, iterations=50, duration_s=None, rate=500.0)
    offsets = m.completion_offsets_ns()
    assert len(offsets) == 50 and list(offsets) == sorted(offsets) and offsets[-1] <= m.wall_ns


_LOW_FD_SCRIPT = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(200, hard), hard))
from benchtrail.bench.httpload import HttpLoad, measure_http
load = HttpLoad(sys.argv[1], "POST", {}, [b"{}"], 10.0, 1)
m = measure_http(load, warmup=0, iterations=None, duration_s=1.0, rate=600.0)
latencies = sorted(m.latencies_ns)
print(m.tally.calls, m.tally.errors, m.tally.timeouts, latencies[int(0.99 * len(latencies))])
"""


def test_a_stall_within_a_low_file_limit_is_latency_not_errors(server: Loopback) -> None:
    """300 calls wait out the stall, more than 200 file descriptors allow connections:
    the rest wait for a connection instead of failing with EMFILE."""
    server.reset(service_ms=2.0, stall_at_s=0.2, stall_s=0.5)
    done = subprocess.run([sys.executable, "-c", _LOW_FD_SCRIPT, server + "/infer"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    calls, errors, timeouts, p99_ns = map(int, done.stdout.split())
    assert (calls, errors, timeouts) == (600, 0, 0)
    assert p99_ns >= 0.35e9


def test_poisson_offsets_are_deterministic_and_end_at_n_over_rate() -> None:
    offsets = poisson_offsets_ns(1000, 1000.0)
    assert offsets == poisson_offsets_ns(1000, 1000.0)
    assert offsets != poisson_offsets_ns(1000, 1000.0, seed=1)
    assert offsets[-1] == 1_000_000_000
    assert all(later >= earlier for earlier, later in zip(offsets, offsets[1:]))
    assert offsets[0] > 0
    gaps = [later - earlier for earlier, later in zip([0, *offsets], offsets)]
    assert max(gaps) > 3 * min(gaps) + 1  # exponential gaps, not a metronome
    for count, rate in [(1, 3.0), (2, 3.0), (999, 7.5), (1234, 333.3)]:
        assert poisson_offsets_ns(count, rate)[-1] == round(count * 1e9 / rate)
    assert poisson_offsets_ns(0, 10.0) == []


SUITE = """
[suite]
name = "http-suite"

[[benchmark]]
name = "infer"
url = "{url}/infer"
headers = {{Authorization = "Bearer ${{TOKEN}}"}}
body = {{inputs = "$batch"}}
dataset = "data/rows.jsonl"
batch_size = 2
warmup = 2
iterations = 10
"""


def test_worker_sends_bodies_and_headers_and_keeps_the_token_out(
    server: Loopback, suite_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-token-4242"
    monkeypatch.setenv("TOKEN", secret)
    (suite_dir / "suite.toml").write_text(SUITE.format(url=server), encoding="utf-8")
    out = tmp_path / "out"
    path, record = run_suite(load_suite(suite_dir / "suite.toml"), out)

    received = server.received()
    assert len(received) == 12
    assert {r["headers"]["Authorization"] for r in received} == {f"Bearer {secret}"}
    assert {r["headers"]["Content-Type"] for r in received} == {"application/json"}
    assert {r["method"] for r in received} == {"POST"}
    # rows.jsonl holds 0..9: five batches of two, cycled; 2 warm-up calls, then 10.
    batches = [{"inputs": [2 * k, 2 * k + 1]} for k in range(5)]
    assert [r["json"] for r in received] == batches[:2] + batches + batches

    (entry,) = record.to_json()["benchmarks"]
    assert (entry["calls"], entry["errors"], entry["timeouts"]) == (10, 0, 0)
    assert entry["params"] == {"batch_size": 2}
    assert entry["metrics"]["latency_ms"]["min"] >= SERVICE_MS
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written == [path]
    assert secret not in path.read_text(encoding="utf-8")
    assert secret not in json.dumps(record.to_json())

