"""``post_webhook`` against a loopback receiver (the ``/hooks/`` path of the stand-in
GitLab, ``gitlabapi``): the JSON arrives, failures are retried, and no message shows the
secret part of the URL."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from comparefixtures import row
from gitlabapi import GitLabApi, serve_gitlab, watch_logs

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.errors import WebhookError
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


def comparison(*rows: Row) -> Comparison:
    """Runs of main compared with main: what the record job compares."""
    return Comparison(tuple(rows), "main", None, 0.05, source={"ref": "main", "commit": "ab" * 20})


def test_alert_regression_posts_only_a_regression_of_the_baseline_branch(receiver: GitLabApi) -> None:
    from benchtrail.gitlab.webhook import alert_regression

    url = f"{receiver.url}/hooks/secret"
    regressed = comparison(row("double", "regression", change=0.3))
    assert alert_regression(regressed, url, baseline_ref="feature") is None  # a merge request's: the note's job
    assert alert_regression(comparison(row("double", "improvement", change=-0.3)), url, baseline_ref="main") is None
    assert not [r for r in receiver.requests if r["path"].startswith("/hooks/")]
    assert alert_regression(regressed, url, baseline_ref="main") == "Posted the regression alert to the webhook"
    [posted] = [r for r in receiver.requests if r["path"].startswith("/hooks/")]
    assert json.loads(posted["body"])["verdict"] == "regression"


def test_a_failing_webhook_is_a_warning_not_an_error() -> None:
    from benchtrail.gitlab.webhook import alert_regression

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    said = alert_regression(comparison(row("double", "regression", change=0.3)),
                            f"http://127.0.0.1:{port}/hooks/secret-path", baseline_ref="main")
    assert said is not None and said.startswith("Warning: the regression alert was not posted: ")
    assert "secret-path" not in said
