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

With a chart cache, a suite whose records did not change since a build that kept it is
not built again: its pages, data files, index row and change points come from the cache
(``suitecache``). Only the index and the change points page are written every time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchtrail.compare.render import format_change, format_quantity
from benchtrail.report.chartcache import (
    ChartCache,
    Drawing,
    ProgressFactory,
    drawing_versions,
    job_key,
    no_progress,
    start_drawing,
)
from benchtrail.report.charts import ChartOutput
from benchtrail.report.datafiles import write_data_files
from benchtrail.report.links import commit_url, data_file, history_page, suite_page, web_url
from benchtrail.report.outfolder import publish
from benchtrail.report.pages import day, moment, render, status_class, stylesheet, svg
from benchtrail.report.regressions import ChangeRow, change_rows
from benchtrail.report.sources import RecordsInMemory, RecordSource, SuiteFacts, by_suite, suite_facts
from benchtrail.report.sparklines import sparklines, trend_class
from benchtrail.report.status import SuiteStatus, status_key, suite_status
from benchtrail.report.suitecache import UNTIL, SuiteParts, load_parts, page_bytes, place_parts, store_parts, suite_key
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
    #: where drawn charts and built suites are kept between builds (``None``: not kept)
    chart_cache: Path | None = None
    runs_listed: int = 50
    progress: ProgressFactory = field(default=no_progress, repr=False)


@dataclass(frozen=True)
class SiteSummary:
    index: Path
    suites: int
    records: int
    charts: int
    drawn: int
    change_points: int


def _status_words(status: SuiteStatus) -> dict[str, str]:
    return {"status": status.status, "status_class": status_class(status.status), "counts": status.summary}


def _kept_status(value: Any) -> SuiteStatus | None:
    try:
        return SuiteStatus.from_json(value) if value is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def _status(records: Sequence[Record], ref: str | None, cache: ChartCache) -> tuple[SuiteStatus, str]:
    """A suite's status, from ``cache`` when its records are the same as last time, and its key."""
    from benchtrail import __version__

    key = status_key(records, ref, __version__)
    status = _kept_status(cache.load(key))
    if status is None:
        status = suite_status(records, ref)
        cache.store(key, status.to_json())
    return status, key


def _index_row(history: SuiteHistory, status: SuiteStatus, ref: str | None, project_url: str | None) -> dict[str, Any]:
    latest = next((c for c in reversed(history.commits) if c.ref == ref), None)
    trends = [{"metric": line.metric, "svg": svg(line.svg), "change": f"{line.change * 100:+.1f} %",
               "change_class": trend_class(line)} for line in sparklines(history, ref)]
    return {"name": history.suite, "page": suite_page(history.suite), **_status_words(status),
            "charts": len(history.charts), "environments": len(history.environments),
            "commit": None if latest is None else {"short": short_commit(latest), "title": latest.title or "",
                                                   "url": commit_url(project_url, latest.sha)},
            "last_run": moment(history.jobs[0].started_at) if history.jobs else "–", "trends": trends}


def _change_row(row: ChangeRow, project_url: str | None) -> dict[str, Any]:
    short = short_commit(row.commit)
    return {"sort": [row.commit.when, row.benchmark, row.metric, row.fingerprint],
            "date": day(row.commit.when), "short": short, "url": commit_url(project_url, row.commit.sha),
            "title": row.commit.title or "", "suite": row.suite, "benchmark": row.benchmark, "metric": row.metric,
            "environment": row.fingerprint[:8], "before": format_quantity(row.before, row.unit),
            "after": format_quantity(row.after, row.unit), "change": format_change(row.change), "worse": row.worse,
            "chart": row.chart,
            "filter": " ".join((row.suite, row.benchmark, row.metric, short, row.fingerprint[:8],
                                "worse" if row.worse else "better"))}


@dataclass
class _Built:
    """A suite built in this run: what its pages are made of."""

    history: SuiteHistory
    keys: list[str]
    status: SuiteStatus | None = None
    status_key: str = ""
    outputs: list[ChartOutput] = field(default_factory=list)


def _files(folder: Path, suite: str) -> list[Path]:
    """Where the site has the suite's files, in ``suitecache.FILES`` order."""
    return [folder / suite_page(suite), folder / history_page(suite), folder / data_file(suite, "json"),
            folder / data_file(suite, "csv")]


def _row_from_json(row: dict[str, Any]) -> dict[str, Any]:
    """An index row kept as JSON, its trend SVGs safe to inline again."""
    return {**row, "trends": [{**trend, "svg": svg(trend["svg"])} for trend in row["trends"]]}


def _parts(built: _Built, ref: str | None, project_url: str | None, window: int) -> SuiteParts:
    """A suite's row of the index and its change points (its files are not written yet)."""
    history = built.history
    assert built.status is not None
    changes = [_change_row(row, project_url) for row in change_rows([(history, built.outputs)], window)]
    return SuiteParts(_index_row(history, built.status, ref, project_url), changes, len(history.charts),
                      (*built.keys, built.status_key))


