"""measure_openai against a real streaming server in its own process (``llmserver``):
token timings, counts, each fault's kind, readiness and request bodies.

The full-load figures of the report (64 streams of 100 tokens/s) come from the same
helper as the moderate-load test::

    cd tests && python -c "from test_openai import accuracy_figures as f; print(f(64, 20.0))"
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from llmserver import MODEL, PROGRAM, LLMServer, serve

from benchtrail.bench.openai import OpenAILoad, StreamMeasurement, measure_openai
from benchtrail.bench.openai_requests import is_chat, request_bodies

MEASURE_LIMIT_S = 60
CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
FAST = {**PROGRAM, "ttft_ms": 5.0, "itl_ms": 2.0, "output_tokens": 8}


@pytest.fixture(scope="module")
def _server() -> Iterator[LLMServer]:
    with serve(**FAST) as server:
        yield server


@pytest.fixture
def server(_server: LLMServer) -> LLMServer:
    """The module's server, reset to a fast program: 8 tokens, 5 ms to the first, 2 ms apart."""
    _server.reset(**FAST)
    return _server


def _bodies(chat: bool = True, count: int = 4, **sampling: Any) -> list[bytes]:
    return request_bodies([f"prompt {i}" for i in range(count)], model=MODEL, chat=chat, max_tokens=None,
                          sampling=sampling, where="prompts.jsonl")


def _load(url: str, bodies: list[bytes] | None = None, *, timeout_s: float = 10.0,
          headers: dict[str, str] | None = None) -> OpenAILoad:
    return OpenAILoad(url, {"Content-Type": "application/json", **(headers or {})},
                      bodies or _bodies(is_chat(url)), timeout_s)


