"""Series: points of every benchmark × metric, filters and time order."""

from __future__ import annotations

import copy
from typing import Any

from gitremotes import golden, make_record

from benchtrail.results.model import Record
from benchtrail.results.series import Point
from benchtrail.results.series import series as typed_series


def series(records: list[dict[str, Any]], **filters: Any) -> list[Point]:
    return typed_series([Record.from_json(r) for r in records], **filters)


def test_every_benchmark_metric_is_a_point() -> None:
    points = series([golden()])
    assert len(points) == 8
    first = next(p for p in points if p.benchmark == "mlp[batch_size=1]" and p.metric == "latency_ms")
    assert first == Point(
        suite="mlp-cpu", benchmark="mlp[batch_size=1]", metric="latency_ms", fingerprint="d305c9f7cbc55706",
        started_at="2026-03-02T13:12:40Z", commit="3f9c2a7e5b1d4c8f0a6e2d9b7c4a1f3e8d5b0c2a", ref="main",
        commit_time="2026-03-02T14:05:11+01:00", value=0.051297, unit="ms", direction="lower",
        runs=(0.051096, 0.05331, 0.051016),
    )
    throughput = [p for p in points if p.metric == "throughput"]
    assert {p.direction for p in throughput} == {"higher"} and throughput[0].unit == "items/s"


def test_filters() -> None:
    records = [make_record(0), make_record(1, suite="other")]
    assert {p.suite for p in series(records, suite="other")} == {"other"}
    assert series(records, suite="nosuch") == []
    by_name = series(records, benchmark="mlp", metric="latency_ms")
    assert len(by_name) == 4 and {p.metric for p in by_name} == {"latency_ms"}
    by_label = series(records, benchmark="mlp[batch_size=8]")
    assert {p.benchmark for p in by_label} == {"mlp[batch_size=8]"} and len(by_label) == 8
    assert series(records, benchmark="mlp[batch_size=2]") == []
    assert series(records, metric="nosuch") == []


def test_ref_and_environment_filters() -> None:
    main, feature = make_record(0), make_record(1)
    feature["source"]["ref"] = "feature/x"
    feature["environment"]["fingerprint"] = "0123456789abcdef"
    assert {p.ref for p in series([main, feature], ref="feature/x")} == {"feature/x"}
    assert {p.fingerprint for p in series([main, feature], environment="0123")} == {"0123456789abcdef"}
    assert series([main, feature], ref="feature/x", environment=main["environment"]["fingerprint"]) == []


def _at(started_at: str, commit_n: int = 0) -> dict[str, Any]:
    record = make_record(commit_n)
    record["run"]["started_at"] = started_at
    return record


def test_oldest_first_whatever_the_offsets() -> None:
    records = [
        _at("2026-03-02T12:00:00Z", 1),
        _at("2026-03-02T13:30:00+02:00", 2),  # 11:30Z: the oldest
        _at("2026-03-02t11:45:00z", 3),
        _at("2026-03-02T11:59:60Z", 4),  # a leap second, just before noon
    ]
    points = series(records, benchmark="mlp[batch_size=1]", metric="latency_ms")
    assert [p.started_at for p in points] == [
        "2026-03-02T13:30:00+02:00", "2026-03-02t11:45:00z", "2026-03-02T11:59:60Z", "2026-03-02T12:00:00Z"]


def test_same_start_is_ordered_by_commit_then_label() -> None:
    a, b = make_record(0), make_record(0)
    b["source"]["commit"] = "0" * 40
    points = series([a, b], metric="latency_ms")
    assert [p.commit for p in points][:2] == ["0" * 40, "0" * 40]
    assert [p.benchmark for p in points][:2] == ["mlp[batch_size=1]", "mlp[batch_size=8]"]


def test_a_record_without_commit_or_runs() -> None:
    record = copy.deepcopy(golden())
    record["source"]["commit"] = None
    del record["benchmarks"][0]["metrics"]["throughput"]["runs"]
    points = series([record], benchmark="mlp[batch_size=1]", metric="throughput")
    assert points[0].commit is None and points[0].runs == ()
