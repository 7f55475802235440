"""The regression alert: its chat text, its data, and when it is posted."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from comparefixtures import row, sha
from gitlabapi import GitLabApi, serve_gitlab

from benchtrail.compare.comparison import Comparison, Confirmation, Row
from benchtrail.gitlab.alert import alert_regression, webhook_payload
from benchtrail.results.model import Source

SOURCE = {"commit": sha(7), "ref": "feature/x", "mr_iid": "12",
          "pipeline_url": "https://gitlab.example.com/g/p/-/pipelines/9"}
def comparison(*rows, merge_base: str | None = None, baselines=None, notes=None) -> Comparison:  # type: ignore[no-untyped-def]
    return Comparison(tuple(rows), "main", merge_base, 0.05, baselines or {}, notes or {}, Source(**SOURCE))


def test_the_webhook_text_names_each_regressed_benchmark() -> None:
    rows = [row(f"model-{i}", "regression", change=0.5 - i / 100) for i in range(12)]
    payload = webhook_payload(comparison(*rows, row("fine")))
    text = payload["text"].splitlines()
    assert text[0] == f"benchtrail: 12 regressions on feature/x at {sha(7)[:12]}"
    assert text[1] == "- demo model-0 latency_ms: +50.0 % (10 ms -&gt; 15 ms)"  # escaped for Slack
    assert [line.split()[2] for line in text[1:11]] == [f"model-{i}" for i in range(10)]
    assert text[11] == "- and 2 more" and text[12] == f"Pipeline: {SOURCE['pipeline_url']}"
    assert len(payload["results"]) == 12 and {r["verdict"] for r in payload["results"]} == {"regression"}
    assert payload["commit"] == sha(7) and payload["ref"] == "feature/x"
    json.dumps(payload, allow_nan=False)

def test_the_webhook_says_how_a_regression_was_confirmed() -> None:
    paired = replace(row("model", "regression", change=0.2),
                     confirmation=Confirmation("paired", 5, sha(3), ((10.0, 12.0),) * 5))
    payload = webhook_payload(comparison(paired))
    assert payload["text"].splitlines()[1] == (f"- demo model latency_ms: +20.0 % (10 ms -&gt; 12 ms), confirmed in "
                                               f"5 pairs with {sha(3)[:12]}")
    assert payload["results"][0]["confirmation"]["pairs"] == [[10.0, 12.0]] * 5


def test_the_webhook_text_escapes_what_slack_and_mattermost_would_read_as_mentions_or_links() -> None:
    payload = webhook_payload(comparison(row("<!channel>", "regression", change=0.5),
                                         row("a&b <http://x|y>", "regression", change=0.4)))
    lines = payload["text"].splitlines()
    assert lines[1] == "- demo &lt;!channel&gt; latency_ms: +50.0 % (10 ms -&gt; 15 ms)"
    assert lines[2] == "- demo a&amp;b &lt;http://x|y&gt; latency_ms: +40.0 % (10 ms -&gt; 14 ms)"
    assert "<" not in payload["text"] and ">" not in payload["text"]
    assert [r["benchmark"] for r in payload["results"]] == ["<!channel>", "a&b <http://x|y>"]  # data as is


@pytest.fixture
def receiver() -> Iterator[GitLabApi]:
    with serve_gitlab() as server:
        yield server


def main_comparison(*rows: Row) -> Comparison:
    """Runs of main compared with main: what the record job compares."""
    return Comparison(tuple(rows), "main", None, 0.05, source=Source(ref="main", commit="ab" * 20))


def test_alert_regression_posts_only_a_regression_of_the_baseline_branch(receiver: GitLabApi) -> None:
    url = f"{receiver.url}/hooks/secret"
    regressed = main_comparison(row("double", "regression", change=0.3))
    assert alert_regression(regressed, url, baseline_ref="feature") is None  # a merge request's: the note's job
    assert alert_regression(main_comparison(row("double", "improvement", change=-0.3)), url, baseline_ref="main") is None
    assert not [r for r in receiver.requests if r["path"].startswith("/hooks/")]
    assert alert_regression(regressed, url, baseline_ref="main") == "Posted the regression alert to the webhook"
    [posted] = [r for r in receiver.requests if r["path"].startswith("/hooks/")]
    assert json.loads(posted["body"])["verdict"] == "regression"


def test_a_failing_webhook_is_a_warning_not_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    said = alert_regression(main_comparison(row("double", "regression", change=0.3)),
                            f"http://127.0.0.1:{port}/hooks/secret-path", baseline_ref="main")
    assert said is not None and said.startswith("Warning: the regression alert was not posted: ")
    assert "secret-path" not in said
