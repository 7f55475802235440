"""``report.timelines``: commits in order, one x per commit, one series per environment."""

from __future__ import annotations

from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, bench_record, stamp, typed
from reportfixtures import HOSTILE_NAME, site_records

from benchtrail.report.timelines import build_histories, chart_anchor


def test_commits_in_commit_order_and_a_retried_job_adds_runs_not_a_point() -> None:
    records = typed(site_records(8))
    history = build_histories(reversed(records))["demo"]
    assert [c.title for c in history.commits][:2] == ["Commit 1", "Commit 2"]
    assert len(history.commits) == 8
    chart = next(c for c in history.charts if (c.benchmark, c.metric) == ("double", "latency_ms"))
    first, second = chart.series
    assert (first.fingerprint, second.fingerprint) == (FINGERPRINT, OTHER_FINGERPRINT)  # most runs first
    assert first.commits == tuple(range(8)) and second.commits == tuple(range(8))
    assert [len(runs) for runs in first.runs] == [3, 3, 3, 3, 6, 3, 3, 3]  # commit 5 ran twice
    assert history.environment_runs == {FINGERPRINT: 9, OTHER_FINGERPRINT: 8}
    assert len(history.jobs) == 17 and history.jobs[0].started_at >= history.jobs[-1].started_at


def test_commit_time_orders_before_run_start() -> None:
    late_run = bench_record({"double": [1.0]}, n=1, commit_time=stamp(1))
    late_run["run"]["started_at"] = stamp(9)
    early_run = bench_record({"double": [1.0]}, n=2, commit_time=stamp(2))
    early_run["run"]["started_at"] = stamp(3)
    history = build_histories(typed([early_run, late_run]))["demo"]
    assert [c.sha for c in history.commits] == [late_run["source"]["commit"], early_run["source"]["commit"]]


def test_every_run_value_is_kept() -> None:
    records = typed(site_records(6))
    history = build_histories(records)["demo"]
    kept = sum(len(runs) for chart in history.charts for series in chart.series for runs in series.runs)
    given = sum(len(metric.run_values) for r in records for b in r.benchmarks for metric in b.metrics.values())
    assert kept == given


def test_anchors_are_readable_stable_and_unique() -> None:
    taken: set[str] = set()
    assert chart_anchor("mlp[batch_size=8]", "latency_ms", taken) == "mlp-batch_size-8--latency_ms"
    assert chart_anchor("a b", "m", taken) == "a-b--m"
    folded = chart_anchor("a-b", "m", taken)
    assert folded.startswith("a-b--m-") and folded != "a-b--m"
    assert chart_anchor(HOSTILE_NAME, "latency_ms", set()) == "script-alert-1-script--latency_ms"


def test_a_benchmarks_charts_lead_with_latency_then_token_timings_then_rates() -> None:
    metrics = ["peak_rss_mb", "slo_ttft_ms_pct", "goodput", "tpot_ms", "ttft_ms", "output_throughput",
               "request_latency_ms", "itl_ms", "cpu_ms_per_item", "latency_ms"]
    record = bench_record({"chat": {name: [1.0, 2.0] for name in metrics}, "a": [1.0]}, n=1)
    history = build_histories(typed([record]))["demo"]
    assert [(c.benchmark, c.metric) for c in history.charts] == [("a", "latency_ms")] + [("chat", name) for name in [
        "latency_ms", "ttft_ms", "tpot_ms", "itl_ms", "request_latency_ms", "output_throughput", "goodput",
        "slo_ttft_ms_pct", "cpu_ms_per_item", "peak_rss_mb"]]
