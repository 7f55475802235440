"""POST a JSON payload to a webhook (Slack, Mattermost, Teams, a chat bot, ...).

The payload is built by the caller; this module only carries it, with requests and the
``Retry`` of urllib3 underneath it: 429, 5xx, timeouts and failed connections are tried
again with a doubling back-off, and a ``Retry-After`` (seconds or an HTTP date) is honoured
up to ``_MAX_WAIT_S``. requests also follows the proxy settings (``HTTPS_PROXY``,
``NO_PROXY``) as the standard library did. Both load inside ``post_webhook``, so
``import benchtrail.cli`` stays light.

An incoming-webhook URL carries its secret in the path (``/hooks/<key>``,
``/services/T0/B0/<key>``), so no message or log line shows more of it than
``scheme://host[:port]``: urllib3 logs the path it requests, and while a webhook is posted
its loggers blank it. Redirects are not followed: a redirected POST would turn into a GET
without its body, and the new address would be shown nowhere.

requests' ``timeout`` bounds each read of the socket, not a request: a server that drips
its answer a byte at a time would hold the job until the job's own timeout. So a webhook
POST, and a merge request note (``notes.upsert_note`` shares ``Deadline``), has a total
deadline, retries and their waits included: ``NETWORK_TIMEOUT_S`` (120 s), or
``BENCHTRAIL_NETWORK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from benchtrail.deadlines import NETWORK_TIMEOUT_VARIABLE, network_timeout_s
from benchtrail.errors import WebhookError

if TYPE_CHECKING:
    from requests import Response
    from urllib3.util.retry import Retry

__all__ = ["Deadline", "DeadlinePassed", "post_webhook", "webhook_origin"]

log = logging.getLogger(__name__)

_MAX_WAIT_S = 10  # the longest Retry-After honoured; a longer one is cut to this
_RETRIED = frozenset({429, *range(500, 600)})
_BODY_SHOWN = 100  # characters of a refusal's body put in the message
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")  # they log the path


class DeadlinePassed(Exception):
    """A request started, or a connection opened, after its ``Deadline``. Not a requests
    exception, so that no retry loop (urllib3's, python-gitlab's) tries again."""


class Deadline:
    """A limit on the total time of a requests session's exchanges, from ``with`` on.

    When it passes, a timer shuts down the socket of every connection the session opened,
    so that a read blocked on a stalled or dripping server returns at once; from then on
    no request starts and no connection opens (``DeadlinePassed``). Waits between retries
    are the caller's to cut to ``left_s()``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = math.inf
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._ends = time.monotonic() + self.seconds
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    @property
    def passed(self) -> bool:
        """Whether the deadline has passed (the timer fires at it or just after)."""
        return time.monotonic() >= self._ends

    def left_s(self) -> float:
        """Seconds until the deadline (0 once it has passed)."""
        return max(0.0, self._ends - time.monotonic())

    def mount(self, session: Any, **adapter_options: Any) -> None:
        """Mount on ``session``, for http and https, a requests ``HTTPAdapter`` made with
        ``adapter_options`` whose connections this deadline watches."""
        from requests.adapters import HTTPAdapter

        deadline = self

        class WatchedAdapter(HTTPAdapter):
            def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
                deadline.check()
                return super().send(request, *args, **kwargs)

            def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
                pool = super().get_connection_with_tls_context(*args, **kwargs)
                if getattr(pool.ConnectionCls, "deadline", None) is not deadline:
                    pool.ConnectionCls = deadline._watched(pool.ConnectionCls)
                return pool

        adapter = WatchedAdapter(**adapter_options)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    def _watched(self, connection_class: type) -> type:
        """A subclass of urllib3's ``connection_class`` whose sockets this deadline shuts
        down: each is kept once connected (a TLS one once wrapped), since a response that
        closes its connection takes the socket with it."""
        deadline = self

        class Watched(connection_class):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                deadline.check()
                super().connect()
                deadline._keep(self.sock)

        Watched.deadline = deadline  # type: ignore[attr-defined]
        return Watched

    def check(self) -> None:
        """Raises ``DeadlinePassed`` once the deadline has passed."""
        if self.passed:
            raise DeadlinePassed(f"no complete answer within {self.seconds:g} s")

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
        if self.passed:  # it connected while the deadline passed: the timer may have missed it
            _shut(sock)
            self.check()

    def _cut(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways: a read blocked on it returns at once."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: a TLS one's drops its TLS state
    except OSError:  # closed already
        pass


def webhook_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: all of it that may be shown."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the webhook URL"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if not parts.scheme or not host:
        return "the webhook URL"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def post_webhook(url: str, payload: dict[str, Any], *, timeout_s: float = 10.0, attempts: int = 3,
                 backoff_s: float = 0.5, deadline_s: float | None = None) -> int:
    """POST ``payload`` as JSON to ``url`` and return the HTTP status (2xx). Up to
    ``attempts`` tries on 429, 5xx, timeouts and connection failures, on urllib3's schedule
    (``backoff_s`` is its ``backoff_factor``): the second try at once, the next ones
    ``2 * backoff_s``, ``4 * backoff_s``, ... later, or when ``Retry-After`` says; all of it
    within ``deadline_s`` (``None``: ``network_timeout_s``). ``timeout_s`` bounds each read.
    Raises ``WebhookError`` with one line that shows only ``scheme://host[:port]`` of ``url``."""
    origin = webhook_origin(url)
    if origin == "the webhook URL" or urlsplit(url).scheme not in ("http", "https"):
        raise WebhookError(f"webhook URL: expected an http:// or https:// URL, found {origin!r}")
    import requests  # here, not at the top: importing benchtrail stays light
    import urllib3

    tries = max(1, attempts)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    deadline = Deadline(network_timeout_s(WebhookError) if deadline_s is None else deadline_s)
    redact = _Redact(url)
    loggers = [logging.getLogger(name) for name in _URLLIB3_LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        with requests.Session() as session, deadline:
            deadline.mount(session, max_retries=_retry(tries - 1, backoff_s, deadline))
            with session.post(url, data=data, timeout=timeout_s, allow_redirects=False, stream=True, headers={
                    "Content-Type": "application/json", "User-Agent": "benchtrail"}) as response:
                status = response.status_code
                said = _said(response, url) if status >= 300 else ""
            deadline.check()  # an answer cut short by the deadline (its headers, say) is no answer
    except (DeadlinePassed, requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if deadline.passed:  # whatever the cut sockets raised
            raise WebhookError(f"cannot deliver the webhook to {origin}: no complete answer within "
                               f"{deadline.seconds:g} s (set {NETWORK_TIMEOUT_VARIABLE} to wait longer)") from None
        problem = _reason(exc, timeout_s)  # refused, reset, timed out
        raise WebhookError(f"cannot deliver the webhook to {origin}: {problem} (after {tries} attempts)") from None
    finally:
        for logger in loggers:
            logger.removeFilter(redact)
    if status < 300:
        log.info("webhook %s answered %d", origin, status)
        return status
    if status in _RETRIED:  # urllib3 has tried them all and handed back the last answer
        raise WebhookError(f"cannot deliver the webhook to {origin}: HTTP {status}{said} (after {tries} attempts)")
    raise WebhookError(_refused(origin, status, said))


def _retry(retries: int, backoff_s: float, deadline: Deadline) -> Retry:
    """urllib3's ``Retry`` for one webhook POST: no wait beyond the ``deadline``."""
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    class WebhookRetry(Retry):
        def parse_retry_after(self, retry_after: str) -> float:
            try:  # whole seconds or an HTTP date, cut to retry_after_max
                seconds = super().parse_retry_after(retry_after)
            except InvalidHeader:  # "0.5", which some servers send, or nonsense: the usual back-off (0)
                try:
                    seconds = min(float(retry_after), self.retry_after_max)
                except ValueError:
                    seconds = 0.0
            return min(seconds, deadline.left_s()) if seconds > 0 else 0.0  # NaN is not > 0

        def get_backoff_time(self) -> float:
            return min(super().get_backoff_time(), deadline.left_s())

    # POST is not idempotent, so urllib3 retries it only when told: a chat message sent twice
    # beats a regression alert lost. The last 429 or 5xx comes back (raise_on_status) for its body.
    return WebhookRetry(total=retries, allowed_methods=frozenset({"POST"}), status_forcelist=_RETRIED,
                        backoff_factor=backoff_s, backoff_max=_MAX_WAIT_S, retry_after_max=_MAX_WAIT_S,
                        raise_on_status=False)


class _Redact(logging.Filter):
    """Blanks the secret parts of a webhook URL in a log record (urllib3 logs the path)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.secrets = _secrets(url)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


def _secrets(url: str) -> list[str]:
    """The parts of ``url`` never shown (the URL, its path and query, also as requests quotes
    them), longest first."""
    from requests.utils import requote_uri

    parts = urlsplit(url)
    found = {url, parts.path, parts.query, requote_uri(parts.path), requote_uri(parts.query)}
    return sorted((secret for secret in found if len(secret) > 1), key=len, reverse=True)


def _refused(origin: str, status: int, said: str) -> str:
    if 300 <= status < 400:
        return (f"webhook {origin} answered HTTP {status} (a redirect): give the URL it redirects to; a "
                f"redirected POST loses its body")
    if status in (401, 403, 404, 410):
        return (f"webhook {origin} refused the message (HTTP {status}{said}): the webhook URL is wrong, revoked "
                f"or disabled; copy it again from the chat's integration settings")
    return f"webhook {origin} refused the message (HTTP {status}{said})"


def _said(response: Response, url: str) -> str:
    """``: <the start of the answer's body>``, one line, without any part of the URL."""
    import requests

    try:
        text = " ".join(next(response.iter_content(2048), b"").decode("utf-8", "replace").split())
    except (requests.RequestException, OSError):
        return ""
    for secret in _secrets(url):  # a server echoing the URL must not show its key
        text = text.replace(secret, "***")
    if not text:
        return ""
    return f": {text[:_BODY_SHOWN - 3] + '...' if len(text) > _BODY_SHOWN else text}"


def _reason(exc: BaseException, timeout_s: float) -> str:
    """The words of a failed connection, without the URL: those of the innermost error
    (requests wraps urllib3's, which wraps the socket's)."""
    for _ in range(10):
        inner = exc.__cause__ or exc.__context__ or next(
            (arg for arg in exc.args if isinstance(arg, BaseException)), None)
        if inner is None:
            break
        exc = inner
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
