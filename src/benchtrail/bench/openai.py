"""Stream completions from an OpenAI-compatible engine (vLLM, SGLang, TGI...) and time each token.

Each request asks for a stream (``"stream": true``) with the usage in its last chunk
(``stream_options.include_usage``), and keeps, if it succeeds, the times its content
arrived: the first content-bearing chunk gives the time to first token, the gaps between
chunks the inter-token latencies, ``data: [DONE]`` the end-to-end latency (vLLM's
definitions; ``bench.serving`` turns them into metrics). A request that fails is counted
by kind (``connection``, ``timeout``, ``http_<status>``, ``malformed_event``,
``cut_short``, ``server_error``, ``empty``) and adds nothing to the timings.

The client has to keep up with the server, or its timings hold its own delay: a chunk
that arrives while the event loop is busy waits. So the stream is read in whatever pieces
the socket gives (one timestamp a piece), the events are parsed with ``json.loads`` and
nothing else, and a probe samples how long a callback waits for the loop (``lag_ns``),
so a record can say when the client, not the server, was slow.

A request's send time is when aiohttp writes it (headers and body go out together), not
when the call began: requests that start together are set up one after the other, and
on Python < 3.12 aiohttp writes each body from a task of its own, after all the others'
setup; a before-the-call stamp put 1-3 ms of that into the TTFT p50 of 16 streams that
all start at once (a 100 ms TTFT). A new connection's handshake is left out likewise.
In open loop ``ttft_sched`` still counts both, from the scheduled start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchtrail.bench.clock import now_ns
from benchtrail.bench.httpload import OpenLoop, closed_loop, open_loop_pool_size, poisson_offsets_ns, run_loop
from benchtrail.bench.measurement import Tally
from benchtrail.bench.openai_requests import is_chat
from benchtrail.results.gitrepo import redact

__all__ = ["OpenAILoad", "StreamMeasurement", "measure_openai"]

_PROBE_S = 0.005
_ERROR_BODY_BYTES = 1 << 16
_SECRET_HEADERS = ("authorization", "cookie", "key", "token", "secret")
_DECODE = json.JSONDecoder().raw_decode


@dataclass(frozen=True)
class OpenAILoad:
    url: str  # .../v1/chat/completions or .../v1/completions
    headers: Mapping[str, str] = field(repr=False)  # may hold Authorization: a secret, never shown
    bodies: Sequence[bytes]  # prepared JSON request bodies, cycled
    timeout_s: float  # per request, the whole stream


@dataclass
class StreamMeasurement:
    """Per successful request, aligned int64 arrays (same length, same order), the pooled
    gaps and lag samples, and the tally of all requests; times in ns."""

    sent_ns: Any  # send time, from the measured start
    ttft_ns: Any
    ttft_sched_ns: Any  # from the scheduled start (open loop); equal to ttft_ns in closed loop
    e2e_ns: Any
    output_tokens: Any
    chunks: Any  # content-bearing chunks
    done_ns: Any  # completion, from the measured start
    itl_ns: Any  # gaps between consecutive content chunks, pooled
    lag_ns: Any  # client lag samples
    usage_counted: int  # successful requests whose token count came from the server's usage
    tally: Tally
    wall_ns: int  # first send to last completion (warm-up excluded)
    start_ns: int  # now_ns() at the measured start
    open_loop: bool


def _secrets(headers: Mapping[str, str]) -> list[str]:
    """The values of headers that may carry credentials, and their tokens after a scheme
    (``Bearer sk-...``): what no message may show."""
    found = []
    for name, value in headers.items():
        if any(word in name.lower() for word in _SECRET_HEADERS) and value:
            found.append(value)
            scheme, _, token = value.partition(" ")
            if token.strip():
                found.append(token.strip())
    return found


def _one_line(value: Any) -> str:
    """``value`` (bytes, text or JSON) as one line of text, whole: messages are redacted
    first and shortened after (by ``Tally``), so no part of a secret survives a cut."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=repr)
    return " ".join(text.split())


@dataclass
class _Streams:
    """Where requests leave their results (absolute ``now_ns`` times until the end)."""

    open_loop: bool
    sent: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    ttft: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    ttft_sched: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    e2e: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    tokens: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    chunks: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    done: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    itl: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    lag: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    usage_counted: int = 0
    tally: Tally = field(default_factory=Tally)
    first_sent: int | None = None
    last_end: int = 0


