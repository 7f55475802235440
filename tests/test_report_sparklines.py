"""``report.sparklines``: a suite's trend is the geometric mean of its benchmarks' levels."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from comparefixtures import history, typed

from benchtrail.report.sparklines import sparklines
from benchtrail.report.timelines import build_histories


def test_a_suite_wide_slowdown_shows_and_one_commit_gives_no_line() -> None:
    levels = [10.0] * 10 + [12.0] * 10
    records = typed(history(levels, seed=1) + history([x / 100 for x in levels], seed=2, benchmark="tiny"))
    (line,) = sparklines(build_histories(records)["demo"], "main")
    assert (line.metric, line.benchmarks, line.commits, line.direction) == ("latency_ms", 2, 20, "lower")
    assert 0.15 < line.change < 0.25
    root = ET.fromstring(line.svg)
    assert "2 benchmarks" in root.find("title").text
    assert len(root.find("polyline").get("points").split()) == 20
    assert sparklines(build_histories(typed(history([10.0], seed=1)))["demo"], "main") == []
    assert sparklines(build_histories(records)["demo"], "other-branch") == []