def _write_pages(folder: Path, built: _Built, options: SiteOptions, base: dict[str, Any], project_url: str | None,
                 until: str) -> tuple[int, ...]:
    """Write a suite's two pages into ``folder``; the offsets of ``until`` in them."""
    history, suite = built.history, built.history.suite
    assert built.status is not None
    status = _status_words(built.status)
    offsets = []
    for whole, path in ((False, folder / suite_page(suite)), (True, folder / history_page(suite))):
        context = suite_context(history, built.outputs, whole=whole, window=options.window,
                                project_url=project_url, runs_listed=options.runs_listed, status=status)
        text = render("suite.html", {**base, "data_until": UNTIL if until else until, "root": "../", "nav": "suite",
                                     "page_title": f"{suite} · whole history" if whole else suite, **context})
        data, offset = page_bytes(text, until)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        offsets.append(offset)
    return tuple(offsets)


def _write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _globals(facts: Mapping[str, SuiteFacts], options: SiteOptions) -> tuple[str | None, str | None, str]:
    """The default branch, the project's address and the "results up to" time: the
    options' when given, else the newest record's."""
    newest = max(facts.values(), key=lambda f: instant(f.newest), default=None)
    ref = options.default_ref or (newest.ref if newest is not None else None)
    project_url = web_url(options.project_url or (newest.project_url if newest is not None else None))
    return ref, project_url, moment(newest.newest if newest is not None else None)


def write_site(source: RecordSource | Sequence[Record], options: SiteOptions) -> SiteSummary:
    """Write the site of ``source`` (every record of the results branch) to ``options.out``.

    A suite whose content is known to the cache and whose pages are kept there is not
    even read. The order is for speed: the charts of the suites to build are drawn in
    other processes while this one decides their statuses and writes their data files."""
    if isinstance(source, Sequence):
        source = RecordsInMemory(source)
    cache = ChartCache(options.chart_cache)
    facts, read = suite_facts(source, cache)
    ref, project_url, until = _globals(facts, options)
    settings = {"title": options.title, "project_url": project_url, "ref": ref, "window": options.window,
                "runs_listed": options.runs_listed, "until": bool(until)}
    keys = {suite: suite_key(found.digest, settings) for suite, found in facts.items()}
    kept = {suite: parts for suite in facts if (parts := load_parts(cache, keys[suite], until)) is not None}
    read.update(by_suite(source.read([s for s in facts if s not in kept and s not in read])))
    histories = build_histories(r for suite in facts if suite not in kept for r in read[suite])
    versions = drawing_versions()
    jobs = {suite: chart_jobs(history, project_url, options.window) for suite, history in histories.items()}
    built = {suite: _Built(history, [job_key(job, versions) for job in jobs[suite]])
             for suite, history in histories.items()}
    base = {"site_title": options.title, "data_until": until, "inline_css": None}
    summary: dict[str, Any] = {}

    def write(folder: Path, drawing: Drawing) -> None:
        for suite, done in built.items():  # while the charts are drawn
            done.status, done.status_key = _status(read[suite], ref, cache)
            write_data_files(done.history, folder / data_file(suite, "json"), folder / data_file(suite, "csv"))
        outputs, summary["drawn"] = drawing.results()
        drawn = iter(outputs)
        for suite, done in built.items():
            done.outputs = [next(drawn) for _ in jobs[suite]]
        parts = {suite: kept[suite] if suite in kept else _parts(built[suite], ref, project_url, options.window)
                 for suite in facts}
        for suite in facts:
            paths = _files(folder, suite)
            if suite in kept:
                place_parts(cache, keys[suite], kept[suite], paths, until)
                continue
            offsets = _write_pages(folder, built[suite], options, base, project_url, until)
            store_parts(cache, keys[suite], replace(parts[suite], until=until, offsets=offsets,
                                                    sizes=tuple(path.stat().st_size for path in paths)), paths)
        changes = [row for suite in facts for row in parts[suite].changes]
        changes.sort(key=lambda r: (instant(r["sort"][0]), r["suite"], *r["sort"][1:]), reverse=True)
        _write(folder, "style.css", stylesheet())
        _write(folder, "index.html", render("index.html", {
            **base, "root": "", "nav": "index", "page_title": "Suites", "ref": ref, "changes": len(changes),
            "suites": [_row_from_json(parts[suite].index_row) if suite in kept else parts[suite].index_row
                       for suite in facts]}))
        _write(folder, "regressions.html", render("regressions.html", {
            **base, "root": "", "nav": "regressions", "page_title": "Change points", "rows": changes}))
        summary.update(charts=sum(p.charts for p in parts.values()), changes=len(changes))

    with start_drawing([job for suite in built for job in jobs[suite]], cache, options.progress,
                       [key for suite in built for key in built[suite].keys]) as drawing:
        publish(options.out, lambda folder: write(folder, drawing))
    cache.prune()
    return SiteSummary(options.out / "index.html", len(facts), sum(f.records for f in facts.values()),
                       summary["charts"], summary["drawn"], summary["changes"])
