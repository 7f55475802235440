"""A programmable OpenAI-compatible streaming server on 127.0.0.1, for tests and perf scripts.

The server runs in its own Python process, so that it shares neither a GIL nor an event
loop with the client being measured, and it is a bare asyncio protocol rather than a web
framework: 64 streams of 100 tokens/s are 6,400 chunks a second, on a 2-core machine
that also runs the client, so a chunk must cost the server little (about 40 us, most of it
the send and timer system calls; on uvloop where installed). It binds a free port on
127.0.0.1 and exits with its parent (it watches its stdin).

Usage::

    from llmserver import MODEL, serve

    with serve(ttft_ms=50, itl_ms=10) as server:       # server is the base URL, a str
        url = server + "/v1/chat/completions"          # "http://127.0.0.1:PORT/v1/..."
        ...                                            # stream requests, model=MODEL
        server.stats()                                 # counts, and the server's own lateness
        server.reset(faults={"drop": 4})               # forget all that, change the program

``serve(**program)``; ``reset(**changes)`` changes any of it later:
    ``ttft_ms`` (20): from a request's arrival to its first content chunk.
    ``itl_ms`` (10): between content chunks. Chunk k goes out at arrival + ttft + k * itl,
        an absolute schedule, so the server's lateness never accumulates. On Linux a
        timerfd wakes the server within about 0.05 ms of each time (asyncio's own timers
        are up to 1 ms late); ``stats()`` says how late the chunks really went out.
    ``output_tokens`` (None): tokens per answer; None: the request's ``max_tokens``, else 16.
        0 gives one chunk with no content (a stream the client must count as ``empty``).
    ``tokens_per_chunk`` (1): tokens in each chunk, as with speculative decoding; the last
        chunk carries the rest.
    ``delta_field`` ("content"): where a chat chunk's text goes: ``content``, or
        ``reasoning_content`` / ``reasoning``, as vLLM streams a reasoning model's thinking.
    ``split_ms`` (0): write each content chunk but the last in two halves, this far apart,
        so that a client must join a line split across reads.
    ``usage`` (True): send the usage chunk when the request asks for it
        (``stream_options.include_usage``); False makes the client count chunks.
    ``stall_at_s``, ``stall_s`` (None, 0): a one-off stall. Counting from the first
        completion request after start (or ``reset``), everything due in
        ``[stall_at_s, stall_at_s + stall_s)`` waits until the window ends.
    ``faults`` ({}): ``{fault: selection}``; a selection is an int N (every N-th completion
        request, counting from 1 after start or ``reset``) or a float share in (0, 1]
        (request n when ``floor(n * share)`` steps up: evenly spread). A request can also
        ask for one itself, with ``"fault": "<name>"`` in its body. The faults:
        ``malformed``      a ``data:`` line that is not JSON, halfway through the answer;
        ``drop``           the connection closed halfway through the answer;
        ``error_event``    ``data: {"error": {...}}`` halfway, then ``data: [DONE]``;
        ``status_<code>``  (``status_429``, ``status_503``...) that status at once, with an
                           OpenAI-style error body.
    ``api_key`` (None): when set, a request without ``Authorization: Bearer <api_key>`` gets
        401, and the message quotes the header it was given (OpenAI's quotes part of it).
    ``ready_after_s`` (0): every path but the control calls answers 503 until this long
        after start (or ``reset``).

Paths (the query string is ignored):
    ``POST /v1/chat/completions``, ``POST /v1/completions``: a stream of server-sent events
        in vLLM's shapes, after an SSE comment line (chat: a role chunk first, then
        ``delta.content``; completions: ``text``); ``finish_reason`` on the last content
        chunk, then the usage chunk (``"choices": []``) if asked for, then ``data: [DONE]``.
        ``"stream": true`` only; another model than ``MODEL`` is a 404, as in vLLM.
    ``GET /v1/models``: ``{"object": "list", "data": [{"id": MODEL, ...}]}``.
    ``GET /health``: 200, no body.
    ``/_llmserver/stats``, ``/_llmserver/timings``, ``/_llmserver/reset``: the control
        calls; never counted.

Methods of the object ``serve`` yields (a ``str`` subclass: the base URL, no trailing /):
    ``.url``, ``.port``
    ``.stats()`` -> dict: ``requests`` (completion requests), ``by_status`` ({"200": n}),
        ``in_flight`` (streams open), ``streams`` (finished with ``[DONE]``), ``faults``
        ({"drop": n, ...}), ``chunks`` and ``tokens`` (content sent), ``lateness_ms`` and
        ``first_lateness_ms`` (each content chunk's write time minus its scheduled time,
        and the first chunks' alone: ``p50``, ``p90``, ``p99``, ``max``, ``mean``,
        ``count``; None before any), ``precise_timer`` (the timerfd is in use), ``cpu_s``
        (the server process's CPU time so far, never reset), ``program``.
    ``.timings()`` -> dict of lists, one entry per stream in arrival order: ``arrival_ns``
        (``time.perf_counter_ns`` in the server: CLOCK_MONOTONIC, as the client's on Linux)
        and ``first_chunk_ns`` (when its first content chunk was written; 0: never).
    ``.reset(**changes)``: forget counts and timings, re-arm the stall and ``ready_after_s``.

Run ``python tests/llmserver.py --config '{"ttft_ms": 50}'`` to serve by hand: it prints
the port and stops at the end of its standard input (Ctrl-D).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from childserver import ChildServer, child_port

__all__ = ["MODEL", "PROGRAM", "LLMServer", "serve"]

MODEL = "benchtrail/test-llm"
DEFAULT_OUTPUT_TOKENS = 16
#: the default program, which ``serve`` and ``reset`` change
PROGRAM: dict[str, Any] = {
    "ttft_ms": 20.0, "itl_ms": 10.0, "output_tokens": None, "tokens_per_chunk": 1, "usage": True,
    "stall_at_s": None, "stall_s": 0.0, "faults": {}, "api_key": None, "ready_after_s": 0.0, "delta_field": "content",
    "split_ms": 0.0,
}
_MIDSTREAM_FAULTS = ("malformed", "drop", "error_event")
_CONTROL = "/_llmserver/"


def _program_problem(changes: dict[str, Any]) -> str | None:
    """What is wrong with program ``changes``, or None."""
    unknown = sorted(set(changes) - set(PROGRAM))
    if unknown:
        return f"unknown program settings {unknown}; known: {sorted(PROGRAM)}"
    for name, selection in (changes.get("faults") or {}).items():
        if name not in _MIDSTREAM_FAULTS and not (name.startswith("status_") and name[7:].isdigit()):
            return f"unknown fault {name!r}; known: {list(_MIDSTREAM_FAULTS)} and status_<code>"
        if isinstance(selection, bool) or not (isinstance(selection, int) and selection >= 1
                                               or isinstance(selection, float) and 0 < selection <= 1):
            return f"fault {name!r}: expected every N-th (an int >= 1) or a share in (0, 1], found {selection!r}"
    return None


class LLMServer(ChildServer):
    """The server's base URL (``http://127.0.0.1:PORT``), with its control calls."""

    CONTROL = _CONTROL

    def stats(self) -> dict[str, Any]:
        return self._control("stats")

    def timings(self) -> dict[str, list[int]]:
        return self._control("timings")

    def reset(self, **changes: Any) -> None:
        problem = _program_problem(changes)
        if problem:
            raise ValueError(problem)
        self._control("reset", changes)


