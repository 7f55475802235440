"""The static site of a results branch: index, change points, a page per suite, data files.

``write_site`` takes the records (read once, by the caller) and writes::

    index.html              every suite, its latest status on the default branch, trends
    regressions.html        every change point of every series, newest first
    suites/<suite>.html     a chart per benchmark × metric (last commits), environments, runs
    history/<suite>.html    the same charts over the whole history
    data/<suite>.json|csv   every run value of every series
    style.css

into a temporary folder beside ``out`` that replaces ``out`` at the end. Links are all
relative and nothing is loaded from elsewhere, so the site works from ``file://`` and
under a GitLab Pages sub-path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchtrail.compare.render import format_change, format_quantity
from benchtrail.report.chartcache import ChartCache, ProgressFactory, no_progress, render_charts
from benchtrail.report.charts import ChartOutput
from benchtrail.report.datafiles import write_data_files
from benchtrail.report.links import commit_url, data_file, history_page, suite_page, web_url
from benchtrail.report.outfolder import publish
from benchtrail.report.pages import day, moment, render, status_class, stylesheet, svg
from benchtrail.report.regressions import ChangeRow, change_rows
from benchtrail.report.sparklines import sparklines
from benchtrail.report.status import SuiteStatus, default_ref, status_key, suite_status
from benchtrail.report.suitepage import chart_jobs, short_commit, suite_context
from benchtrail.report.timelines import SuiteHistory, build_histories
from benchtrail.results.model import Record
from benchtrail.results.timestamps import instant

__all__ = ["WINDOW", "SiteOptions", "SiteSummary", "write_site"]

#: how many of the last commits a chart shows by default
WINDOW = 100


@dataclass(frozen=True, kw_only=True)
class SiteOptions:
    out: Path
    title: str = "Benchmarks"
    #: the project's GitLab address, for links to commits (default: the newest record's)
    project_url: str | None = None
    #: the branch whose latest status the index shows (default: the newest record's ref)
    default_ref: str | None = None
    window: int = WINDOW
    #: where drawn charts are kept between builds (``None``: not kept)
    chart_cache: Path | None = None
    runs_listed: int = 50
    progress: ProgressFactory = field(default=no_progress, repr=False)


@dataclass(frozen=True)
class SiteSummary:
    index: Path
    suites: int
    charts: int
    drawn: int
    change_points: int


def _project_url(records: Sequence[Record], given: str | None) -> str | None:
    if given:
        return web_url(given)
    newest = max(records, key=lambda r: instant(r.run.started_at), default=None)
    return web_url(newest.source.project_url) if newest is not None else None


def _status_words(status: SuiteStatus) -> dict[str, str]:
    return {"status": status.status, "status_class": status_class(status.status), "counts": status.summary}


def _kept_status(value: Any) -> SuiteStatus | None:
    try:
        return SuiteStatus.from_json(value) if value is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def _statuses(records: Sequence[Record], ref: str | None, cache: ChartCache) -> dict[str, SuiteStatus]:
    """Each suite's status, from ``cache`` when its records are the same as last time."""
    from benchtrail import __version__

    by_suite: dict[str, list[Record]] = {}
    for record in records:
        by_suite.setdefault(record.suite, []).append(record)
    found: dict[str, SuiteStatus] = {}
    for suite, kept in sorted(by_suite.items()):
        key = status_key(kept, ref, __version__)
        status = _kept_status(cache.load(key))
        if status is None:
            status = suite_status(kept, ref)
            cache.store(key, status.to_json())
        found[suite] = status
    return found


def _index_row(history: SuiteHistory, status: SuiteStatus, ref: str | None, project_url: str | None) -> dict[str, Any]:
    latest = next((c for c in reversed(history.commits) if c.ref == ref), None)
    trends = [{"metric": line.metric, "svg": svg(line.svg), "change": f"{line.change * 100:+.1f} %",
               "change_class": "" if abs(line.change) < 0.02 else
               ("worse" if (line.change > 0) == (line.direction == "lower") else "better")}
              for line in sparklines(history, ref)]
    return {"name": history.suite, "page": suite_page(history.suite), **_status_words(status),
            "charts": len(history.charts), "environments": len(history.environments),
            "commit": None if latest is None else {"short": short_commit(latest), "title": latest.title or "",
                                                   "url": commit_url(project_url, latest.sha)},
            "last_run": moment(history.jobs[0].started_at) if history.jobs else "–", "trends": trends}


def _change_row(row: ChangeRow, project_url: str | None) -> dict[str, Any]:
    short = short_commit(row.commit)
    return {"date": day(row.commit.when), "short": short, "url": commit_url(project_url, row.commit.sha),
            "title": row.commit.title or "", "suite": row.suite, "benchmark": row.benchmark, "metric": row.metric,
            "environment": row.fingerprint[:8], "before": format_quantity(row.before, row.unit),
            "after": format_quantity(row.after, row.unit), "change": format_change(row.change), "worse": row.worse,
            "chart": row.chart,
            "filter": " ".join((row.suite, row.benchmark, row.metric, short, row.fingerprint[:8],
                                "worse" if row.worse else "better"))}


def _write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_site(records: Sequence[Record], options: SiteOptions) -> SiteSummary:
    """Write the site of ``records`` (every record of the results branch) to ``options.out``."""
    histories = build_histories(records)
    ref = default_ref(records, options.default_ref)
    project_url = _project_url(records, options.project_url)
    cache = ChartCache(options.chart_cache)
    statuses = _statuses(records, ref, cache)
    jobs = {suite: chart_jobs(history, project_url, options.window) for suite, history in histories.items()}
    flat, drawn = render_charts([job for suite in histories for job in jobs[suite]], cache, options.progress)
    drawn_in_order = iter(flat)
    outputs: dict[str, list[ChartOutput]] = {suite: [next(drawn_in_order) for _ in jobs[suite]] for suite in histories}
    changes = change_rows(((h, outputs[s]) for s, h in histories.items()), options.window)
    newest = max((r.run.started_at for r in records), key=instant, default=None)
    base = {"site_title": options.title, "data_until": moment(newest), "inline_css": None}

    def write(folder: Path) -> None:
        _write(folder, "style.css", stylesheet())
        _write(folder, "index.html", render("index.html", {
            **base, "root": "", "nav": "index", "page_title": "Suites", "ref": ref, "changes": len(changes),
            "suites": [_index_row(h, statuses[s], ref, project_url) for s, h in histories.items()]}))
        _write(folder, "regressions.html", render("regressions.html", {
            **base, "root": "", "nav": "regressions", "page_title": "Change points",
            "rows": [_change_row(row, project_url) for row in changes]}))
        for suite, history in histories.items():
            status = _status_words(statuses[suite])
            for whole, page in ((False, suite_page(suite)), (True, history_page(suite))):
                context = suite_context(history, outputs[suite], whole=whole, window=options.window,
                                        project_url=project_url, runs_listed=options.runs_listed, status=status)
                _write(folder, page, render("suite.html", {
                    **base, "root": "../", "nav": "suite",
                    "page_title": f"{suite} · whole history" if whole else suite, **context}))
            write_data_files(history, folder / data_file(suite, "json"), folder / data_file(suite, "csv"))

    publish(options.out, write)
    cache.prune()
    return SiteSummary(options.out / "index.html", len(histories), sum(map(len, jobs.values())), drawn, len(changes))
