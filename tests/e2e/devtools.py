"""Headless Chromium driven over its DevTools protocol, through a pipe: no port, no extra package.

``--remote-debugging-pipe`` makes Chromium read commands from its fd 3 and write answers
and events to its fd 4, one JSON message each, ended by a NUL byte. A thread reads the
answers; ``Browser.send`` waits for its own and keeps every event, by session, so a
test can look at what happened while a page loaded (console calls, failed requests,
dialogs). A dialog (``alert``) is dismissed at once, or the page would hang.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The flags every run uses; headless, nothing fetched from the network by Chromium itself.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--no-default-browser-check", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe")
START_TIMEOUT_S = 30
COMMAND_TIMEOUT_S = 30


#: Chromium wants the pipe on its fds 3 and 4 exactly: this puts it there, then runs Chromium
#: (a shell could not: dash takes one-digit fd numbers only, and ours may collide with 3 and 4).
_ON_FDS_3_AND_4 = """
import os, sys
reading, writing = int(sys.argv[1]), int(sys.argv[2])
os.dup2(reading, 3)
os.dup2(writing, 4)
os.close(reading)
os.close(writing)
os.execvp(sys.argv[3], sys.argv[3:])
"""


def _high_fd(fd: int) -> int:
    """``fd`` moved to 10 or above, so that putting the pipe on fds 3 and 4 cannot overwrite it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class DevToolsError(RuntimeError):
    """Chromium answered a command with an error, stopped, or did not answer in time."""


@dataclass
class Tab:
    """One page target, attached in flat mode; ``events`` holds every event of its session."""

    browser: Browser
    session: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.send(method, session=self.session, **params)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited when a promise), as JSON."""
        done = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in done:
            raise DevToolsError(f"{expression[:60]!r} threw: {done['exceptionDetails']}")
        return done["result"].get("value")

    def goto(self, url: str) -> list[tuple[str, dict[str, Any]]]:
        """Load ``url`` and wait for its ``load`` event; the events seen meanwhile."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.browser.wait_for(lambda: any(method == "Page.loadEventFired" for method, _ in self.events))
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")  # the load handlers ran
        return list(self.events)


class Browser:
    """A headless Chromium process and its DevTools pipe."""

    def __init__(self, executable: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="benchtrail-chromium-")
        to_chrome_r, self._to_chrome = map(_high_fd, os.pipe())
        self._from_chrome, from_chrome_w = map(_high_fd, os.pipe())
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ON_FDS_3_AND_4, str(to_chrome_r), str(from_chrome_w), executable, *FLAGS,
             f"--user-data-dir={self._profile.name}", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._stderr: list[bytes] = []
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._next_id = 0
        self._lock = threading.Lock()
        self.tabs: dict[str, Tab] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        try:
            self.version = self.send("Browser.getVersion", timeout_s=START_TIMEOUT_S)["product"]
        except DevToolsError:
            self.close()
            raise

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_chrome, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._answers.put(json.loads(message))
        self._answers.put(None)  # Chromium closed the pipe

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def stderr_tail(self, lines: int = 20) -> str:
        return b"".join(self._stderr[-lines:]).decode(errors="replace")

    def _write(self, method: str, session: str | None, params: dict[str, Any]) -> int:
        with self._lock:
            self._next_id += 1
            message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
            if session is not None:
                message["sessionId"] = session
            data = json.dumps(message).encode() + b"\0"
            while data:
                data = data[os.write(self._to_chrome, data):]
            return self._next_id

    def _take(self, deadline: float) -> dict[str, Any]:
        """The next message; events are filed under their tab (dialogs dismissed) as they come."""
        try:
            message = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise DevToolsError(f"Chromium did not answer in time; its stderr ends:\n{self.stderr_tail()}") from None
        if message is None:
            self._answers.put(None)
            raise DevToolsError(f"Chromium closed its DevTools pipe; its stderr ends:\n{self.stderr_tail()}")
        if "method" in message:
            tab = self.tabs.get(message.get("sessionId", ""))
            if tab is not None:
                tab.events.append((message["method"], message.get("params", {})))
                if message["method"] == "Page.javascriptDialogOpening":
                    self._write("Page.handleJavaScriptDialog", tab.session, {"accept": False})
        return message

    def send(self, method: str, *, session: str | None = None, timeout_s: float = COMMAND_TIMEOUT_S,
             **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer, keeping the events that come first."""
        sent = self._write(method, session, params)
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._take(deadline)
            if message.get("id") == sent:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        """Read messages until ``condition()`` holds."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            self._take(deadline)

    def new_tab(self, *domains: str) -> Tab:
        """A blank page target with ``domains`` (``Page``, ``Runtime``, ...) enabled."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tab = self.tabs[session] = Tab(self, session)
        for domain in domains:
            tab.send(f"{domain}.enable")
        return tab

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout_s=5)
        except (DevToolsError, OSError):  # it stopped already
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)  # it reads until the pipe's end, then stops
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._profile.cleanup()