def _within_limit(load: OpenAILoad, **options: Any) -> StreamMeasurement:
    """``measure_openai(load, **options)``, or the test fails after ``MEASURE_LIMIT_S``:
    it runs in a thread of its own, since a signal cannot break into uvloop's loop."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(measure_openai(load, **options))
        except BaseException as exc:  # re-raised in the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(MEASURE_LIMIT_S)
    if not outcome:
        pytest.fail(f"measure_openai still running after {MEASURE_LIMIT_S} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]  # type: ignore[no-any-return]


def _measure(load: OpenAILoad, iterations: int = 16, concurrency: int = 4, **options: Any) -> StreamMeasurement:
    return _within_limit(load, warmup=options.pop("warmup", 0), iterations=iterations, duration_s=None,
                         concurrency=concurrency, **options)


@pytest.fixture(params=["uvloop", "asyncio"])
def event_loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both loops ``run_loop`` may run: uvloop's where installed, asyncio's where not."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    else:
        monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    return str(request.param)


def _aligned(m: StreamMeasurement) -> int:
    """How many requests succeeded, after checking every per-request array has that length."""
    lengths = {len(getattr(m, name)) for name in ("sent_ns", "ttft_ns", "ttft_sched_ns", "e2e_ns", "output_tokens",
                                                  "chunks", "done_ns")}
    assert len(lengths) == 1
    return lengths.pop()


# --------------------------------------------------------------------------- streams


def test_server_speaks_openai_streams(server: LLMServer) -> None:
    """The stand-in's own contract: role chunk, content, finish_reason on the last, usage, [DONE]."""
    server.reset(output_tokens=3)
    body = _bodies(True, 1)[0]
    request = urllib.request.Request(server + CHAT, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        lines = [line for line in response.read().decode().split("\n") if line]
    assert lines[0].startswith(":")  # a comment
    events = [json.loads(line[6:]) for line in lines[1:-1]]
    assert lines[-1] == "data: [DONE]"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [e["choices"][0]["delta"]["content"] for e in events[1:4]] == [" tok"] * 3
    assert [e["choices"][0]["finish_reason"] for e in events[1:4]] == [None, None, "stop"]
    assert events[4]["choices"] == [] and events[4]["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize("path", [CHAT, COMPLETIONS])
def test_stream_timings_and_counts(server: LLMServer, path: str, event_loop_kind: str) -> None:
    server.reset(ttft_ms=30.0, itl_ms=5.0, output_tokens=10)
    m = _measure(_load(server + path), iterations=12, concurrency=3, warmup=3)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (12, 0, 0)
    assert _aligned(m) == 12 and not m.open_loop
    assert m.output_tokens.tolist() == [10] * 12 and m.chunks.tolist() == [10] * 12 and m.usage_counted == 12
    ttft_ms = m.ttft_ns / 1e6
    assert ttft_ms.min() >= 30.0 and np.median(ttft_ms) < 33.0  # the role chunk is not the first token
    assert (m.ttft_sched_ns == m.ttft_ns).all()  # closed loop: sent when scheduled
    decode_ms = (m.e2e_ns - m.ttft_ns) / 1e6
    assert np.median(decode_ms) == pytest.approx(9 * 5.0, abs=2.0)
    assert len(m.itl_ns) == 12 * 9 and np.median(m.itl_ns) / 1e6 == pytest.approx(5.0, abs=1.0)
    assert (m.done_ns == m.sent_ns + m.e2e_ns).all() and (m.sent_ns >= 0).all()
    assert m.wall_ns >= m.done_ns.max() - m.sent_ns.min() > 0
    assert len(m.lag_ns) >= 1  # the probe ran: a sample each 5 ms
    assert server.stats()["streams"] == 15


def test_a_line_split_across_reads_is_joined(server: LLMServer) -> None:
    server.reset(ttft_ms=10.0, itl_ms=4.0, split_ms=1.0)
    m = _measure(_load(server + CHAT), iterations=6, concurrency=2)
    assert m.tally.errors == 0 and m.chunks.tolist() == [8] * 6
    assert m.ttft_ns.min() >= 11e6  # the first chunk counts once whole


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_chunks_are_content(server: LLMServer, field: str) -> None:
    server.reset(delta_field=field)
    m = _measure(_load(server + CHAT), iterations=4, concurrency=2)
    assert m.tally.errors == 0 and m.chunks.tolist() == [8] * 4


@pytest.mark.parametrize("usage", [False, True])
def test_tokens_from_usage_else_chunks(server: LLMServer, usage: bool) -> None:
    server.reset(output_tokens=30, tokens_per_chunk=3, usage=usage)
    m = _measure(_load(server + CHAT), iterations=6, concurrency=2)
    assert m.tally.errors == 0 and m.chunks.tolist() == [10] * 6
    assert m.output_tokens.tolist() == ([30] if usage else [10]) * 6
    assert m.usage_counted == (6 if usage else 0)


# --------------------------------------------------------------------------- failures


FAULTS = [  # (the server's fault, the kind it is counted as, how its message starts)
    ("malformed", "malformed_event", "malformed event: {\"choices\": [{\"delta\": {\"content\": \"tok"),
    ("drop", "cut_short", "the stream broke off: ClientPayloadError"),
    ("error_event", "server_error", "server error in the stream: {\"message\": \"the engine failed on purpose\""),
    ("status_429", "http_429", "HTTP 429: {\"error\": {\"message\": \"status_429, on purpose\""),
    ("status_503", "http_503", "HTTP 503: {\"error\": {\"message\": \"status_503, on purpose\""),
]


@pytest.mark.parametrize(("fault", "kind", "says"), FAULTS, ids=[fault for fault, _, _ in FAULTS])
def test_each_fault_is_counted_by_kind(server: LLMServer, fault: str, kind: str, says: str) -> None:
    server.reset(faults={fault: 4})
    m = _measure(_load(server + CHAT), iterations=16, concurrency=4)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (16, 4, 0)
    assert m.tally.kinds == {kind: 4}
    assert len(m.tally.error_samples) == 1 and m.tally.error_samples[0].startswith(says)
    assert _aligned(m) == 12 and m.output_tokens.tolist() == [8] * 12  # the others' figures, whole
    assert len(m.itl_ns) == 12 * 7  # a failed request adds no gaps


def test_a_request_can_ask_for_its_fault(server: LLMServer) -> None:
    bodies = _bodies(True, 2) + _bodies(True, 2, fault="error_event")
    m = _measure(_load(server + CHAT, bodies), iterations=8, concurrency=2)
    assert m.tally.kinds == {"server_error": 4} and _aligned(m) == 4


def test_a_stream_without_content_is_empty(server: LLMServer) -> None:
    server.reset(output_tokens=0)
    m = _measure(_load(server + COMPLETIONS), iterations=4, concurrency=2)
    assert m.tally.kinds == {"empty": 4} and _aligned(m) == 0 and len(m.itl_ns) == 0


def test_a_slow_stream_times_out(server: LLMServer) -> None:
    server.reset(ttft_ms=5000.0)
    started = time.monotonic()
    m = _measure(_load(server + CHAT, timeout_s=0.3), iterations=4, concurrency=2)
    assert time.monotonic() - started < 3
    assert (m.tally.errors, m.tally.timeouts, m.tally.kinds) == (0, 4, {"timeout": 4})
    assert m.tally.error_samples == ["timeout: the stream took over 0.3 s"]


def test_a_refused_connection_is_counted() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        m = _measure(_load(f"http://127.0.0.1:{sock.getsockname()[1]}{CHAT}"), iterations=3, concurrency=1)
    assert m.tally.kinds == {"connection": 3} and _aligned(m) == 0


def test_the_api_key_never_shows(server: LLMServer) -> None:
    secret = "sk-wrong-secret-4242"
    server.reset(api_key="sk-right")
    # the server does quote the key it was given, so the client must hide it
    request = urllib.request.Request(server + CHAT, data=_bodies()[0], headers={"Authorization": f"Bearer {secret}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)
    assert secret in caught.value.read().decode()
    m = _measure(_load(server + CHAT, headers={"Authorization": f"Bearer {secret}"}), iterations=3, concurrency=1)
    assert m.tally.kinds == {"http_401": 3}
    assert m.tally.error_samples == ['HTTP 401: {"error": {"message": "Incorrect API key provided: ***", '
                                     '"type": "Unauthorized", "param": null, "code": 401}}']
    assert secret not in repr(m) and secret not in repr(_load(server + CHAT, headers={"Authorization": secret}))
    good = _measure(_load(server + CHAT, headers={"Authorization": "Bearer sk-right"}), iterations=2, concurrency=1)
    assert good.tally.errors == 0


# --------------------------------------------------------------------------- load


def test_open_loop_shows_a_stall_in_both_ttfts(server: LLMServer, event_loop_kind: str) -> None:
    """A 1 s stall at 40 requests/s. The open loop keeps sending on schedule while the
    server stalls, so the requests that arrive during it wait for its end: ``ttft`` and
    ``ttft_sched`` p99 both show the stall, and differ only by the client's own lateness
    in sending (``ttft_sched - ttft``), which stays small. (A client that fell behind
    would hide the wait from ``ttft``; ``ttft_sched`` would still show it.)"""
    server.reset(ttft_ms=20.0, itl_ms=5.0, output_tokens=10, stall_at_s=1.0, stall_s=1.0)
    m = _measure(_load(server + CHAT), iterations=120, rate=40.0)
    assert m.open_loop and m.tally.errors == 0 and _aligned(m) == 120
    assert np.quantile(m.ttft_ns, 0.99) > 0.5e9 and np.quantile(m.ttft_sched_ns, 0.99) > 0.5e9
    assert (m.ttft_ns > 100e6).sum() >= 25  # about 40 arrived in the stall
    send_lag = m.ttft_sched_ns - m.ttft_ns
    assert send_lag.min() >= 0 and np.quantile(send_lag, 0.99) < 50e6
    assert len(m.lag_ns) >= 120  # each request's send lag, and the probe's samples
    assert m.itl_ns.max() > 0.5e9  # the streams caught mid-answer wait too


def accuracy_figures(streams: int, duration_s: float, *, ttft_ms: float = 100.0, itl_ms: float = 10.0,
                     tokens: int = 100) -> dict[str, float]:
    """Stream ``streams`` requests at a time for ``duration_s`` from a server programmed
    with ``ttft_ms``, ``itl_ms`` and ``tokens``: how far the client's p50s are from the
    program, how much of the TTFT the server's own lateness explains, the client's lag
    p99 and its CPU time per 1,000 tokens."""
    with serve(ttft_ms=ttft_ms, itl_ms=itl_ms, output_tokens=tokens) as server:
        load = _load(server + CHAT, _bodies(True, 64))
        server_cpu_s = server.stats()["cpu_s"]
        cpu_s = time.process_time()
        m = _within_limit(load, warmup=streams, iterations=None, duration_s=duration_s, concurrency=streams)
        cpu_s = time.process_time() - cpu_s
        stats, timings = server.stats(), server.timings()
        server_cpu_s = stats["cpu_s"] - server_cpu_s
    arrivals, firsts = (np.array(timings[name][streams:]) for name in ("arrival_ns", "first_chunk_ns"))  # no warm-up
    server_ttft = float(np.median(firsts[firsts > 0] - arrivals[firsts > 0])) / 1e6
    ttft = float(np.median(m.ttft_ns)) / 1e6
    tpot = float(np.median((m.e2e_ns - m.ttft_ns) / (m.output_tokens - 1))) / 1e6
    return {"requests": _aligned(m), "errors": m.tally.errors + m.tally.timeouts,
            "ttft_p50_ms": round(ttft, 3), "ttft_error_pct": round(100 * (ttft - ttft_ms) / ttft_ms, 2),
            "server_ttft_p50_ms": round(server_ttft, 3),  # its arrival to its first chunk's write
            "client_added_ttft_ms": round(ttft - server_ttft, 3),  # both ways on loopback, and the client's lag
            "tpot_p50_ms": round(tpot, 3), "tpot_error_pct": round(100 * (tpot - itl_ms) / itl_ms, 2),
            "lag_p99_ms": round(float(np.quantile(m.lag_ns, 0.99)) / 1e6, 3),
            "cpu_ms_per_1k_tokens": round(cpu_s * 1e6 / stats["tokens"], 1),  # warm-up included in both
            "server_cpu_ms_per_1k_tokens": round(server_cpu_s * 1e6 / stats["tokens"], 1),
            "tokens_per_s": round(float(m.output_tokens.sum()) / (m.wall_ns / 1e9)),
            "server_lateness_p99_ms": round(stats["lateness_ms"]["p99"], 3)}


def test_timing_accuracy_at_16_streams(event_loop_kind: str) -> None:
    """16 streams of 100 tokens/s. A TTFT is never shorter than the program, and the client
    adds under 5 ms at p50 to what the server took (the loopback both ways and its own lag:
    about 0.5 ms on a quiet machine, 1-3 ms with five busy processes on two cores; the
    server's own lateness is not the client's error); TPOT p50 within 5 %; the client's lag
    p99 under 10 ms. (The goals at 64 streams on a quiet machine are tighter: TTFT p50
    within 2 % of the program, TPOT p50 within 5 %, lag p99 under 1 ms.)"""
    figures = accuracy_figures(16, 3.0, tokens=50)
    assert figures["requests"] >= 48 and figures["errors"] == 0, figures
    assert figures["ttft_error_pct"] >= 0 and figures["client_added_ttft_ms"] < 5, figures
    assert abs(figures["tpot_error_pct"]) < 5, figures
    assert figures["lag_p99_ms"] < 10, figures
