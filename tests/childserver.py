"""Run a test server in a child Python process for as long as a ``with`` block lasts.

The loopback servers of the tests (``loopback``, ``llmserver``, ``kserveserver``) each run
in a process of their own, so that at load they share neither a GIL nor an event loop with
the client being measured. Each child binds a free port on 127.0.0.1, prints it on a line
of its own, and exits at the end of its standard input, so it also dies with its parent.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

__all__ = ["ChildServer", "child_port"]

_START_TIMEOUT_S = 30.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextlib.contextmanager
def child_port(script: str, *args: str, what: str) -> Iterator[int]:
    """Run ``python script args...``; yield the port it prints; close its standard input
    on the way out (killing it after 10 s). ``what`` names it in errors."""
    process = subprocess.Popen([sys.executable, script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=None)
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(_START_TIMEOUT_S):
                raise RuntimeError(f"{what} did not start within {_START_TIMEOUT_S:g} s")
        line = process.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError(f"{what} failed to start (rc={process.poll()}, said {line!r})")
        yield int(line)
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the child exits on EOF
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


class ChildServer(str):
    """A child server's base URL (``http://127.0.0.1:PORT``), with its control calls under
    ``CONTROL`` (JSON in, JSON out; never through an HTTP proxy)."""

    CONTROL = "/_control/"
    port: int

    def __new__(cls, port: int) -> ChildServer:
        self = super().__new__(cls, f"http://127.0.0.1:{port}")
        self.port = port
        return self

    @property
    def url(self) -> str:
        return str(self)

    def _control(self, what: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self + self.CONTROL + what, data=data, method="POST" if data else "GET")
        with _OPENER.open(request, timeout=30) as response:
            return json.loads(response.read())
