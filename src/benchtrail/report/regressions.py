"""Every change point of every series, newest first: the regressions page's rows.

The change points themselves come with each chart (``charts.render_job`` finds them on
the per-commit medians of each environment's series, the way ``compare.steps`` does on
runs, and the cache keeps them), so this page costs no detection of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchtrail.report.charts import ChartOutput
from benchtrail.report.links import history_page, suite_page
from benchtrail.report.timelines import Commit, SuiteHistory
from benchtrail.results.timestamps import instant

__all__ = ["ChangeRow", "change_rows"]


@dataclass(frozen=True)
class ChangeRow:
    """One change point: where a series stepped to a new level, and the commit it starts at."""

    suite: str
    benchmark: str
    metric: str
    fingerprint: str
    commit: Commit
    before: float
    after: float
    change: float
    unit: str
    direction: str
    #: the chart at that point, from the site's root: the suite page when the point is in
    #: its recent window, else the whole-history page
    chart: str

    @property
    def worse(self) -> bool:
        return self.change > 0 if self.direction == "lower" else self.change < 0


def change_rows(histories: Iterable[tuple[SuiteHistory, Sequence[ChartOutput]]], window: int) -> list[ChangeRow]:
    """The change points of every chart of every suite (``outputs`` in the order of
    ``history.charts``), newest commit first."""
    rows = []
    for history, outputs in histories:
        for chart, output in zip(history.charts, outputs):
            axis = chart.commits
            first_recent = max(0, len(axis) - window)
            place = {index: x for x, index in enumerate(axis)}
            for series, changes in zip(chart.series, output.changes):
                for change in changes:
                    commit_index = series.commits[change.index]
                    page = suite_page if place[commit_index] >= first_recent else history_page
                    rows.append(ChangeRow(history.suite, chart.benchmark, chart.metric, series.fingerprint,
                                          history.commits[commit_index], change.before, change.after,
                                          change.change, series.unit, series.direction,
                                          f"{page(history.suite)}#{chart.anchor}"))
    rows.sort(key=lambda r: (instant(r.commit.when), r.suite, r.benchmark, r.metric, r.fingerprint), reverse=True)
    return rows
