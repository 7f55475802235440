"""``post_webhook`` against a loopback receiver (the ``/hooks/`` path of the stand-in
GitLab, ``gitlabapi``): the JSON arrives, failures are retried, and no message shows the
secret part of the URL."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from gitlabapi import GitLabApi, serve_gitlab, watch_logs
from test_notes import DRIPS, USER, http_answer, raw_server  # the loopback server that drips

from benchtrail.errors import WebhookError
from benchtrail.gitlab import webhook
from benchtrail.gitlab.webhook import post_webhook, webhook_origin

KEY = "XXXXsecretXXXX"
SECRET = f"T000/B000/{KEY}"
PAYLOAD = {"text": "mlp: regression, +12 % p50 (été)", "suite": "mlp"}


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from watch_logs(caplog, monkeypatch, (KEY,))


@pytest.fixture
def receiver() -> Iterator[GitLabApi]:
    with serve_gitlab() as server:
        yield server


def hook(receiver: GitLabApi) -> str:
    return f"{receiver.url}/hooks/services/{SECRET}"


def refused(url: str, **kwargs: float) -> str:
    with pytest.raises(WebhookError) as caught:
        post_webhook(url, PAYLOAD, backoff_s=0.01, **kwargs)  # type: ignore[arg-type]
    line = str(caught.value)
    assert "\n" not in line and KEY not in line and "/hooks/" not in line
    return line


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_json_arrives(receiver: GitLabApi) -> None:
    assert post_webhook(hook(receiver), PAYLOAD) == 200
    [request] = receiver.requests
    assert request["method"] == "POST" and request["path"] == f"/hooks/services/{SECRET}"
    assert request["headers"]["content-type"] == "application/json"
    assert json.loads(request["body"]) == PAYLOAD


def test_500_then_200_is_retried(receiver: GitLabApi) -> None:
    receiver.fail_next(500)
    assert post_webhook(hook(receiver), PAYLOAD, backoff_s=0.01) == 200
    assert [r["status"] for r in receiver.requests] == [500, 200]


def test_429_waits_for_retry_after(receiver: GitLabApi) -> None:
    receiver.fail_next(429, retry_after="0.3")
    start = time.monotonic()
    assert post_webhook(hook(receiver), PAYLOAD, backoff_s=0.01) == 200
    assert time.monotonic() - start >= 0.3


def test_503_waits_for_an_http_date_retry_after(receiver: GitLabApi) -> None:
    receiver.fail_next(503, retry_after=formatdate(time.time() + 2, usegmt=True))  # whole seconds: 1 to 2 s away
    start = time.monotonic()
    assert post_webhook(hook(receiver), PAYLOAD, backoff_s=0.01) == 200
    assert time.monotonic() - start >= 1.0
    assert [r["status"] for r in receiver.requests] == [503, 200]


def test_a_long_retry_after_is_cut(receiver: GitLabApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook, "_MAX_WAIT_S", 0.5)  # 10 s in earnest
    receiver.fail_next(429, retry_after=3600)
    receiver.fail_next(503, retry_after="Wed, 21 Oct 2099 07:28:00 GMT")
    start = time.monotonic()
    assert post_webhook(hook(receiver), PAYLOAD, backoff_s=0.01) == 200
    assert 1.0 <= time.monotonic() - start < 5
    assert [r["status"] for r in receiver.requests] == [429, 503, 200]


def test_a_retry_after_that_means_nothing_is_the_usual_back_off(receiver: GitLabApi) -> None:
    receiver.fail_next(429, retry_after="soon")
    receiver.fail_next(503, retry_after="-5")
    start = time.monotonic()
    assert post_webhook(hook(receiver), PAYLOAD, backoff_s=0.01) == 200
    assert time.monotonic() - start < 5
    assert [r["status"] for r in receiver.requests] == [429, 503, 200]


def test_gives_up_after_the_attempts(receiver: GitLabApi) -> None:
    receiver.fail_next(503, times=3)
    assert refused(hook(receiver), attempts=3) == (
        f"cannot deliver the webhook to {receiver.url}: HTTP 503: {{\"message\": \"503 on purpose\"}} "
        f"(after 3 attempts)")
    assert len(receiver.requests) == 3


@pytest.mark.parametrize(("status", "line"), [
    (404, ("webhook {url} refused the message (HTTP 404: {{\"message\": \"404 on purpose\"}}): the webhook URL is "
          "wrong, revoked or disabled; copy it again from the chat's integration settings")),
    (400, "webhook {url} refused the message (HTTP 400: {{\"message\": \"400 on purpose\"}})"),
    (301, ("webhook {url} answered HTTP 301 (a redirect): give the URL it redirects to; a redirected POST loses "
          "its body")),
])
def test_a_refusal_or_redirect_is_final(receiver: GitLabApi, status: int, line: str) -> None:
    receiver.fail_next(status)
    assert refused(hook(receiver)) == line.format(url=receiver.url)
    assert len(receiver.requests) == 1


def test_unreachable_shows_only_the_origin() -> None:
    port = free_port()
    assert refused(f"http://127.0.0.1:{port}/hooks/{SECRET}") == (
        f"cannot deliver the webhook to http://127.0.0.1:{port}: connection refused (after 3 attempts)")


def test_no_answer_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        assert refused(f"http://127.0.0.1:{port}/hooks/{SECRET}", timeout_s=0.2, attempts=1) == (
            f"cannot deliver the webhook to http://127.0.0.1:{port}: no answer within 0.2 s (after 1 attempts)")


DRIPPING = {"the headers of a 200": (USER, DRIPS["the headers"]),
            "the body of a 500": (http_answer("500 Internal Server Error", "text/plain", b"x" * 100),
                                  USER.index(b"\r\n\r\n") + 4)}  # urllib3 reads it before it tries again


@pytest.mark.parametrize("drip", DRIPPING)
def test_a_dripping_server_ends_at_the_deadline(drip: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests' timeout is per read: a byte a second would keep it waiting for ever."""
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "2")
    answer, drip_from = DRIPPING[drip]
    with raw_server(answer, drip_from=drip_from) as url:
        start = time.monotonic()
        line = refused(f"{url}/hooks/{SECRET}")
        took = time.monotonic() - start
    assert line == (f"cannot deliver the webhook to {url}: no complete answer within 2 s (set "
                    f"BENCHTRAIL_NETWORK_TIMEOUT to wait longer)")
    assert 1.9 < took < 2 + 5


