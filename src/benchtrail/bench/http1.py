"""A lean HTTP/1.1 keep-alive client for timing plain request/answer endpoints.

The plain ``http`` and ``kserve-v2`` kinds time each call from its start to the last byte
of its answer, and the client's own work on that path is part of every figure. aiohttp
spends about 260 us getting a request out after an idle wait and 200 us getting its
answer back to the caller, which put benchtrail's p50 9-10 % over the truth at 1,000
requests/s against a 5 ms endpoint on a 2-vCPU VM (the goal is 5 %); httpx and aiosonic
measured no better (``tools/perf/bench_http_client.py``). So this path keeps only what
timing needs (+2.6 to +4.5 % on the same bench, at half aiohttp's CPU per call): a
request's bytes are made once per body, the answer is parsed by ``httptools`` (llhttp,
the parser uvicorn serves with) as it arrives, and a call ends when the read that
brought its answer's last byte returned, not when its task next runs. HTTPS
verifies the server as Python's default context does (``SSL_CERT_FILE`` and friends
apply). Redirects are not followed and answers are not decompressed (no
``Accept-Encoding`` is sent): a benchmark measures the URL it names.
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httptools

from benchtrail import __version__
from benchtrail.bench.clock import now_ns

__all__ = ["AnswerError", "Http1Client"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})  # ours to write
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # a Content-Length even when empty
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 5.6.2: method and header names
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a header's value (a tab is fine)
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"  # RFC 3986 pchar and "/": what is not is percent-encoded
_QUERY_SAFE = _PATH_SAFE + "?"


class AnswerError(Exception):
    """The server's answer could not be read as HTTP/1.1: malformed, or cut short."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[tuple[int, int]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._framed = False  # the answer says where it ends (a length or chunks)
        self._headers_done = False
        self._read_ns = 0

    def exchange(self, request: bytes, deadline: float) -> asyncio.Future[tuple[int, int]]:
        """Send ``request``; the future gets (status, the ns its answer's last byte was
        read) or fails (``AnswerError``, ``OSError``, ``TimeoutError`` at ``deadline`` on
        the loop's clock, after which the connection is closed)."""
        if self.closed:  # by the server, since it was pooled
            raise ConnectionResetError("the server closed the connection")
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._answer = answer = loop.create_future()
        self._timer = loop.call_at(deadline, self._fail, asyncio.TimeoutError())
        self.transport.write(request)
        return answer

    @property
    def closed(self) -> bool:
        """Closed or closing, by either side: never to be used again."""
        return self.transport is None or self.transport.is_closing()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._read_ns = now_ns()  # the answer ends at the read that brought its last byte, not after parsing it
        if self._answer is None:
            self._fail(AnswerError("the server sent bytes nobody asked for"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(AnswerError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(AnswerError(f"malformed answer: {exc}"))

    def eof_received(self) -> bool:
        self._read_ns = now_ns()  # where an answer that runs until the close ends
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is None:
            return
        if exc is None and self._headers_done and not self._framed:
            self._complete(self._read_ns)  # an answer that runs until the connection closes
        else:
            self._fail(exc or AnswerError("the server closed the connection before its answer ended"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self._answer is None:  # more after the answer, in the same read: never for the next call
            self._close()
        self._framed = self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and value.lower().rstrip().endswith(b"chunked")):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_message_complete(self) -> None:
        finished = self._read_ns
        if self._parser.get_status_code() < 200:  # an interim answer (103 Early Hints): the real one follows
            self._headers_done = False
            return
        if not self._parser.should_keep_alive():
            self._close()
        self._complete(finished)

    def _complete(self, finished: int) -> None:
        answer, self._answer = self._answer, None
        self._stop_timer()
        if answer is not None and not answer.done():
            answer.set_result((self._parser.get_status_code(), finished))

    def _fail(self, exc: BaseException) -> None:
        answer, self._answer = self._answer, None
        self._stop_timer()
        self._close()
        if answer is not None and not answer.done():
            answer.set_exception(exc)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Http1Client:
    """Requests to one URL over a pool of keep-alive connections, at most ``limit`` open
    (0: no limit); beyond it a call waits for a connection, within its timeout."""

    def __init__(self, url: str, method: str, headers: Mapping[str, str], *, timeout_s: float,
                 limit: int = 0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, found {url!r}")
        if "@" in parts.netloc:
            raise ValueError("a URL's user info is not sent: give credentials in a header")
        self._host = parts.hostname
        self._port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._timeout_s = timeout_s
        self._limit = limit
        self._idle: dict[_Connection, None] = {}  # insertion-ordered: the newest is reused first
        self._all: set[_Connection] = set()
        self._open = 0  # open or opening
        self._waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self._method = method.upper()
        if not _TOKEN.fullmatch(self._method) or self._method in ("HEAD", "CONNECT"):
            raise ValueError(f"not an HTTP method this client sends: {method!r}")  # a HEAD answer has no body
        authority = parts.netloc
        if parts.port == _DEFAULT_PORTS[parts.scheme]:
            authority = authority.rsplit(":", 1)[0]
        own = {"Host": authority, "User-Agent": f"benchtrail/{__version__}", "Accept": "*/*"}
        given = {name: value for name, value in headers.items() if name.lower() not in _FRAMING}
        merged = {name: value for name, value in own.items() if name.lower() not in {g.lower() for g in given}}
        merged.update(given)
        for name, value in merged.items():
            if not _TOKEN.fullmatch(name) or _CONTROL.search(value):
                raise ValueError(f"header {name!r}: not a header name, or its value holds a control character")
        target = quote(parts.path or "/", safe=_PATH_SAFE) + (f"?{quote(parts.query, safe=_QUERY_SAFE)}"
                                                              if parts.query else "")
        self._head = (f"{self._method} {target} HTTP/1.1\r\n"
                      + "".join(f"{name}: {value}\r\n" for name, value in merged.items())).encode("latin-1")

    @property
    def origin(self) -> str:
        """host:port, as errors name the server."""
        return f"[{self._host}]:{self._port}" if ":" in self._host else f"{self._host}:{self._port}"

    def request(self, body: bytes | None) -> bytes:
        """The bytes of one request carrying ``body``: made once, sent as often as needed."""
        if body is None and self._method not in _BODY_METHODS:
            return self._head + b"\r\n"
        body = body or b""
        return self._head + f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body

    async def send(self, request: bytes) -> tuple[int, int]:
        """Send ``request`` (from ``request``); return the answer's status and the ns its
        last byte was read. Raises ``asyncio.TimeoutError``, ``OSError`` or
        ``AnswerError``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        connection = await self._connection(loop, deadline)
        try:
            return await connection.exchange(request, deadline)
        except BaseException:
            connection._close()  # the answer may still come: never hand it to another call
            raise
        finally:
            self._release(connection)

    async def _connection(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        while self._idle:
            connection, _ = self._idle.popitem()
            if not connection.closed:
                return connection
            connection._close()
            self._forget(connection)
        if self._limit and self._open >= self._limit:
            handed = await self._wait_turn(loop, deadline)
            if handed is not None:
                return handed
            # else a closed connection's place, counted for this call by _wake_one
        else:
            self._open += 1
        try:
            connection = await self._connect(loop, deadline)
        except BaseException:
            self._free_place()
            raise
        self._all.add(connection)
        return connection

    async def _wait_turn(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection | None:
        """Wait for a pooled connection (or the place of a closed one: None) until ``deadline``."""
        waiter: asyncio.Future[_Connection | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_at(deadline, _expire, waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result())  # handed over just as this call was cancelled
            raise
        finally:
            timer.cancel()
        if loop.time() >= deadline:  # handed over too late to be of use
            self._give_back(handed)
            raise asyncio.TimeoutError()
        return handed

    def _give_back(self, handed: _Connection | None) -> None:
        if handed is not None:
            self._release(handed)
        else:
            self._free_place()

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        """A new connection, or ``asyncio.TimeoutError`` at ``deadline``."""
        attempt = loop.create_task(loop.create_connection(_Connection, self._host, self._port, ssl=self._ssl))
        timer = loop.call_at(deadline, attempt.cancel)
        try:
            _, connection = await attempt
        except asyncio.CancelledError:
            if loop.time() >= deadline and not _cancelling():
                raise asyncio.TimeoutError() from None
            raise
        except UnicodeError:  # a host name IDNA cannot encode
            raise OSError(f"cannot resolve {self._host!r}") from None
        finally:
            timer.cancel()
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.closed:
            self._forget(connection)
        elif not self._wake_one(connection):
            self._idle[connection] = None

    def _forget(self, connection: _Connection) -> None:
        if connection in self._all:
            self._all.discard(connection)
            self._free_place()

    def _free_place(self) -> None:
        """One connection fewer, open or opening: a waiting call may open one instead."""
        self._open -= 1
        self._wake_one(None)

    def _wake_one(self, connection: _Connection | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                if connection is None:
                    self._open += 1  # the waiter opens one in the place that came free
                waiter.set_result(connection)
                return True
        return False

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in list(self._all):
            connection._close()
        self._all.clear()
        self._idle.clear()
        self._open = 0
        await asyncio.sleep(0)  # let the transports finish closing


def _cancelling() -> bool:
    """Whether the current task itself was asked to stop (Python 3.11+ can tell)."""
    task = asyncio.current_task()
    return bool(task is not None and getattr(task, "cancelling", lambda: 0)())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())
