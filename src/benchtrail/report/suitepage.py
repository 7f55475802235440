"""A suite's pages: its charts (last commits, or the whole history), environments and runs.

Also the ``ChartJob`` of each chart: the x axis is the chart's own commits, each line
one environment, coloured by the environment's slot in the suite (the one with the most
runs first), so a colour means the same machine on every chart of the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from benchtrail.compare.render import format_change
from benchtrail.report.charts import ChartJob, ChartOutput, Line, Tick
from benchtrail.report.links import commit_url, data_file, history_page, suite_page, web_url
from benchtrail.report.pages import day, moment, svg
from benchtrail.report.timelines import Chart, Commit, SuiteHistory

__all__ = ["SuitePageContext", "chart_jobs", "short_commit", "suite_context"]


class SuitePageContext(TypedDict):
    suite: str
    whole: bool
    window: int
    commits: int
    has_more: bool
    other_page: str
    data_json: str
    data_csv: str
    charts: list[dict[str, Any]]
    environments: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    more_runs: int
    status: dict[str, str] | None


def short_commit(commit: Commit) -> str:
    """A commit as GitLab shows it (8 hex digits), or its run's date without one."""
    return commit.sha[:8] if commit.sha else day(commit.when) or "no commit"


def _slots(history: SuiteHistory) -> dict[str, int]:
    """The colour slot (1..8, then again) of each environment, the one with the most runs first."""
    return {fingerprint: n % 8 + 1 for n, fingerprint in enumerate(history.environment_runs)}


def chart_jobs(history: SuiteHistory, project_url: str | None, window: int) -> list[ChartJob]:
    """The job of every chart of the suite, in ``history.charts`` order."""
    ticks = [Tick(short_commit(c), day(c.when), c.title or "", commit_url(project_url, c.sha))
             for c in history.commits]
    slots = _slots(history)
    jobs = []
    for chart in history.charts:
        axis = chart.commits
        place = {index: x for x, index in enumerate(axis)}
        units = sorted({s.unit for s in chart.series})
        fingerprints = [s.fingerprint for s in chart.series]
        lines = tuple(Line(s.fingerprint[:8] + (f" ({s.unit})" if fingerprints.count(s.fingerprint) > 1 else ""),
                           slots[s.fingerprint], tuple(place[i] for i in s.commits), s.runs) for s in chart.series)
        jobs.append(ChartJob(chart.anchor, " / ".join(units), chart.series[0].direction,
                             tuple(ticks[i] for i in axis), lines, window))
    return jobs


def _changes(history: SuiteHistory, chart: Chart, output: ChartOutput, start: int,
             project_url: str | None) -> list[dict[str, Any]]:
    axis = chart.commits
    found = []
    for series, changes in zip(chart.series, output.changes):
        for change in changes:
            index = series.commits[change.index]
            if axis.index(index) < start:
                continue
            commit = history.commits[index]
            worse = change.change > 0 if series.direction == "lower" else change.change < 0
            found.append({"short": short_commit(commit), "url": commit_url(project_url, commit.sha),
                          "change": format_change(change.change), "worse": worse, "x": axis.index(index)})
    return sorted(found, key=lambda c: c["x"])


def _chart(history: SuiteHistory, chart: Chart, output: ChartOutput, *, whole: bool, window: int,
           project_url: str | None, slots: dict[str, int]) -> dict[str, Any]:
    count = len(chart.commits)
    longer = count > window
    start = 0 if whole or not longer else count - window
    if whole:
        span = f"all {count} commits" + (" (tooltips on the last ones)" if longer else "")
        other, other_label = f"../{suite_page(history.suite)}#{chart.anchor}", "last commits, with tooltips"
    else:
        span = f"last {window} of {count} commits" if longer else f"{count} commit{'s' if count != 1 else ''}"
        other, other_label = f"../{history_page(history.suite)}#{chart.anchor}", "whole history"
    units = {s.unit for s in chart.series}
    legend = [] if len(chart.series) < 2 else [
        {"slot": slots[s.fingerprint], "name": s.fingerprint[:8] + (f" ({s.unit})" if len(units) > 1 else ""),
         "what": history.environments[s.fingerprint].hardware.runner_label} for s in chart.series]
    return {"anchor": chart.anchor, "benchmark": chart.benchmark, "metric": chart.metric, "span": span,
            "other": other if longer else None, "other_label": other_label, "legend": legend,
            "svg": svg(output.full if whole and longer else output.recent),
            "changes": _changes(history, chart, output, start, project_url)}


def _environments(history: SuiteHistory, slots: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for fingerprint, runs in history.environment_runs.items():
        env = history.environments[fingerprint]
        hardware, gpu, image = env.hardware, env.gpu, env.image
        shown_image = ""
        if image is not None:
            shown_image = " ".join(p for p in (image.reference or "", (image.digest or "")[:19]) if p)
        rows.append({"slot": slots[fingerprint], "short": fingerprint[:8], "runs": runs,
                     "runner": hardware.runner_label or "–", "cpu": f"{hardware.cpu_model} × {hardware.cpu_count}",
                     "gpu": f"{gpu.model} × {gpu.count}, driver {gpu.driver_version}" if gpu else "none",
                     "image": shown_image or "–"})
    return rows


def _runs(history: SuiteHistory, listed: int, project_url: str | None, slots: dict[str, int]) -> list[dict[str, Any]]:
    commits = {c.key: c for c in history.commits}
    rows = []
    for job in history.jobs[:listed]:
        commit = commits[job.commit]
        pipeline = f"#{job.pipeline_id}" if job.pipeline_id else (f"job {job.job_id}" if job.job_id else "–")
        rows.append({"date": moment(job.started_at), "short": short_commit(commit),
                     "url": commit_url(project_url, commit.sha), "title": commit.title or "",
                     "ref": job.ref or "–", "pipeline": pipeline, "pipeline_url": web_url(job.pipeline_url),
                     "environment": job.fingerprint[:8], "slot": slots[job.fingerprint]})
    return rows


def suite_context(history: SuiteHistory, outputs: Sequence[ChartOutput], *, whole: bool, window: int,
                  project_url: str | None, runs_listed: int, status: dict[str, str] | None) -> SuitePageContext:
    """What ``suite.html`` shows of the suite: the last commits (``whole=False``) or all."""
    slots = _slots(history)
    charts = [_chart(history, chart, output, whole=whole, window=window, project_url=project_url, slots=slots)
              for chart, output in zip(history.charts, outputs)]
    suite = history.suite
    return {
        "suite": suite, "whole": whole, "window": window, "commits": len(history.commits),
        "has_more": any(len(chart.commits) > window for chart in history.charts),
        "other_page": f"../{suite_page(suite) if whole else history_page(suite)}",
        "data_json": f"../{data_file(suite, 'json')}", "data_csv": f"../{data_file(suite, 'csv')}",
        "charts": charts, "environments": [] if whole else _environments(history, slots),
        "runs": [] if whole else _runs(history, runs_listed, project_url, slots),
        "more_runs": max(0, len(history.jobs) - runs_listed), "status": status,
    }