class _Reading:
    """One response's server-sent events, fed as lines as they arrive."""

    __slots__ = ("chat", "times", "usage_tokens", "finished", "done_at", "failure")

    def __init__(self, chat: bool) -> None:
        self.chat = chat
        self.times: list[int] = []  # arrival of each content-bearing chunk
        self.usage_tokens: int | None = None
        self.finished = False  # a finish_reason was seen
        self.done_at = 0  # arrival of data: [DONE]
        self.failure: tuple[str, str] | None = None  # (kind, message)

    def feed(self, lines: list[bytes], now: int) -> bool:
        """Take complete lines that arrived at ``now``; True once the stream is over
        (``[DONE]`` or a failure). Other fields, comments and blank lines are skipped."""
        decode, chat, times = _DECODE, self.chat, self.times
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done_at = now
                return True
            try:
                source = payload.decode()
                event, end = decode(source)  # json.loads less its encoding guess and whitespace scans: half the time
                if end != len(source) or type(event) is not dict:
                    raise TypeError
                error = event.get("error")
                if error is not None:
                    self.failure = ("server_error", f"server error in the stream: {_one_line(error)}")
                    return True
                choices = event.get("choices")
                if choices:
                    choice = choices[0]
                    if chat:
                        delta = choice.get("delta")
                        text = delta and (delta.get("content") or delta.get("reasoning_content")
                                          or delta.get("reasoning"))
                    else:
                        text = choice.get("text")
                    if text:
                        if type(text) is not str:
                            raise TypeError
                        times.append(now)
                    if choice.get("finish_reason"):
                        self.finished = True
                elif choices is None and "usage" not in event:
                    raise KeyError("choices")
                usage = event.get("usage")
                if usage:
                    tokens = usage["completion_tokens"]
                    if type(tokens) is not int:
                        raise TypeError
                    self.usage_tokens = tokens
            except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError):
                self.failure = ("malformed_event", f"malformed event: {_one_line(payload)}")
                return True
        return False


class _StreamClient:
    """Sends one streaming request per call and reads its events (``closed_loop`` and
    ``OpenLoop`` drive it)."""

    def __init__(self, session: Any, load: OpenAILoad) -> None:
        import aiohttp
        import yarl

        self._session = session
        self._url, self._bodies, self._timeout_s = yarl.URL(load.url), load.bodies, load.timeout_s
        self._chat = is_chat(load.url)
        self._secrets = _secrets(load.headers)
        self._errors = (aiohttp.ClientError, OSError)
        self._body_type = _stamped_body_type()

    async def call(self, index: int, started_ns: int, out: _Streams) -> None:
        out.tally.calls += 1
        body = self._body_type(self._bodies[index % len(self._bodies)], content_type="application/json")
        reading = _Reading(self._chat)
        called = now_ns()
        failure = await self._exchange(body, reading)
        out.last_end = max(out.last_end, now_ns())
        sent = body.sent_ns or called  # never written (refused): when it was called
        if out.first_sent is None or sent < out.first_sent:
            out.first_sent = sent
        failure = failure or reading.failure or _incomplete(reading)
        if failure is not None:
            kind, message = failure
            out.tally.error(redact(message, self._secrets), timeout=kind == "timeout", kind=kind)
            return
        times = reading.times
        first = times[0]
        out.sent.append(sent)
        out.ttft.append(first - sent)
        out.ttft_sched.append(first - started_ns if out.open_loop else first - sent)
        out.e2e.append(reading.done_at - sent)
        out.done.append(reading.done_at)
        out.chunks.append(len(times))
        if reading.usage_tokens is None:
            out.tokens.append(len(times))
        else:
            out.tokens.append(reading.usage_tokens)
            out.usage_counted += 1
        out.itl.extend([later - earlier for earlier, later in zip(times, times[1:])])

    async def _exchange(self, body: Any, reading: _Reading) -> tuple[str, str] | None:
        """Send the request and feed its answer to ``reading``; (kind, message) if the
        exchange itself failed."""
        answered = False
        try:
            async with self._session.post(self._url, data=body) as response:
                answered = True
                if response.status >= 400:
                    text = _one_line(await response.content.read(_ERROR_BODY_BYTES))
                    return f"http_{response.status}", f"HTTP {response.status}: {text}"
                await self._read(response.content, reading)
        except asyncio.TimeoutError:
            return "timeout", f"timeout: the stream took over {self._timeout_s:g} s"
        except self._errors as exc:
            if answered:
                return "cut_short", f"the stream broke off: {type(exc).__name__}: {exc}"
            return "connection", f"{type(exc).__name__}: {exc}"
        return None

    async def _read(self, content: Any, reading: _Reading) -> None:
        """Feed the events to ``reading`` until ``[DONE]``, a failure or the end of the
        body; after ``[DONE]`` read to the end, so the connection can be reused."""
        rest = b""
        readany = content.readany
        while data := await readany():  # whatever has arrived, b"" at the end
            now = now_ns()
            lines = (rest + data if rest else data).split(b"\n")
            rest = lines.pop()
            if reading.feed(lines, now):
                if reading.failure is None:  # the answer is whole: a server that then hangs costs no error
                    with contextlib.suppress(asyncio.TimeoutError, *self._errors):
                        await content.read()
                return
        if rest:
            reading.feed([rest], now_ns())
        if not reading.done_at and reading.finished and reading.failure is None:
            reading.done_at = now_ns()  # a clean end after a finish_reason


