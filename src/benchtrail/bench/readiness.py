"""Wait until a model server answers that it is ready, or say in one line why it is not.

A benchmark of a server that is still loading its model would measure the loading (or
count every call as an error); one that cannot be reached at all is the user's problem
to fix, not a result. So a serving benchmark first polls its server's readiness URLs (KServe
v2: ``/v2/health/ready`` and ``/v2/models/{name}/ready``; OpenAI-compatible engines:
``/v1/models``) until each answers 200, within a deadline; past it, a ``SuiteError`` (exit
2, no result file) names the URL and its last answer. Headers (an API key) are sent but
never shown.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from benchtrail.errors import SuiteError

__all__ = ["READY_TIMEOUT_S", "fetch_ready", "wait_ready"]

#: how long a server may take to become ready, by default (a model load)
READY_TIMEOUT_S = 60.0
_POLL_S = 0.25
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never via a proxy
_MAX_BODY = 1 << 20


def _answer(url: str, headers: Mapping[str, str], timeout_s: float) -> tuple[int | None, bytes, str]:
    """(HTTP status or None, body, what happened in words) of one GET."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return response.status, response.read(_MAX_BODY), f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code, b"", f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        return None, b"", getattr(reason, "strerror", None) or str(reason)
    except (OSError, ValueError) as exc:  # a reset, a timeout, a malformed answer
        return None, b"", getattr(exc, "strerror", None) or type(exc).__name__


def fetch_ready(url: str, *, deadline: float, where: str, headers: Mapping[str, str] | None = None) -> bytes:
    """Poll ``url`` until it answers 200, before ``deadline`` (``time.monotonic``); its body.

    ``where`` starts the error line (``suite.toml: benchmark[0]``).
    """
    headers = headers or {}
    last = "no answer"
    while True:
        left = deadline - time.monotonic()
        status, body, last = _answer(url, headers, max(0.5, min(left, 10.0)))
        if status == 200:
            return body
        if time.monotonic() + _POLL_S >= deadline:
            raise SuiteError(f"{where}: the server was not ready before the deadline (ready_timeout_s): "
                             f"{url}: {last}; is it running, and has it loaded the model?")
        time.sleep(_POLL_S)


def wait_ready(urls: list[str], *, timeout_s: float, where: str, headers: Mapping[str, str] | None = None) -> None:
    """Every one of ``urls`` answers 200 within ``timeout_s`` seconds in all, else a ``SuiteError``."""
    deadline = time.monotonic() + timeout_s
    for url in urls:
        fetch_ready(url, deadline=deadline, where=where, headers=headers)
