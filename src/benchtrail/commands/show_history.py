"""``benchtrail history``: every benchmark × metric of the results branch, or where each stepped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.branch import DEFAULT_BRANCH

__all__ = ["HistoryOptions", "HistoryOutput", "history"]


@dataclass(frozen=True, kw_only=True)
class HistoryOptions:
    repo: Path = Path(".")
    remote: str = "origin"
    branch: str = DEFAULT_BRANCH
    suite: str | None = None
    benchmark: str | None = None
    metric: str | None = None
    ref: str | None = None
    environment: str | None = None
    #: ``table``, ``json`` or ``csv``
    fmt: str = "table"
    cache: Path | None = None
    fetch: bool = True
    change_points: bool = False


@dataclass(frozen=True)
class HistoryOutput:
    text: str
    #: lines for stderr: the series that cannot have change points, and why
    notes: tuple[str, ...] = ()


def history(options: HistoryOptions, ci: CiContext | None = None) -> HistoryOutput:
    """The history (or with ``change_points`` the steps) as text in ``options.fmt``."""
    from benchtrail.results.gitrepo import remote_access
    from benchtrail.results.history import iter_records
    from benchtrail.results.series import series
    from benchtrail.results.tabular import format_points

    ci = ci if ci is not None else read_ci()
    stored = iter_records(options.repo, remote=options.remote, branch=options.branch, suite=options.suite,
                          cache=options.cache, fetch=options.fetch,
                          access=remote_access(options.remote, ci.push_url(), ci.secrets))
    points = series((s.record for s in stored), suite=options.suite, benchmark=options.benchmark,
                    metric=options.metric, ref=options.ref, environment=options.environment)
    if not options.change_points:
        return HistoryOutput(format_points(points, options.fmt))
    from benchtrail.compare.steps import find_steps, format_steps

    steps, notes = find_steps(points)
    return HistoryOutput(format_steps(steps, options.fmt), tuple(notes))
