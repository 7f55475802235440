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
"""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from benchtrail.errors import WebhookError

if TYPE_CHECKING:
    from requests import Response
    from urllib3.util.retry import Retry

__all__ = ["post_webhook", "webhook_origin"]

log = logging.getLogger(__name__)

_MAX_WAIT_S = 10  # the longest Retry-After honoured; a longer one is cut to this
_RETRIED = frozenset({429, *range(500, 600)})
_BODY_SHOWN = 100  # characters of a refusal's body put in the message
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")  # they log the path


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
                 backoff_s: float = 0.5) -> int:
    """POST ``payload`` as JSON to ``url`` and return the HTTP status (2xx). Up to
    ``attempts`` tries on 429, 5xx, timeouts and connection failures, on urllib3's schedule
    (``backoff_s`` is its ``backoff_factor``): the second try at once, the next ones
    ``2 * backoff_s``, ``4 * backoff_s``, ... later, or when ``Retry-After`` says. Raises
    ``WebhookError`` with one line that shows only ``scheme://host[:port]`` of ``url``."""
    origin = webhook_origin(url)
    if origin == "the webhook URL" or urlsplit(url).scheme not in ("http", "https"):
        raise WebhookError(f"webhook URL: expected an http:// or https:// URL, found {origin!r}")
    import requests  # here, not at the top: importing benchtrail stays light
    import urllib3

    tries = max(1, attempts)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    adapter = requests.adapters.HTTPAdapter(max_retries=_retry(tries - 1, backoff_s))
    redact = _Redact(url)
    loggers = [logging.getLogger(name) for name in _URLLIB3_LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        with requests.Session() as session:
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            with session.post(url, data=data, timeout=timeout_s, allow_redirects=False, stream=True, headers={
                    "Content-Type": "application/json", "User-Agent": "benchtrail"}) as response:
                status = response.status_code
                said = _said(response, url) if status >= 300 else ""
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out
        problem = _reason(exc, timeout_s)
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


def _retry(retries: int, backoff_s: float) -> Retry:
    """urllib3's ``Retry`` for one webhook POST."""
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    class WebhookRetry(Retry):
        def parse_retry_after(self, retry_after: str) -> float:
            try:  # whole seconds or an HTTP date, cut to retry_after_max
                return super().parse_retry_after(retry_after)
            except InvalidHeader:  # "0.5", which some servers send, or nonsense: the usual back-off (0)
                try:
                    seconds = float(retry_after)
                except ValueError:
                    return 0.0
                return min(seconds, self.retry_after_max) if seconds > 0 else 0.0  # NaN is not > 0

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
