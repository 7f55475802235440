"""``report.regressions``: every change point, newest first, linked to its chart."""

from __future__ import annotations

from comparefixtures import history, typed

from benchtrail.report.charts import Change, ChartOutput
from benchtrail.report.regressions import change_rows
from benchtrail.report.timelines import build_histories


def test_newest_first_with_the_chart_page_that_shows_the_point() -> None:
    records = typed(history([10.0] * 20, seed=1) + history([5.0] * 20, seed=2, benchmark="other"))
    suite = build_histories(records)["demo"]
    double, other = suite.charts  # sorted by label
    outputs = {double.anchor: ChartOutput("", None, ((Change(3, 10.0, 12.0, 0.2),),)),
               other.anchor: ChartOutput("", None, ((Change(15, 5.0, 4.0, -0.2),),))}
    rows = change_rows([(suite, [outputs[c.anchor] for c in suite.charts])], window=10)
    assert [(r.benchmark, r.commit.sha) for r in rows] == [("other", suite.commits[15].sha),
                                                           ("double", suite.commits[3].sha)]
    assert rows[0].chart == f"suites/demo.html#{other.anchor}" and not rows[0].worse
    assert rows[1].chart == f"history/demo.html#{double.anchor}" and rows[1].worse
    assert (rows[1].before, rows[1].after, rows[1].unit) == (10.0, 12.0, "ms")
