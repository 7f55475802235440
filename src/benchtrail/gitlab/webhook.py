"""POST a JSON payload to a webhook (Slack, Mattermost, Teams, a chat bot, ...).

The payload is built by the caller; this module only carries it, with the standard
library (one POST needs no HTTP client dependency). 429, 5xx, timeouts and failed
connections are retried with a short back-off; a 429's ``Retry-After`` is honoured up to
``_MAX_WAIT_S``.

An incoming-webhook URL carries its secret in the path (``/hooks/<key>``,
``/services/T0/B0/<key>``), so no message or log line shows more of it than
``scheme://host[:port]``. Redirects are not followed: a redirected POST would turn into
a GET without its body, and the new address would be shown nowhere.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from benchtrail.compare.comparison import Comparison
from benchtrail.compare.render import webhook_payload
from benchtrail.errors import WebhookError

__all__ = ["alert_regression", "post_webhook", "webhook_origin"]

log = logging.getLogger(__name__)

_MAX_WAIT_S = 10.0  # the longest Retry-After honoured; a longer one is cut to this
_BODY_SHOWN = 100  # characters of a refusal's body put in the message


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a 3xx then raises HTTPError
        return None


def post_webhook(url: str, payload: dict[str, Any], *, timeout_s: float = 10.0, attempts: int = 3,
                 backoff_s: float = 0.5) -> int:
    """POST ``payload`` as JSON to ``url`` and return the HTTP status (2xx). Up to
    ``attempts`` tries on 429, 5xx, timeouts and connection failures, waiting
    ``backoff_s``, then twice that, ... between them. Raises ``WebhookError`` with one
    line that shows only ``scheme://host[:port]`` of ``url``."""
    origin = webhook_origin(url)
    if origin == "the webhook URL" or urlsplit(url).scheme not in ("http", "https"):
        raise WebhookError(f"webhook URL: expected an http:// or https:// URL, found {origin!r}")
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    opener = urllib.request.build_opener(_NoRedirect)
    problem = ""
    for attempt in range(1, max(1, attempts) + 1):
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "benchtrail"})
        wait_s = backoff_s * 2 ** (attempt - 1)
        try:
            with opener.open(request, timeout=timeout_s) as response:
                status = int(response.status)
            log.info("webhook %s answered %d", origin, status)
            return status
        except urllib.error.HTTPError as exc:
            status, said = exc.code, _said(exc, url)
            exc.close()
            if status != 429 and status < 500:
                raise WebhookError(_refused(origin, status, said)) from None
            problem = f"HTTP {status}{said}"
            wait_s = _retry_after(exc.headers.get("Retry-After"), wait_s)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            problem = _reason(exc, timeout_s)
        if attempt < attempts:
            log.info("webhook %s: %s; trying again in %.1f s", origin, problem, wait_s)
            time.sleep(wait_s)
    raise WebhookError(f"cannot deliver the webhook to {origin}: {problem} (after {max(1, attempts)} attempts)")


def _refused(origin: str, status: int, said: str) -> str:
    if 300 <= status < 400:
        return (f"webhook {origin} answered HTTP {status} (a redirect): give the URL it redirects to; a "
                f"redirected POST loses its body")
    if status in (401, 403, 404, 410):
        return (f"webhook {origin} refused the message (HTTP {status}{said}): the webhook URL is wrong, revoked "
                f"or disabled; copy it again from the chat's integration settings")
    return f"webhook {origin} refused the message (HTTP {status}{said})"


def _said(exc: urllib.error.HTTPError, url: str) -> str:
    """``: <the start of the answer's body>``, one line, without any part of the URL."""
    try:
        text = " ".join(exc.read(2048).decode("utf-8", "replace").split())
    except OSError:
        return ""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):  # a server echoing the URL must not show its key
        if len(secret) > 1:
            text = text.replace(secret, "***")
    if not text:
        return ""
    return f": {text[:_BODY_SHOWN - 3] + '...' if len(text) > _BODY_SHOWN else text}"


def _retry_after(value: str | None, default_s: float) -> float:
    """The wait a 429 or 503 asks for, in seconds, at most ``_MAX_WAIT_S``."""
    try:
        return min(max(float(value), 0.0), _MAX_WAIT_S) if value else default_s
    except ValueError:  # an HTTP date: not worth parsing for a webhook
        return default_s


def _reason(exc: BaseException, timeout_s: float) -> str:
    """The words of a failed connection, without the URL (a URLError carries none)."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout_s:g} s"
    if isinstance(reason, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return type(reason).__name__


def alert_regression(comparison: Comparison, url: str, *, baseline_ref: str) -> str | None:
    """POST the regression alert when the runs compared are of the baseline branch itself
    (the default branch: a merge request's regression is the note's business) and
    regressed. Returns the line to show, or ``None`` when there was nothing to post. A
    webhook that fails is a warning: the verdict stands whatever the chat server says."""
    if comparison.verdict != "regression" or comparison.source.get("ref") != baseline_ref:
        return None
    try:
        post_webhook(url, webhook_payload(comparison))
    except WebhookError as exc:
        return f"Warning: the regression alert was not posted: {exc}"
    return "Posted the regression alert to the webhook"