def _incomplete(reading: _Reading) -> tuple[str, str] | None:
    """Why a stream that was read without an error still does not count, or None."""
    if not reading.done_at:
        chunks = len(reading.times)
        return "cut_short", f"the stream ended before [DONE] or a finish_reason, after {chunks} content chunks"
    if not reading.times:
        return "empty", "the stream finished without any content"
    return None


def _stamped_body_type() -> type:
    """A request body type that notes when aiohttp writes it (with the headers, which wait
    for it): the moment the request goes out."""
    from aiohttp.payload import BytesPayload

    class StampedBody(BytesPayload):
        sent_ns = 0

        async def write(self, writer: Any) -> None:
            self.sent_ns = self.sent_ns or now_ns()
            await super().write(writer)

        async def write_with_length(self, writer: Any, content_length: int | None) -> None:
            self.sent_ns = self.sent_ns or now_ns()
            await super().write_with_length(writer, content_length)

    return StampedBody


class _LagProbe:
    """Every 5 ms, how long a callback made ready waits for the event loop: how long a
    chunk that just arrived waits before the client sees it."""

    def __init__(self, samples: array) -> None:  # type: ignore[type-arg]
        self._samples = samples
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(_PROBE_S, self._tick)

    def _tick(self) -> None:
        self._handle = self._loop.call_later(_PROBE_S, self._tick)
        self._loop.call_soon(self._record, now_ns())

    def _record(self, ready_ns: int) -> None:
        self._samples.append(now_ns() - ready_ns)

    def stop(self) -> None:
        self._handle.cancel()


async def _measure(load: OpenAILoad, warmup: int, iterations: int | None, duration_s: float | None,
                   concurrency: int, rate: float | None) -> StreamMeasurement:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=open_loop_pool_size() if rate else concurrency, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=load.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=dict(load.headers),
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        client = _StreamClient(session, load)
        if warmup:
            await closed_loop(client, warmup, None, concurrency, _Streams(open_loop=False))
        out = _Streams(open_loop=rate is not None)
        if rate is None:
            start = now_ns()
            probe = _LagProbe(out.lag)
            await closed_loop(client, iterations, duration_s, concurrency, out)
        else:
            count = iterations if iterations is not None else max(1, round(rate * (duration_s or 0)))
            # Schedule and timer made before the clock starts (as in httpload).
            arrivals = OpenLoop(client, poisson_offsets_ns(count, rate), out)
            start = now_ns()
            probe = _LagProbe(out.lag)
            await arrivals.run()
        probe.stop()
    return _result(out, start)


def _result(out: _Streams, start: int) -> StreamMeasurement:
    import numpy as np

    def ints(values: array) -> Any:  # type: ignore[type-arg]
        return np.frombuffer(values, dtype=np.int64).copy()

    wall = out.last_end - out.first_sent if out.first_sent is not None else 0
    return StreamMeasurement(
        sent_ns=ints(out.sent) - start, ttft_ns=ints(out.ttft), ttft_sched_ns=ints(out.ttft_sched),
        e2e_ns=ints(out.e2e), output_tokens=ints(out.tokens), chunks=ints(out.chunks), done_ns=ints(out.done) - start,
        itl_ns=ints(out.itl), lag_ns=ints(out.lag), usage_counted=out.usage_counted, tally=out.tally,
        wall_ns=max(0, wall), start_ns=start, open_loop=out.open_loop)


def measure_openai(load: OpenAILoad, *, warmup: int, iterations: int | None, duration_s: float | None,
                   concurrency: int = 1, rate: float | None = None) -> StreamMeasurement:
    """Stream ``load`` closed-loop with ``concurrency`` requests in flight, or open-loop at
    ``rate`` requests/s, for ``iterations`` requests or ``duration_s`` seconds, after
    ``warmup`` requests that are not measured."""
    return run_loop(_measure(load, warmup, iterations, duration_s, concurrency, rate))