@contextlib.contextmanager
def serve(**program: Any) -> Iterator[LLMServer]:
    """Start the server in a child process; yield its base URL; stop it on exit."""
    problem = _program_problem(program)
    if problem:
        raise ValueError(problem)
    with child_port(os.path.abspath(__file__), "--config", json.dumps(program), what="LLM server") as port:
        yield LLMServer(port)


# --------------------------------------------------------------------------- the child


class _Clock:
    """``clock.at(when_ns, callback, *args)``: call back at a ``perf_counter_ns`` time.

    On Linux one timerfd in the event loop, armed for the earliest time, wakes epoll within
    the kernel's timer slack; the callbacks run straight from it (no task per chunk).
    Elsewhere, ``loop.call_at`` (up to 1 ms late).
    """

    def __init__(self, loop: Any) -> None:
        import heapq

        self._loop = loop
        self._heap: list[tuple[int, int, Any, tuple[Any, ...]]] = []
        self._push, self._pop = heapq.heappush, heapq.heappop
        self._seq = 0
        self._armed: int | None = None
        self._fd = -1
        if sys.platform.startswith("linux") and time.get_clock_info("perf_counter").implementation.startswith(
                "clock_gettime(CLOCK_MONOTONIC)"):
            try:
                self._open_timerfd()
            except (OSError, AttributeError):
                self._fd = -1

    @property
    def precise(self) -> bool:
        return self._fd >= 0

    def _open_timerfd(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.timerfd_create(1, os.O_NONBLOCK | os.O_CLOEXEC)  # CLOCK_MONOTONIC
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")
        self._settime, self._errno, self._fd = libc.timerfd_settime, ctypes.get_errno, fd
        self._spec = (ctypes.c_long * 4)()  # struct itimerspec: interval 0, then the time
        self._loop.add_reader(fd, self._fire)

    def at(self, when_ns: int, callback: Any, *args: Any) -> None:
        if self._fd < 0:
            delay_s = max(0, when_ns - time.perf_counter_ns()) / 1e9
            self._loop.call_at(self._loop.time() + delay_s, callback, *args)
            return
        self._seq += 1
        self._push(self._heap, (when_ns, self._seq, callback, args))
        if self._armed is None or when_ns < self._armed:
            self._arm(when_ns)

    def _arm(self, when_ns: int) -> None:
        self._armed = when_ns
        self._spec[2], self._spec[3] = divmod(max(1, when_ns), 1_000_000_000)
        if self._settime(self._fd, 1, self._spec, None) != 0:  # TFD_TIMER_ABSTIME
            raise OSError(self._errno(), "timerfd_settime")

    def _fire(self) -> None:
        import traceback

        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            pass
        self._armed = -1  # firing: what the callbacks schedule is armed once, at the end
        heap, now = self._heap, time.perf_counter_ns
        while heap and heap[0][0] <= now():
            _, _, callback, args = self._pop(heap)
            try:
                callback(*args)
            except Exception:  # a bug in a stream must not stop the others
                traceback.print_exc()
        self._armed = None
        if heap:
            self._arm(heap[0][0])


class _Connection(asyncio.Protocol):
    """One client connection: HTTP/1.1 requests with a Content-Length body, one at a
    time, each answered whole or as a chunked stream."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.transport: Any = None
        self.buffer = bytearray()
        self.busy = False  # answering a request: later ones wait in the buffer
        self.closed = False
        self.keep_alive = True
        self.received_ns = 0

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        if not self.buffer:
            self.received_ns = time.perf_counter_ns()  # a request's arrival: its first bytes read
        self.buffer += data
        self.serve_buffered()

    def serve_buffered(self) -> None:
        while not self.busy and not self.closed:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            try:
                method, target, version = lines[0].split(" ")
                length = int(headers.get("content-length") or 0)
            except ValueError:
                self.keep_alive = False
                self.reply(400, _error("malformed request", 400))
                return
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            arrival, self.received_ns = self.received_ns, time.perf_counter_ns()  # the next one is here already
            self.keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            self.busy = True
            self.server.handle(self, method, target.partition("?")[0], headers, body, arrival)

    def reply(self, status: int, payload: Any = None) -> None:
        """A whole answer: ``payload`` as JSON (no body when None)."""
        from http import HTTPStatus

        body = b"" if payload is None else json.dumps(payload).encode()
        close = "" if self.keep_alive else "Connection: close\r\n"
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{close}\r\n")
        self.transport.write(head.encode() + body)
        self.finish()

    def start_stream(self, *events: bytes) -> None:
        """The stream's head and its first ``events``, in one write: each write is a system
        call, and 64 streams opening at once would otherwise hold up reading the next requests."""
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                             b"Transfer-Encoding: chunked\r\n" + (b"" if self.keep_alive else b"Connection: close\r\n")
                             + b"\r\n" + b"".join(b"%x\r\n%s\r\n" % (len(data), data) for data in events))

    def send(self, data: bytes) -> None:
        self.transport.write(b"%x\r\n%s\r\n" % (len(data), data))

    def send_if_open(self, data: bytes) -> None:
        if not self.closed:
            self.send(data)

    def end_stream(self, data: bytes) -> None:
        self.transport.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
        self.finish()

    def finish(self) -> None:
        self.busy = False
        if not self.keep_alive:
            self.transport.close()
        elif self.buffer:
            self.server.loop.call_soon(self.serve_buffered)


def _error(message: str, code: int) -> dict[str, Any]:
    """An OpenAI-style error body."""
    from http import HTTPStatus

    return {"error": {"message": message, "type": HTTPStatus(code).phrase.replace(" ", ""), "param": None,
                      "code": code}}


def _event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class _Stream:
    """One streamed answer, its chunks written by the clock at their scheduled times."""

    def __init__(self, server: _Server, conn: _Connection, number: int, chat: bool, request: dict[str, Any],
                 arrival: int, fault: str | None) -> None:
        program = server.program
        self.server, self.conn, self.chat = server, conn, chat
        tokens = program["output_tokens"]
        if tokens is None:
            tokens = request.get("max_tokens") or DEFAULT_OUTPUT_TOKENS
        self.tokens, self.per_chunk = tokens, max(1, program["tokens_per_chunk"])
        self.count = max(1, -(-tokens // self.per_chunk))
        self.fault, self.fault_at = fault, self.count // 2
        self.usage = bool(program["usage"] and (request.get("stream_options") or {}).get("include_usage"))
        self.first_due = arrival + int(program["ttft_ms"] * 1e6)
        self.itl = int(program["itl_ms"] * 1e6)
        self.head = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{number}",
                     "object": "chat.completion.chunk" if chat else "text_completion",
                     "created": int(time.time()), "model": MODEL}
        # every chunk but the last is this with its text in between: no JSON encoding per chunk
        self.before, _, self.after = self.chunk("\0", None).partition(b"\\u0000")
        self.prompt_tokens = len(json.dumps(request.get("messages") or request.get("prompt") or "").split())
        server.in_flight += 1
        self.index, self.firsts = len(server.arrival_ns), server.first_chunk_ns  # a reset swaps the arrays
        server.arrival_ns.append(arrival)
        server.first_chunk_ns.append(0)
        opens = server.stalled(arrival)
        if opens > time.perf_counter_ns():
            server.clock.at(opens, self.open)
        else:
            self.open()

    def chunk(self, text: str, finish: str | None) -> bytes:
        """A content chunk's event."""
        field = self.server.program["delta_field"]
        choice: dict[str, Any] = {"index": 0, "delta": {field: text}} if self.chat else {"index": 0, "text": text}
        choice.update(logprobs=None, finish_reason=finish)
        return _event({**self.head, "choices": [choice]})

    def open(self) -> None:
        if self.conn.closed:
            return self.end(False)
        events = [b": a comment, which clients skip\n\n"]
        if self.chat:
            role = {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            events.append(_event({**self.head, "choices": [role]}))
        self.conn.start_stream(*events)
        self.schedule(0)

    def schedule(self, k: int) -> None:
        due = self.server.stalled(self.first_due + k * self.itl)
        self.server.clock.at(due, self.emit, k, due)

    def emit(self, k: int, due: int) -> None:
        server, conn = self.server, self.conn
        late = time.perf_counter_ns() - due
        if conn.closed:
            return self.end(False)
        server.lateness.append(late)
        if k == 0:
            server.first_lateness.append(late)
            self.firsts[self.index] = due + late
        if k == self.fault_at and self.fault in _MIDSTREAM_FAULTS:
            if self.fault == "drop":
                conn.transport.close()
                return self.end(False)
            if self.fault == "error_event":
                error = _error("the engine failed on purpose", 500)
                conn.end_stream(_event(error) + b"data: [DONE]\n\n")
                return self.end(False)
            conn.send(b'data: {"choices": [{"delta": {"content": "tok\n\n')  # malformed: then carry on
        tokens = max(0, min(self.per_chunk, self.tokens - k * self.per_chunk))
        server.chunks += 1 if tokens else 0
        server.tokens += tokens
        last = k == self.count - 1
        finish = ("length" if server.program["output_tokens"] is None else "stop") if last else None
        text = " tok" * tokens
        data = self.chunk(text, finish) if last else self.before + text.encode() + self.after
        if not last:
            split_ns = int(server.program["split_ms"] * 1e6)
            if split_ns:  # the line's second half arrives later, in a read of its own
                conn.send(data[:len(data) // 2])
                server.clock.at(time.perf_counter_ns() + split_ns, conn.send_if_open, data[len(data) // 2:])
            else:
                conn.send(data)
            return self.schedule(k + 1)
        if self.usage:
            usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.tokens,
                     "total_tokens": self.prompt_tokens + self.tokens}
            data += _event({**self.head, "choices": [], "usage": usage})
        conn.end_stream(data + b"data: [DONE]\n\n")
        self.end(True)

    def end(self, finished: bool) -> None:
        self.server.in_flight -= 1
        self.server.streams += finished


class _Server:
    """The program, the counts, and the answer to each request."""

    def __init__(self, loop: Any, program: dict[str, Any]) -> None:
        self.loop = loop
        self.clock = _Clock(loop)
        self.program = {**PROGRAM, **program}
        self.in_flight = 0  # streams open: a live count, which a reset keeps
        self.clear()

    def clear(self) -> None:
        from array import array

        self.started = time.perf_counter_ns()
        self.first: int | None = None
        self.requests = self.streams = self.chunks = self.tokens = 0
        self.by_status: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.lateness, self.first_lateness = array("q"), array("q")
        self.arrival_ns, self.first_chunk_ns = array("q"), array("q")  # per stream, in arrival order

    def stalled(self, due: int) -> int:
        """When something due at ``due`` goes out: the stall's end if it falls in the stall."""
        at, length = self.program["stall_at_s"], self.program["stall_s"] or 0.0
        if at is None or length <= 0 or self.first is None:
            return due
        start = self.first + int(at * 1e9)
        end = start + int(length * 1e9)
        return end if start <= due < end else due

    def handle(self, conn: _Connection, method: str, path: str, headers: dict[str, str], body: bytes,
               arrival: int) -> None:
        if path.startswith(_CONTROL):
            return self.control(conn, path[len(_CONTROL):], body)
        ready = arrival >= self.started + int(self.program["ready_after_s"] * 1e9)
        if path in ("/v1/chat/completions", "/v1/completions"):
            return self.complete(conn, path == "/v1/chat/completions", headers, body, arrival, ready)
        if not ready:
            return conn.reply(503, _error("the model is still loading", 503))
        if path == "/health":
            return conn.reply(200)
        if path == "/v1/models":
            model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "benchtrail", "root": MODEL,
                     "max_model_len": 4096}
            return conn.reply(200, {"object": "list", "data": [model]})
        return conn.reply(404, _error(f"no route {method} {path}", 404))

    def refuse(self, conn: _Connection, status: int, message: str) -> None:
        self.by_status[str(status)] = self.by_status.get(str(status), 0) + 1
        conn.reply(status, _error(message, status))

    def complete(self, conn: _Connection, chat: bool, headers: dict[str, str], body: bytes, arrival: int,
                 ready: bool) -> None:
        if self.first is None:
            self.first = arrival
        self.requests += 1
        number = self.requests
        key = self.program["api_key"]
        if not ready:
            return self.refuse(conn, 503, "the model is still loading")
        if key and headers.get("authorization") != f"Bearer {key}":
            return self.refuse(conn, 401, f"Incorrect API key provided: {headers.get('authorization', '')}")
        try:
            request = json.loads(body)
        except ValueError:
            return self.refuse(conn, 400, "the body is not JSON")
        problem = _request_problem(request, chat)
        if problem:
            return self.refuse(conn, 404 if problem.startswith("The model") else 400, problem)
        fault = request.get("fault")
        if fault is not None and (not isinstance(fault, str) or _program_problem({"faults": {fault: 1}})):
            return self.refuse(conn, 400, f"unknown fault {fault!r}")
        fault = fault or self.scheduled_fault(number)
        if fault:
            self.faults[fault] = self.faults.get(fault, 0) + 1
            if fault.startswith("status_"):
                return self.refuse(conn, int(fault[7:]), f"{fault}, on purpose")
        self.by_status["200"] = self.by_status.get("200", 0) + 1
        _Stream(self, conn, number, chat, request, arrival, fault)

    def scheduled_fault(self, number: int) -> str | None:
        """The program's fault for the ``number``-th request, if any (the first that applies)."""
        for name, selection in self.program["faults"].items():
            if isinstance(selection, int) and number % selection == 0:
                return name  # type: ignore[no-any-return]
            if isinstance(selection, float) and int(number * selection) > int((number - 1) * selection):
                return name  # type: ignore[no-any-return]
        return None

    def control(self, conn: _Connection, what: str, body: bytes) -> None:
        if what == "stats":
            return conn.reply(200, {
                "requests": self.requests, "by_status": self.by_status, "in_flight": self.in_flight,
                "streams": self.streams, "faults": self.faults, "chunks": self.chunks, "tokens": self.tokens,
                "lateness_ms": _summary_ms(self.lateness), "first_lateness_ms": _summary_ms(self.first_lateness),
                "precise_timer": self.clock.precise, "cpu_s": time.process_time(), "program": self.program})
        if what == "timings":
            return conn.reply(200, {"arrival_ns": self.arrival_ns.tolist(),
                                    "first_chunk_ns": self.first_chunk_ns.tolist()})
        if what == "reset":
            changes = json.loads(body) if body else {}
            problem = _program_problem(changes)
            if problem:
                return conn.reply(400, _error(problem, 400))
            self.program.update(changes)
            self.clear()
            return conn.reply(200, {"ok": True})
        return conn.reply(404, _error(f"unknown control call {what!r}", 404))


def _request_problem(request: Any, chat: bool) -> str | None:
    """What a completion request lacks, as vLLM would say it, or None."""
    if not isinstance(request, dict):
        return "the body is not a JSON object"
    if request.get("model") != MODEL:
        return f"The model `{request.get('model')}` does not exist."
    if request.get("stream") is not True:
        return "this test server only streams: send \"stream\": true"
    if chat and not isinstance(request.get("messages"), list):
        return "messages: a list is required"
    if not chat and "prompt" not in request:
        return "prompt: required"
    return None


def _summary_ms(values_ns: Any) -> dict[str, float] | None:
    import numpy as np

    if not len(values_ns):
        return None
    ms = np.frombuffer(values_ns, dtype=np.int64) / 1e6
    p50, p90, p99 = np.quantile(ms, [0.5, 0.9, 0.99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(ms.max()),
            "mean": float(ms.mean()), "count": int(len(ms))}


async def _main(program: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    server = _Server(loop, program)
    listener = await loop.create_server(lambda: _Connection(server), "127.0.0.1", 0, backlog=4096)
    sys.stdout.write(f"{listener.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()

    # The parent closes our stdin to stop us, or dies: either way stdin reads EOF.
    done = asyncio.Event()
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
    listener.close()


def _child(argv: list[str]) -> None:
    import argparse
    import resource

    parser = argparse.ArgumentParser(description="Serve a programmable OpenAI-compatible stream on 127.0.0.1.")
    parser.add_argument("--config", default="{}", help="JSON program, as serve() takes it")
    program = json.loads(parser.parse_args(argv).config)
    problem = _program_problem(program)
    if problem:
        parser.error(problem)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        import uvloop  # where installed, as benchtrail's run_loop: less CPU per write
    except ImportError:
        asyncio.run(_main(program))
    else:
        uvloop.run(_main(program))


if __name__ == "__main__":
    _child(sys.argv[1:])
