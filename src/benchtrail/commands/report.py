"""``benchtrail report``: the static site of the results branch, or a merge request's page.

Hands the results branch (fetched first, as ``history`` does) to ``report.site``, which
reads the records of the suites it has to build; with ``comparison`` set, reads only that comparison
document and writes the merge request's page.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.branch import DEFAULT_BRANCH

__all__ = ["CHART_CACHE", "ReportOptions", "ReportOutcome", "report"]

#: the chart cache's folder, beside ``--out`` (never inside it: Pages would publish it)
CHART_CACHE = ".benchtrail-report-cache"


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    out: Path = Path("public")
    repo: Path = Path(".")
    remote: str = "origin"
    branch: str = DEFAULT_BRANCH
    title: str = "Benchmarks"
    #: the project's GitLab address, for links to commits and pipelines
    project_url: str | None = None
    #: the branch whose status the index shows (default: the newest record's)
    default_branch: str | None = None
    #: the bare repository that keeps fetched records between runs
    cache: Path | None = None
    fetch: bool = True
    #: where drawn charts and built suites are kept (default: ``CHART_CACHE`` beside ``out``)
    chart_cache: Path | None = None
    #: a comparison document: write its merge request page instead of the site
    comparison: Path | None = None


@dataclass(frozen=True)
class ReportOutcome:
    index: Path
    #: lines for stderr: what was written
    notices: tuple[str, ...]


def report(options: ReportOptions, ci: CiContext | None = None) -> ReportOutcome:
    """Write the site (or, with ``options.comparison``, the merge request page) to ``options.out``."""
    from benchtrail.console import progress

    if options.comparison is not None:
        from benchtrail.compare.document import load_comparison
        from benchtrail.report.mrpage import write_mr_page

        comparison = load_comparison(options.comparison)
        index = write_mr_page(comparison, options.out, title=options.title, project_url=options.project_url,
                              progress=progress)
        return ReportOutcome(index, (f"Wrote {index}: {len(comparison.rows)} results of {options.comparison}",))

    from benchtrail.report.site import SiteOptions, write_site
    from benchtrail.report.sources import BranchRecords
    from benchtrail.results.gitrepo import remote_access
    from benchtrail.results.history import open_branch

    ci = ci if ci is not None else read_ci()
    # Every record read (100,000 results: millions of objects) lives until the site is
    # written: the cyclic GC would walk them all again and again and find nothing to free
    # (a full collection costs a third of a second), so it waits until they are gone.
    collecting = gc.isenabled()
    gc.disable()
    try:
        view = open_branch(options.repo, remote=options.remote, branch=options.branch, cache=options.cache,
                           fetch=options.fetch, access=remote_access(options.remote, ci.push_url(), ci.secrets))
        chart_cache = options.chart_cache or options.out.absolute().parent / CHART_CACHE
        summary = write_site(BranchRecords(view), SiteOptions(
            out=options.out, title=options.title, project_url=options.project_url,
            default_ref=options.default_branch, chart_cache=chart_cache, progress=progress))
    finally:
        if collecting:
            gc.enable()
    return ReportOutcome(summary.index, (
        f"Wrote {summary.index}: {summary.suites} suites, {summary.records} records, {summary.charts} charts "
        f"({summary.drawn} drawn, {summary.charts - summary.drawn} unchanged), "
        f"{summary.change_points} change points",))
