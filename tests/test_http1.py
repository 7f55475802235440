"""Http1Client against real servers on loopback: framing, keep-alive, faults, limits, TLS."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchtrail.bench.clock import now_ns
from benchtrail.bench.http1 import AnswerError, Http1Client

Handler = Callable[[socket.socket, "Scripted"], None]


class Scripted:
    """A TCP server on 127.0.0.1 whose every connection runs ``handler(sock, server)`` in
    a thread of its own; it notes the connections it accepted and the requests it read."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        outer = self

        class _Handle(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with outer.lock:
                    outer.connections += 1
                sock = tls.wrap_socket(self.request, server_side=True) if tls else self.request
                try:
                    handler(sock, outer)
                except (OSError, ssl.SSLError):
                    pass

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handle)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def read_request(self, sock: socket.socket) -> bytes | None:
        """One whole request (head and Content-Length body), or None at the peer's close."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += sock.recv(65536)
        with self.lock:
            self.requests.append(head + b"\r\n\r\n" + body)
        return head

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def make(handler: Handler, tls: ssl.SSLContext | None = None) -> Scripted:
        servers.append(Scripted(handler, tls))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _answer(status: int = 200, body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


def _keep_alive(answer: Callable[[bytes], bytes]) -> Handler:
    def handler(sock: socket.socket, server: Scripted) -> None:
        while (head := server.read_request(sock)) is not None:
            sock.sendall(answer(head))
    return handler


def _once_then_close(raw: bytes) -> Handler:
    """Read one request, answer ``raw``, close."""
    def handler(sock: socket.socket, server: Scripted) -> None:
        server.read_request(sock)
        sock.sendall(raw)
        sock.close()
    return handler


def _run(main: Any) -> Any:
    return asyncio.run(main)


async def _sends_open(client: Http1Client, requests: list[bytes]) -> list[Any]:
    """Each request in turn; an exception is kept in its place."""
    results: list[Any] = []
    for request in requests:
        try:
            results.append(await client.send(request))
        except (OSError, AnswerError, asyncio.TimeoutError) as exc:
            results.append(exc)
    return results


async def _sends(client: Http1Client, requests: list[bytes]) -> list[Any]:
    """``_sends_open``, then the client closed."""
    results = await _sends_open(client, requests)
    await client.aclose()
    return results


def _client(server: Scripted, path: str = "/infer", *, method: str = "POST", headers: dict[str, str] | None = None,
            timeout_s: float = 5.0, limit: int = 0, scheme: str = "http") -> Http1Client:
    return Http1Client(f"{scheme}://127.0.0.1:{server.port}{path}", method, headers or {}, timeout_s=timeout_s,
                       limit=limit)


def test_keep_alive_reuses_one_connection_and_stamps_the_last_byte(scripted: Callable[..., Scripted]) -> None:
    server = scripted(_keep_alive(lambda head: _answer(201)))
    client = _client(server)
    before = now_ns()
    results = _run(_sends(client, [client.request(b'{"a": 1}')] * 5))
    assert [status for status, _ in results] == [201] * 5
    assert all(before < finished <= now_ns() for _, finished in results)
    assert server.connections == 1 and len(server.requests) == 5


def test_the_request_carries_host_length_and_the_suites_headers(scripted: Callable[..., Scripted]) -> None:
    server = scripted(_keep_alive(lambda head: _answer()))
    client = _client(server, "/v2/infer?x=1", headers={"Content-Type": "application/json", "User-Agent": "mine",
                                                      "Content-Length": "999", "Connection": "close"})
    _run(_sends(client, [client.request(b"{}")]))
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v2/infer?x=1 HTTP/1.1" and body == b"{}"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields == {"Host": f"127.0.0.1:{server.port}", "User-Agent": "mine", "Accept": "*/*",
                      "Content-Type": "application/json", "Content-Length": "2"}


def test_a_get_without_a_body_sends_no_length_and_a_default_port_is_left_out() -> None:
    client = Http1Client("http://example.test:80/", "get", {}, timeout_s=1)
    request = client.request(None)
    assert request.startswith(b"GET / HTTP/1.1\r\nHost: example.test\r\n") and request.endswith(b"\r\n\r\n")
    assert b"Content-Length" not in request
    assert b"Content-Length: 0\r\n" in Http1Client("http://example.test/", "POST", {}, timeout_s=1).request(None)


@pytest.mark.parametrize(("url", "method", "headers", "message"), [
    ("http://h/", "POST", {"X-Token": "a\r\nInjected: yes"}, "header 'X-Token': not a header name, or its value"),
    ("http://h/", "POST", {"X-Token": "a\x01Injected"}, "header 'X-Token'"),
    ("http://h/", "POST", {"Bad:Name": "x"}, "header 'Bad:Name'"),
    ("http://h/", "POST", {" Lead": "x"}, "header ' Lead'"),
    ("http://h/", "BAD METHOD", {}, "not an HTTP method this client sends: 'BAD METHOD'"),
    ("http://h/", "HEAD", {}, "not an HTTP method this client sends: 'HEAD'"),
    ("http://user:Injected@h/", "GET", {}, "user info is not sent"),
    ("ftp://h/", "GET", {}, "expected an http:// or https:// URL"),
])
def test_a_request_that_would_be_malformed_is_refused_before_sending(url: str, method: str, headers: dict[str, str],
                                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        Http1Client(url, method, headers, timeout_s=1)
    assert "Injected" not in str(caught.value)  # a header's value or a URL's password may be a secret


def test_the_request_target_is_percent_encoded_where_it_must_be() -> None:
    request = Http1Client("http://h/a b/\u00e9%41?q=x y&r=/s", "M-SEARCH", {"X-Tab": "a\tb"}, timeout_s=1).request(None)
    assert request.startswith(b"M-SEARCH /a%20b/%C3%A9%41?q=x%20y&r=/s HTTP/1.1\r\n") and b"X-Tab: a\tb" in request


def test_chunked_answers_end_at_their_last_chunk(scripted: Callable[..., Scripted]) -> None:
    def handler(sock: socket.socket, server: Scripted) -> None:
        while server.read_request(sock) is not None:
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            time.sleep(0.1)
            sock.sendall(b"0\r\n\r\n")

    server = scripted(handler)
    client = _client(server)

    async def main() -> list[Any]:
        started = now_ns()
        results = await _sends(client, [client.request(b"")] * 2)
        return [(status, finished - started) for status, finished in results]

    (first_status, first_ns), (second_status, second_ns) = _run(main())
    assert first_status == second_status == 200
    assert first_ns >= 100e6 and second_ns >= 200e6  # each waited for its last chunk
    assert server.connections == 1


def test_an_interim_answer_is_passed_over_for_the_real_one(scripted: Callable[..., Scripted]) -> None:
    server = scripted(_keep_alive(lambda head: b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + _answer(202)))
    client = _client(server)
    results = _run(_sends(client, [client.request(b"")] * 2))
    assert [status for status, _ in results] == [202, 202] and server.connections == 1


def test_bytes_after_an_answer_never_reach_the_next_call(scripted: Callable[..., Scripted]) -> None:
    calls = 0

    def answer(head: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return _answer(200) + (b"HTTP/1.1 500 Stale\r\n" if calls == 1 else b"")

    server = scripted(_keep_alive(answer))
    client = _client(server)
    results = _run(_sends(client, [client.request(b"")] * 2))
    assert [status for status, _ in results] == [200, 200] and server.connections == 2


def test_an_interim_answer_then_a_close_is_no_answer(scripted: Callable[..., Scripted]) -> None:
    server = scripted(_once_then_close(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"))
    client = _client(server)
    (result,) = _run(_sends(client, [client.request(b"")]))
    assert isinstance(result, AnswerError) and "before its answer ended" in str(result)


def test_an_answer_without_a_length_ends_when_the_server_closes(scripted: Callable[..., Scripted]) -> None:
    server = scripted(_once_then_close(b"HTTP/1.0 200 OK\r\n\r\nall of it"))
    client = _client(server)
    results = _run(_sends(client, [client.request(b"")] * 3))
    assert [status for status, _ in results] == [200] * 3
    assert server.connections == 3


def test_connection_close_opens_a_new_connection_per_call(scripted: Callable[..., Scripted]) -> None:
    def handler(sock: socket.socket, server: Scripted) -> None:
        server.read_request(sock)
        sock.sendall(_answer(extra=b"Connection: close\r\n"))
        time.sleep(0.2)  # the client must not wait for the close

    server = scripted(handler)
    client = _client(server)
    started = time.monotonic()
    results = _run(_sends(client, [client.request(b"")] * 3))
    assert [status for status, _ in results] == [200] * 3 and time.monotonic() - started < 0.5
    assert server.connections == 3


def test_a_connection_the_server_closed_while_idle_is_not_reused(scripted: Callable[..., Scripted]) -> None:
    def handler(sock: socket.socket, server: Scripted) -> None:
        server.read_request(sock)
        sock.sendall(_answer())
        sock.close()  # keep-alive promised, then dropped while idle

    server = scripted(handler)
    client = _client(server)

    async def main() -> list[Any]:
        first = await _sends_open(client, [client.request(b"")])
        await asyncio.sleep(0.1)
        return first + await _sends(client, [client.request(b"")])

    assert [status for status, _ in _run(main())] == [200, 200]
    assert server.connections == 2


@pytest.mark.parametrize(("answer", "message"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", "closed the connection before its answer ended"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n", "closed the connection before its answer ended"),
    (b"NOT HTTP AT ALL\r\n\r\n", "malformed answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n", "malformed answer"),
])
def test_a_broken_answer_is_an_answer_error_and_the_next_call_is_clean(
        scripted: Callable[..., Scripted], answer: bytes, message: str) -> None:
    calls = 0

    def handler(sock: socket.socket, server: Scripted) -> None:
        nonlocal calls
        while server.read_request(sock) is not None:
            calls += 1
            if calls == 1:
                sock.sendall(answer)
                sock.close()
                return
            sock.sendall(_answer(204, b""))

    server = scripted(handler)
    client = _client(server)
    broken, fine = _run(_sends(client, [client.request(b"")] * 2))
    assert isinstance(broken, AnswerError) and message in str(broken)
    assert fine[0] == 204


def test_a_timed_out_call_never_hands_its_late_answer_to_the_next(scripted: Callable[..., Scripted]) -> None:
    def handler(sock: socket.socket, server: Scripted) -> None:
        while (head := server.read_request(sock)) is not None:
            if b"/slow" in head:
                time.sleep(0.3)
                sock.sendall(_answer(500, b"late"))
            else:
                sock.sendall(_answer(200, b"mine"))

    server = scripted(handler)
    client = Http1Client(f"http://127.0.0.1:{server.port}/slow", "POST", {}, timeout_s=0.1)
    fast = Http1Client(f"http://127.0.0.1:{server.port}/fast", "POST", {}, timeout_s=0.1).request(b"")

    async def main() -> list[Any]:
        timed_out = await _sends_open(client, [client.request(b"")])
        await asyncio.sleep(0.4)  # the late answer arrives meanwhile
        return timed_out + await _sends(client, [fast])

    timed_out, second = _run(main())
    assert isinstance(timed_out, asyncio.TimeoutError)
    assert second[0] == 200


def test_the_limit_caps_open_connections_and_others_wait_their_turn(scripted: Callable[..., Scripted]) -> None:
    def handler(sock: socket.socket, server: Scripted) -> None:
        while server.read_request(sock) is not None:
            time.sleep(0.05)
            sock.sendall(_answer())

    server = scripted(handler)
    client = _client(server, limit=2)

    async def main() -> list[Any]:
        results = await asyncio.gather(*(client.send(client.request(b"")) for _ in range(8)))
        await client.aclose()
        return results

    started = time.monotonic()
    results = _run(main())
    assert [status for status, _ in results] == [200] * 8
    assert server.connections == 2
    assert time.monotonic() - started >= 0.2  # 8 calls of 50 ms, 2 at a time


def test_waiting_for_a_connection_counts_against_the_timeout(scripted: Callable[..., Scripted]) -> None:
    def handler(sock: socket.socket, server: Scripted) -> None:
        server.read_request(sock)
        time.sleep(2)

    server = scripted(handler)
    client = _client(server, timeout_s=0.2, limit=1)

    async def main() -> list[Any]:
        results = await asyncio.gather(*(client.send(client.request(b"")) for _ in range(3)), return_exceptions=True)
        await client.aclose()
        return results

    started = time.monotonic()
    results = _run(main())
    assert all(isinstance(result, asyncio.TimeoutError) for result in results)
    assert time.monotonic() - started < 1.0 and server.connections == 1


def test_a_call_cancelled_while_waiting_its_turn_gives_its_place_back(scripted: Callable[..., Scripted]) -> None:
    server = scripted(_keep_alive(lambda head: _answer()))
    client = _client(server, limit=1)

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        held = await client._connection(loop, loop.time() + 5)  # the one place, taken
        waiting = asyncio.ensure_future(client.send(client.request(b"")))
        await asyncio.sleep(0.05)
        client._release(held)  # handed to the waiting call ...
        waiting.cancel()  # ... which is cancelled before it could use it
        with pytest.raises(asyncio.CancelledError):
            await waiting
        after = await asyncio.wait_for(client.send(client.request(b"")), 2)
        await client.aclose()
        return after

    assert _run(main())[0] == 200 and server.connections == 1


def test_a_refused_connection_is_an_os_error_and_frees_its_place() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        client = Http1Client(f"http://127.0.0.1:{sock.getsockname()[1]}/", "GET", {}, timeout_s=1, limit=1)
        results = _run(_sends(client, [client.request(None)] * 3))
    assert all(isinstance(result, ConnectionRefusedError) for result in results)
    assert client._open == 0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_https_verifies_the_server_against_the_trusted_certificates(
        scripted: Callable[..., Scripted], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = scripted(_keep_alive(lambda head: _answer(200)), tls)

    untrusted = _client(server, scheme="https")
    (refused,) = _run(_sends(untrusted, [untrusted.request(b"")]))
    assert isinstance(refused, ssl.SSLCertVerificationError)

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    trusted = _client(server, scheme="https")
    results = _run(_sends(trusted, [trusted.request(b"")] * 3))
    assert [status for status, _ in results] == [200] * 3
