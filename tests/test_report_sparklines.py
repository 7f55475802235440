"""``report.sparklines``: a suite's trend is the geometric mean of its benchmarks' levels, its
change coloured only beyond its own noise."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from comparefixtures import history, typed

from benchtrail.report.sparklines import Sparkline, sparklines, trend_class
from benchtrail.report.timelines import build_histories


def test_a_suite_wide_slowdown_shows_and_one_commit_gives_no_line() -> None:
    levels = [10.0] * 10 + [12.0] * 10
    records = typed(history(levels, seed=1) + history([x / 100 for x in levels], seed=2, benchmark="tiny"))
    (line,) = sparklines(build_histories(records)["demo"], "main")
    assert (line.metric, line.benchmarks, line.commits, line.direction) == ("latency_ms", 2, 20, "lower")
    assert 0.15 < line.change < 0.25 and trend_class(line) == "worse"
    root = ET.fromstring(line.svg)
    assert "2 benchmarks" in root.find("title").text
    assert len(root.find("polyline").get("points").split()) == 20
    assert sparklines(build_histories(typed(history([10.0], seed=1)))["demo"], "main") == []
    assert sparklines(build_histories(records)["demo"], "other-branch") == []


def trend(levels: list[float], *, seed: int, cv: float = 0.02, **fields: object) -> Sparkline:
    (line,) = sparklines(build_histories(typed(history(levels, seed=seed, cv=cv, **fields)))["demo"], "main")
    return line


def test_noise_is_not_coloured_as_a_change() -> None:
    """Pure noise of 5 % per run: the change across the window often passes 2 %, but never
    its noise; nor does anything over a few commits."""
    noise = [trend([10.0] * 50, seed=seed, cv=0.05) for seed in range(20)]
    assert any(abs(line.change) >= 0.02 for line in noise)  # what a fixed 2 % coloured
    assert [trend_class(line) for line in noise] == [""] * 20
    assert 0.02 < noise[0].noise < 0.06
    few = trend([10.0] * 4 + [13.0] * 4, seed=1)
    assert few.change > 0.25 and trend_class(few) == ""
    # and a quiet line is drawn as a ripple, not blown up to the full height
    points = ET.fromstring(trend([10.0] * 50, seed=2, cv=0.005).svg).find("polyline").get("points").split()
    heights = [float(point.split(",")[1]) for point in points]
    assert max(heights) - min(heights) < 28 * 0.4


def test_a_step_or_a_drift_beyond_the_noise_is_coloured() -> None:
    assert trend_class(trend([10.0] * 40 + [10.6] * 10, seed=3)) == "worse"
    assert trend_class(trend([10.0 * (1 + 0.002 * n) for n in range(50)], seed=4)) == "worse"
    assert trend_class(trend([10.0] * 40 + [9.4] * 10, seed=5)) == "better"
