"""``report.charts``: SVG that parses, a tooltip and a link per point, change points found,
a copy of the y axis to pin on a phone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from reportfixtures import HOSTILE_TITLE

from benchtrail.compare.render import format_change
from benchtrail.report.charts import ChartJob, ChartOutput, Line, Tick, render_job

SVG = "{http://www.w3.org/2000/svg}"


def parse(text: str) -> ET.Element:
    """The chart of a drawing (its ``<svg>``, the y axis copy after it left out)."""
    chart, axis = ET.fromstring(f"<div>{text}</div>")
    assert chart.get("class") == "chart" and axis.get("class") == "chart-axis"
    return chart


def job(commits: int, *, window: int = 100, step_at: int | None = None, url: bool = True) -> ChartJob:
    rng = np.random.default_rng(3)
    ticks = tuple(Tick(f"{n:08x}", "2026-03-02", HOSTILE_TITLE if n == 1 else f"Commit {n}",
                       f"https://gitlab.example.com/g/p/-/commit/{n:040x}" if url else None) for n in range(commits))
    runs = tuple(tuple(float(v) for v in (13.0 if step_at is not None and n >= step_at else 10.0)
                       * np.exp(rng.normal(0, 0.01, 3))) for n in range(commits))
    return ChartJob("double--latency_ms", "ms", "lower", ticks, (Line("d305c9f7", 1, tuple(range(commits)), runs),),
                    window)


def test_every_point_has_a_tooltip_and_a_link_to_its_commit() -> None:
    output = render_job(job(12))
    root = parse(output.recent)
    links = root.findall(f".//{SVG}a")
    points = [a for a in links if a.find(f"{SVG}circle") is not None]
    assert len(points) == 12
    first = points[1]
    assert first.get("href") == f"https://gitlab.example.com/g/p/-/commit/{1:040x}"
    tooltip = first.find(f"{SVG}circle/{SVG}title").text
    assert tooltip.startswith("00000001 · 2026-03-02\n" + HOSTILE_TITLE[:80])
    assert "\nd305c9f7: 9.9" in tooltip and " ms (3 runs, 9.9" in tooltip
    assert root.find(f".//{SVG}script") is None and "<img" not in output.recent
    texts = "".join(root.itertext())
    assert "ms · ↓ lower is better" in texts
    assert output.full is None  # the whole history is the window: not drawn twice


def test_no_link_without_a_commit_address() -> None:
    root = parse(render_job(job(6, url=False)).recent)
    assert root.findall(f".//{SVG}a") == [] and len(root.findall(f".//{SVG}circle")) == 6


def test_a_step_is_found_marked_and_named_and_the_long_history_drawn_apart() -> None:
    output = render_job(job(40, window=25, step_at=30))
    (changes,) = output.changes
    assert [c.index for c in changes] == [30] and 0.25 < changes[0].change < 0.35
    recent = parse(output.recent)
    # named as the tables beside the chart name it
    assert f"0000001e {format_change(changes[0].change)}" in "".join(recent.itertext())
    assert len(recent.findall(f".//{SVG}circle")) == 25
    marks = [t.text for t in recent.iter(f"{SVG}title") if t.text.startswith("change point")]
    assert marks == [marks[0]] and " ms → 13 ms (+30.1 %, worse)" in marks[0]
    full = parse(output.full)
    assert full.findall(f".//{SVG}circle") == []  # lines only: the whole history can be long
    assert ChartOutput.from_json(output.to_json()) == output


def test_a_series_with_zero_values_gets_no_change_points() -> None:
    zero = ChartJob("x--m", "", "lower", tuple(Tick(str(n), "", "", None) for n in range(12)),
                    (Line("e", 1, tuple(range(12)), tuple((0.0,) for _ in range(12))),), 100)
    assert render_job(zero).changes == ((),)


def test_the_runs_under_test_and_a_reference_level() -> None:
    ticks = (Tick("−1", "", "", None), Tick("MR", "", "", None))
    merge = ChartJob("mr", "items/s", "higher", ticks, (Line("baseline", 1, (0,), ((100.0, 101.0),)),
                                                        Line("this merge request", 0, (1,), ((90.0, 91.0, 92.0),))),
                     2, find_changes=False, reference=100.5)
    root = parse(render_job(merge).recent)
    assert "items/s · ↑ higher is better" in "".join(root.itertext())
    assert {c.get("class") for c in root.iter(f"{SVG}circle")} == {"pt s1", "pt s0"}


def test_the_y_axis_copy_shows_the_charts_own_axis_part() -> None:
    """The copy draws the chart's figure group (by its id), cut to the left of the plot,
    and its width is its share of the chart's, so both line up at any size."""
    output = render_job(job(40, window=10))
    for text, prefix in ((output.recent, "double--latency_ms-r"), (output.full, "double--latency_ms-a")):
        chart, axis = ET.fromstring(f"<div>{text}</div>")
        figure = chart.find(f"{SVG}g")
        assert figure.get("id") == f"{prefix}-figure_1"
        clip = axis.find(f"{SVG}svg")
        assert clip.find(f"{SVG}use").get("href") == f"#{prefix}-figure_1"
        chart_width, chart_height = (float(v) for v in chart.get("viewBox").split()[2:])
        width, height = (float(v) for v in axis.get("viewBox").split()[2:])
        assert height == chart_height and 60 < width < 70 and axis.get("aria-hidden") == "true"
        assert float(axis.get("width").rstrip("%")) == pytest.approx(100 * width / chart_width, abs=0.01)
        assert (float(clip.get("width")), float(clip.get("height"))) == (width, pytest.approx(190, abs=3))


def test_a_chart_comes_out_the_same_whatever_the_process_drew_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process draws every chart on one kept figure: nothing of the last chart may show."""
    from benchtrail.report import charts

    wide = job(40, window=10, step_at=30)  # change points marked, a whole-history view
    one = job(1)
    shape = job(5)
    two_lines = ChartJob("mr", "ms", "higher", shape.ticks, (shape.lines[0], Line("MR", 0, (4,), ((11.0, 12.0),))),
                         5, find_changes=False, reference=10.0)
    with monkeypatch.context() as patched:  # a new figure for every drawing, as it was
        patched.setattr(charts, "_figure", lambda fresh: charts._new_figure())
        fresh = [render_job(j) for j in (wide, one, two_lines)]
    for _ in range(2):
        assert [render_job(j) for j in (two_lines, one, wide)][::-1] == fresh