def test_no_retry_after_outlasts_the_deadline(receiver: GitLabApi) -> None:
    receiver.fail_next(503, times=3, retry_after=10)
    start = time.monotonic()
    refused(hook(receiver), deadline_s=1.5)  # the deadline's line, or the third 503's
    assert time.monotonic() - start < 1.5 + 2


@pytest.mark.parametrize("value", ["soon", "0", "nan"])
def test_a_deadline_that_is_no_number_of_seconds_is_refused(value: str, receiver: GitLabApi,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", value)
    assert refused(hook(receiver)) == f"BENCHTRAIL_NETWORK_TIMEOUT: expected a number of seconds above 0, found {value!r}"
    assert receiver.requests == []


def test_not_an_http_url() -> None:
    assert refused(f"ftp://hooks.example.com/{SECRET}") == (
        "webhook URL: expected an http:// or https:// URL, found 'ftp://hooks.example.com'")
    assert refused(SECRET) == "webhook URL: expected an http:// or https:// URL, found 'the webhook URL'"


@pytest.mark.parametrize(("url", "origin"), [
    (f"https://hooks.slack.com/services/{SECRET}", "https://hooks.slack.com"),
    (f"https://user:{KEY}@chat.example.com:8443/hooks/x?token={KEY}", "https://chat.example.com:8443"),
    (f"http://[::1]:8065/hooks/{SECRET}", "http://[::1]:8065"),
    (f"https://chat.example.com:notaport/{SECRET}", "the webhook URL"),
    (SECRET, "the webhook URL"),
])
def test_webhook_origin(url: str, origin: str) -> None:
    assert webhook_origin(url) == origin
